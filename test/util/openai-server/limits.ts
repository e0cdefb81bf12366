/**
 * Requests-per-window and tokens-per-window limits, enforced exactly over a sliding window.
 *
 * OpenAI itself uses (quantised) token buckets, but a test wants a crisp property: "no more
 * than `rpm` requests were admitted in any window of `windowMs`". A log of admissions gives
 * exactly that, and the same log gives honest `retry-after` values. The window length is
 * configurable so tests can use a short one, and the clock is injectable so they need not
 * wait for it at all.
 *
 * Header names and formats follow OpenAI: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`
 * with resets written as Go durations ("1s", "6m0s", "20ms").
 */

export interface RateLimitConfig {
  /** Requests admitted per window; undefined = unlimited (and no request headers are sent). */
  rpm?: number;
  /** Tokens admitted per window; undefined = unlimited (and no token headers are sent). */
  tpm?: number;
  /** Window length in ms; default 60 000, as the "per minute" in the names suggests. */
  windowMs?: number;
}

export type AdmitDecision =
  | {ok: true}
  | {ok: false; kind: 'requests' | 'tokens'; retryAfterMs: number; limit: number; used: number; requested: number};

interface Admission {
  at: number;
  tokens: number;
}

/** Formats milliseconds as Go's time.Duration.String() would (rounded to whole ms). */
export function formatGoDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const secMs = total % 60_000;
  const frac = secMs % 1000;
  const seconds = `${Math.floor(secMs / 1000)}${frac ? `.${String(frac).padStart(3, '0').replace(/0+$/, '')}` : ''}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

/** Parses "1h2m3.5s", "6m0s", "20ms", "1.5µs" back to milliseconds (NaN when malformed). */
export function parseGoDuration(text: string): number {
  const unitMs: Record<string, number> = {h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, ns: 0.000001};
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * (unitMs[m[2] ?? ''] ?? NaN);
    consumed += m[0].length;
  }
  return consumed === text.length && text.length > 0 ? total : NaN;
}

export class SlidingWindowLimiter {
  private rpm: number | undefined;
  private tpm: number | undefined;
  private windowMs = 60_000;
  private admitted: Admission[] = [];
  private arrivals: number[] = [];
  /** Largest number of requests admitted within any one window so far. */
  maxAdmittedInWindow = 0;
  /** Largest number of requests that *arrived* (admitted or not) within any one window. */
  maxArrivedInWindow = 0;
  /** Largest token total admitted within any one window so far. */
  maxTokensInWindow = 0;

  constructor(config: RateLimitConfig, private readonly now: () => number) {
    this.configure(config);
  }

  /** Changes the limits; the admission history is kept, so a tighter limit applies at once. */
  configure(config: RateLimitConfig): void {
    this.rpm = config.rpm;
    this.tpm = config.tpm;
    this.windowMs = config.windowMs ?? 60_000;
  }

  /** Forgets all history and maxima (used by the server's reset()). */
  reset(): void {
    this.admitted = [];
    this.arrivals = [];
    this.maxAdmittedInWindow = 0;
    this.maxArrivedInWindow = 0;
    this.maxTokensInWindow = 0;
  }

  private prune(now: number): void {
    const cutoff = now - this.windowMs;
    let i = 0;
    while (i < this.admitted.length && (this.admitted[i]?.at ?? Infinity) <= cutoff) i++;
    if (i > 0) this.admitted.splice(0, i);
    let j = 0;
    while (j < this.arrivals.length && (this.arrivals[j] ?? Infinity) <= cutoff) j++;
    if (j > 0) this.arrivals.splice(0, j);
  }

  private usedTokens(): number {
    let sum = 0;
    for (const a of this.admitted) sum += a.tokens;
    return sum;
  }

  /** Records an arrival costing `tokens`, and admits it if both limits allow. */
  tryAdmit(tokens: number): AdmitDecision {
    const now = this.now();
    this.prune(now);
    this.arrivals.push(now);
    this.maxArrivedInWindow = Math.max(this.maxArrivedInWindow, this.arrivals.length);

    if (this.rpm !== undefined && this.admitted.length >= this.rpm) {
      // The request fits once all but rpm-1 of the current admissions have left the window.
      const release = this.admitted[this.admitted.length - this.rpm];
      const retryAfterMs = release ? release.at + this.windowMs - now : this.windowMs;
      return {ok: false, kind: 'requests', retryAfterMs: Math.max(1, retryAfterMs), limit: this.rpm, used: this.admitted.length, requested: 1};
    }
    const used = this.usedTokens();
    if (this.tpm !== undefined && used + tokens > this.tpm) {
      let retryAfterMs = this.windowMs; // a request larger than tpm never fits; say "a window"
      if (tokens <= this.tpm) {
        let remaining = used;
        for (const a of this.admitted) {
          remaining -= a.tokens;
          if (remaining + tokens <= this.tpm) {
            retryAfterMs = a.at + this.windowMs - now;
            break;
          }
        }
      }
      return {ok: false, kind: 'tokens', retryAfterMs: Math.max(1, retryAfterMs), limit: this.tpm, used, requested: tokens};
    }

    this.admitted.push({at: now, tokens});
    this.maxAdmittedInWindow = Math.max(this.maxAdmittedInWindow, this.admitted.length);
    this.maxTokensInWindow = Math.max(this.maxTokensInWindow, used + tokens);
    return {ok: true};
  }

  /**
   * The six `x-ratelimit-*` headers for the current state. "reset" is the time until the
   * window is empty again, i.e. until the limit is back to its initial state, which is how
   * OpenAI defines it.
   */
  headers(): Record<string, string> {
    const now = this.now();
    this.prune(now);
    const out: Record<string, string> = {};
    const last = this.admitted[this.admitted.length - 1];
    const reset = formatGoDuration(last ? last.at + this.windowMs - now : 0);
    if (this.rpm !== undefined) {
      out['x-ratelimit-limit-requests'] = String(this.rpm);
      out['x-ratelimit-remaining-requests'] = String(Math.max(0, this.rpm - this.admitted.length));
      out['x-ratelimit-reset-requests'] = reset;
    }
    if (this.tpm !== undefined) {
      const used = this.usedTokens();
      out['x-ratelimit-limit-tokens'] = String(this.tpm);
      out['x-ratelimit-remaining-tokens'] = String(Math.max(0, this.tpm - used));
      out['x-ratelimit-reset-tokens'] = reset;
    }
    return out;
  }

  /** Headers for a refused request: `retry-after` in whole seconds (rounded up) and exact ms. */
  static retryHeaders(retryAfterMs: number): Record<string, string> {
    const ms = Math.ceil(retryAfterMs);
    return {'retry-after': String(Math.max(1, Math.ceil(ms / 1000))), 'retry-after-ms': String(ms)};
  }
}
