import {tmpdir, userInfo} from 'node:os';
import {join} from 'node:path';
import type {LockOptions} from './lock.js';
import type {WindowPolicy} from './window.js';

/** Time and timers, injectable so tests can drive the limiter with a manual clock. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface LimiterOptions {
  /** The endpoint identity, e.g. "openai:gpt-4-0613": provider and model, never a URL or key. */
  readonly id: string;
  /** Requests per window; undefined = none configured (headers the endpoint sends still apply). */
  readonly rpm?: number | undefined;
  /** Tokens per window; undefined = none configured. */
  readonly tpm?: number | undefined;
  /** The endpoint's window; default 60 000 ms, as "per minute" says. Short in tests. */
  readonly windowMs?: number | undefined;
  /** How much longer than the window a start keeps counting, for latency jitter; default min(500, window/20). */
  readonly marginMs?: number | undefined;
  /** Starts this close together share one state entry; default window/100. */
  readonly bucketMs?: number | undefined;
  /**
   * Fraction of a limit that may start back to back before starts are paced; default 1/60, since
   * OpenAI says a per-minute limit may be enforced per second. More lets short batches finish
   * sooner but is fragile: a burst's requests reach the server spread over time, and a spread
   * beyond `marginMs` (which grows with the machine's load) means 429s. 1 turns pacing off.
   */
  readonly burst?: number | undefined;
  /**
   * Give back the unused part of an estimate when a call reports its usage. Off by default:
   * OpenAI counts a request at admission as its prompt plus max_tokens and says nothing of
   * refunds, so handing the difference back would let the next calls run into 429s. Turn it on
   * for a server that meters what was really used.
   */
  readonly refundUnused?: boolean | undefined;
  /** Where the per-endpoint state files live; default defaultLimitsDir(). */
  readonly dir?: string | undefined;
  readonly lock?: Partial<LockOptions> | undefined;
  readonly clock?: Clock | undefined;
}

/** `${XDG_RUNTIME_DIR:-/tmp}/stage-<uid>/limits`: per user, and cleared at boot where XDG is set up. */
export function defaultLimitsDir(env: NodeJS.ProcessEnv = process.env): string {
  const runtime = env['XDG_RUNTIME_DIR'] || tmpdir();
  const uid = typeof process.getuid === 'function' ? String(process.getuid()) : userInfo().username;
  return join(runtime, `stage-${uid}`, 'limits');
}

function limit(name: string, v: number | undefined): number {
  if (v === undefined || v === Infinity) return Infinity;
  if (!Number.isFinite(v) || v < 1) throw new RangeError(`${name} must be a number >= 1 (got ${v})`);
  return v;
}

/** The policy an options object describes, with defaults filled in and values checked. */
export function policyFor(o: LimiterOptions): WindowPolicy {
  const windowMs = o.windowMs ?? 60_000;
  if (!Number.isFinite(windowMs) || windowMs <= 0) throw new RangeError(`windowMs must be a positive number (got ${windowMs})`);
  const marginMs = o.marginMs ?? Math.min(500, windowMs / 20);
  if (!Number.isFinite(marginMs) || marginMs < 0) throw new RangeError(`marginMs must be >= 0 (got ${marginMs})`);
  const bucketMs = o.bucketMs ?? windowMs / 100;
  if (!Number.isFinite(bucketMs) || bucketMs <= 0) throw new RangeError(`bucketMs must be a positive number (got ${bucketMs})`);
  const burst = o.burst ?? 1 / 60;
  if (!(burst > 0 && burst <= 1)) throw new RangeError(`burst must be in (0, 1] (got ${burst})`);
  return {rpm: limit('rpm', o.rpm), tpm: limit('tpm', o.tpm), windowMs, marginMs, bucketMs, burst};
}
