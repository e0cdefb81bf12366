/**
 * Deterministic randomness for the world. Every random choice is drawn from a generator seeded
 * by a hash of the request that asked for it, so the same request always gets the same answer
 * (the engine's call memo and cache stay honest) while different requests, seeds, temperatures
 * and choice indices get independent draws.
 */
import {createHash} from 'node:crypto';

/** A stream of uniform numbers in [0, 1). */
export type Rng = () => number;

/** The hex SHA-256 of a value's JSON form; callers pass plain data with a fixed key order. */
export function hashOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/**
 * A small fast generator (sfc32) seeded from `hash` and a choice index: choice `i` of a request
 * with `n` choices is the same whether the request asked for 1 or 10.
 */
export function rngFor(hash: string, index = 0): Rng {
  const seed = createHash('sha256').update(`${hash}:${index}`).digest();
  let a = seed.readUInt32LE(0);
  let b = seed.readUInt32LE(4);
  let c = seed.readUInt32LE(8);
  let d = seed.readUInt32LE(12);
  const next: Rng = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const out = (t + d) | 0;
    c = (c + out) | 0;
    return (out >>> 0) / 4294967296;
  };
  // The first outputs of sfc32 are poorly mixed; skip them.
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** One element of a non-empty list, uniformly. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new Error('Internal error: pick from an empty list');
  return items[Math.min(items.length - 1, Math.floor(rng() * items.length))]!;
}

/**
 * Samples an index from a softmax over `logits` at `temperature`. Temperature 0 (greedy) takes
 * the largest logit, breaking exact ties with the generator so that a flat policy does not
 * always ask about the same thing.
 */
export function sampleSoftmax(rng: Rng, logits: readonly number[], temperature: number): number {
  if (logits.length === 0) throw new Error('Internal error: sample from no logits');
  if (!(temperature > 1e-6)) {
    const best = Math.max(...logits);
    const ties = logits.flatMap((l, i) => (l === best ? [i] : []));
    return pick(rng, ties);
  }
  const probs = softmax(logits, temperature);
  let u = rng();
  for (let i = 0; i < probs.length; i++) {
    u -= probs[i]!;
    if (u < 0) return i;
  }
  return probs.length - 1;
}

/** Softmax at a temperature, computed stably. */
export function softmax(logits: readonly number[], temperature = 1): number[] {
  const scaled = logits.map((l) => l / temperature);
  const max = Math.max(...scaled);
  const exps = scaled.map((s) => Math.exp(s - max));
  const total = exps.reduce((s, e) => s + e, 0);
  return exps.map((e) => e / total);
}
