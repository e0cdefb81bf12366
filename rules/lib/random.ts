/**
 * Seeded randomness for every choice the pipeline makes (few-shot draws, stopping rounds, which
 * conversation is judged, A/B positions, the SFT split), so a rebuild makes the same choices and
 * every model is evaluated on the same draws.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed from text (FNV-1a), for per-key draws. */
export function seedOf(...parts: readonly (string | number)[]): number {
  let h = 0x811c9dc5;
  for (const ch of parts.join('\u0000')) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** `k` distinct items drawn without replacement. */
export function sample<T>(xs: readonly T[], k: number, rand: () => number): T[] {
  const pool = [...xs];
  const out: T[] = [];
  while (out.length < k && pool.length > 0) out.push(pool.splice(Math.floor(rand() * pool.length), 1)[0]!);
  return out;
}

/**
 * How many question rounds a key's conversations get: 1, 2 or 3 with equal odds, drawn from the
 * key alone, so every questioner model gets the same lengths for the same key (the original drew
 * this sequentially and relied on key order to keep it aligned).
 */
export function roundsFor(key: string, seed: number, maxRounds: number): number {
  return 1 + Math.floor(prng(seedOf('rounds', seed, key))() * maxRounds);
}
