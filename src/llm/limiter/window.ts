/**
 * The limiter's arithmetic, as pure functions of a small state value and a clock reading, so the
 * rules can be table-tested without files, processes or waiting.
 *
 * The endpoint enforces a sliding window: in any `windowMs`, at most `rpm` requests and `tpm`
 * tokens. A token bucket whose capacity is the limit would let through up to twice that in the
 * first window, so the guarantee here comes from a log of starts instead:
 *  - a call may start at `s` only if the starts counted in `(s - windowMs - marginMs, s]`, plus
 *    this one, fit both limits. The margin covers the time between our start and the server
 *    seeing the request, which varies from call to call;
 *  - starts are booked in non-decreasing time order (never before the latest entry), so checking
 *    the window that ends at the new start is enough: no window can hold anything later;
 *  - to keep the state small whatever the limits, starts in the same `bucketMs` slice are merged
 *    into one entry stamped with the *latest* of their times. Merging only ever makes an entry
 *    count for longer, never shorter, so it cannot let the limit be exceeded; it costs at most
 *    one bucket of throughput per window.
 * On top of that, starts are paced (a GCRA per limit) so the budget is spread over the window
 * instead of spent in a burst at its start: OpenAI documents that it may enforce a per-minute
 * limit in shorter slices, so a full minute's worth at once can be refused even when the minute
 * is under its limit. Pacing only ever delays; the window check alone keeps the guarantee.
 *
 * In steady state the rate is `limit / (windowMs + marginMs + bucketMs)` per ms at worst, which is
 * over 97% of the limit with the defaults.
 */
import type {RateLimitObservation} from './headers.js';

/** Starts merged into one record: `[latest start time (ms), requests, tokens]`. */
export type Entry = readonly [at: number, requests: number, tokens: number];

/** Everything the processes sharing one endpoint agree on; stored as JSON in one small file. */
export interface WindowState {
  readonly version: 1;
  /** Width of the slices that starts are merged in. */
  readonly bucketMs: number;
  /** Bumped when `bucketMs` changes, so a refund aimed at an entry of the old slicing is dropped. */
  readonly epoch: number;
  /** Entries older than this are no longer needed by any user of the file (window + margin). */
  readonly horizonMs: number;
  /**
   * Ordered by `at`. Entries in the future are starts booked by waiting callers; no new start is
   * booked before the last entry, which is what makes the order first come, first served.
   */
  readonly entries: readonly Entry[];
  /** No call starts before this (set after a 429 with retry-after). */
  readonly pausedUntil: number;
  /** Theoretical arrival time of the request pacer (GCRA). */
  readonly paceRequests: number;
  /** Theoretical arrival time of the token pacer (GCRA). */
  readonly paceTokens: number;
  /** The limits the endpoint announced in `x-ratelimit-limit-*`; null until seen. */
  readonly observedRpm: number | null;
  readonly observedTpm: number | null;
}

/** One process's view of the endpoint's limits. Infinity means "no limit". */
export interface WindowPolicy {
  readonly rpm: number;
  readonly tpm: number;
  readonly windowMs: number;
  /** Extra time a start keeps counting, to cover request latency jitter. */
  readonly marginMs: number;
  readonly bucketMs: number;
  /** Fraction of a limit that may start back to back before pacing spreads starts out; (0, 1]. */
  readonly burst: number;
}

/** Where a booked start was recorded, so it can be cancelled or refunded later. */
export interface Ticket {
  readonly at: number;
  /** Tokens recorded for it (the estimate, capped at the token limit). */
  readonly tokens: number;
  readonly bucket: number;
  readonly epoch: number;
}

export function emptyState(policy: WindowPolicy): WindowState {
  return {
    version: 1,
    bucketMs: policy.bucketMs,
    epoch: 0,
    horizonMs: policy.windowMs + policy.marginMs,
    entries: [],
    pausedUntil: 0,
    paceRequests: 0,
    paceTokens: 0,
    observedRpm: null,
    observedTpm: null,
  };
}

/** The configured limits, tightened by what the endpoint announced. */
export function effectiveLimits(state: WindowState, policy: WindowPolicy): {rpm: number; tpm: number} {
  return {rpm: Math.min(policy.rpm, state.observedRpm ?? Infinity), tpm: Math.min(policy.tpm, state.observedTpm ?? Infinity)};
}

/** The tokens a call is booked for: a call larger than the whole limit waits for an empty window. */
export function bookedTokens(tokens: number, tpm: number): number {
  const t = Number.isFinite(tokens) && tokens > 0 ? tokens : 0;
  return Math.min(t, tpm);
}

/** Pacing parameters: ms between starts (per request, per token) and how far ahead one may run. */
export function pacing(rpm: number, tpm: number, policy: WindowPolicy): {requestMs: number; requestSlackMs: number; tokenMs: number; tokenSlackMs: number} {
  const requestMs = Number.isFinite(rpm) ? policy.windowMs / rpm : 0;
  const tokenMs = Number.isFinite(tpm) ? policy.windowMs / tpm : 0;
  return {
    requestMs,
    requestSlackMs: Math.max(0, Math.floor(rpm * policy.burst) - 1) * requestMs,
    tokenMs,
    tokenSlackMs: Math.max(1, tpm * policy.burst) * tokenMs,
  };
}

/**
 * Drops entries that can no longer count (older than the longest window any user of the file
 * has) and adopts this process's bucket width.
 */
export function prune(state: WindowState, now: number, policy: WindowPolicy): WindowState {
  const own = policy.windowMs + policy.marginMs;
  const geometry = state.bucketMs === policy.bucketMs ? {} : {bucketMs: policy.bucketMs, epoch: state.epoch + 1};
  const horizonMs = state.entries.length === 0 ? own : Math.max(own, state.horizonMs);
  const cutoff = now - horizonMs;
  let i = 0;
  while (i < state.entries.length && state.entries[i]![0] <= cutoff) i++;
  if (i === 0 && horizonMs === state.horizonMs && !('bucketMs' in geometry)) return state;
  return {...state, ...geometry, horizonMs, entries: i === 0 ? state.entries : state.entries.slice(i)};
}

/** Requests and tokens of the entries stamped in `(from, to]`. */
export function usageBetween(entries: readonly Entry[], from: number, to: number): {requests: number; tokens: number} {
  let requests = 0;
  let tokens = 0;
  for (const [at, n, t] of entries) {
    if (at > from && at <= to) {
      requests += n;
      tokens += t;
    }
  }
  return {requests, tokens};
}

/**
 * The earliest time at or after `s` at which one more start costing `cost` tokens fits the window
 * ending there: walk the counted entries from the oldest, letting each expire, until it fits.
 */
export function windowFit(entries: readonly Entry[], s: number, cost: number, rpm: number, tpm: number, spanMs: number): number {
  if (rpm === Infinity && tpm === Infinity) return s;
  let i = 0;
  while (i < entries.length && entries[i]![0] <= s - spanMs) i++;
  let requests = 0;
  let tokens = 0;
  for (let j = i; j < entries.length; j++) {
    requests += entries[j]![1];
    tokens += entries[j]![2];
  }
  let start = s;
  while (i < entries.length && (requests + 1 > rpm || tokens + cost > tpm)) {
    const [at, n, t] = entries[i]!;
    requests -= n;
    tokens -= t;
    start = Math.max(start, at + spanMs);
    i++;
  }
  return start;
}

/**
 * When a call estimated at `tokens` may start, given the state at `now`: not before `now`, the
 * latest booking, a pause or the pacers, and not until the window ending at the start has room.
 * Every one of these constraints only gets easier with time, so the latest of them is the answer.
 */
export function earliestStart(state: WindowState, tokens: number, now: number, policy: WindowPolicy): number {
  const {rpm, tpm} = effectiveLimits(state, policy);
  const cost = bookedTokens(tokens, tpm);
  const pace = pacing(rpm, tpm, policy);
  let s = Math.max(now, lastStart(state), state.pausedUntil);
  if (pace.requestMs > 0) s = Math.max(s, state.paceRequests - pace.requestSlackMs);
  if (pace.tokenMs > 0 && cost > 0) s = Math.max(s, state.paceTokens - pace.tokenSlackMs);
  return Math.ceil(windowFit(state.entries, s, cost, rpm, tpm, policy.windowMs + policy.marginMs));
}

/** How long a call estimated at `tokens` has to wait from `now`. */
export function waitMs(state: WindowState, tokens: number, now: number, policy: WindowPolicy): number {
  return earliestStart(state, tokens, now, policy) - now;
}

/** Adds requests/tokens at time `at`, merging into the entry of the same bucket if there is one. */
export function addAt(entries: readonly Entry[], at: number, requests: number, tokens: number, bucketMs: number): Entry[] {
  const out = entries.slice();
  const bucket = Math.floor(at / bucketMs);
  let i = out.length;
  while (i > 0 && out[i - 1]![0] > at && Math.floor(out[i - 1]![0] / bucketMs) !== bucket) i--;
  const prev = out[i - 1];
  if (prev && Math.floor(prev[0] / bucketMs) === bucket) {
    out[i - 1] = [Math.max(prev[0], at), prev[1] + requests, prev[2] + tokens];
  } else {
    out.splice(i, 0, [at, requests, tokens]);
  }
  return out;
}

/** The time of the latest entry: no start may be booked before it. */
export function lastStart(state: WindowState): number {
  return state.entries.at(-1)?.[0] ?? -Infinity;
}

/**
 * Books a start at `at` (which must come from earliestStart, so it is not before lastStart):
 * records it in the window and advances the pacers.
 */
export function book(state: WindowState, at: number, tokens: number, policy: WindowPolicy): {state: WindowState; ticket: Ticket} {
  const {rpm, tpm} = effectiveLimits(state, policy);
  const cost = bookedTokens(tokens, tpm);
  const pace = pacing(rpm, tpm, policy);
  return {
    state: {
      ...state,
      entries: addAt(state.entries, at, 1, cost, state.bucketMs),
      paceRequests: pace.requestMs > 0 ? Math.max(state.paceRequests, at) + pace.requestMs : state.paceRequests,
      paceTokens: pace.tokenMs > 0 ? Math.max(state.paceTokens, at) + cost * pace.tokenMs : state.paceTokens,
    },
    ticket: {at, tokens: cost, bucket: Math.floor(at / state.bucketMs), epoch: state.epoch},
  };
}

/**
 * Takes requests/tokens back from a booked start (a cancelled wait, or unused tokens refunded).
 * Only ever lowers counts; when the entry is gone or was sliced differently it does nothing,
 * which is the safe direction.
 */
export function withdraw(state: WindowState, ticket: Ticket, requests: number, tokens: number): WindowState {
  if (ticket.epoch !== state.epoch) return state;
  const entries = state.entries;
  for (let i = entries.length - 1; i >= 0; i--) {
    const [at, n, t] = entries[i]!;
    const bucket = Math.floor(at / state.bucketMs);
    if (bucket < ticket.bucket) break;
    if (bucket !== ticket.bucket) continue;
    const next: Entry = [at, Math.max(0, n - requests), Math.max(0, t - tokens)];
    const out = entries.slice();
    if (next[1] === 0 && next[2] === 0) out.splice(i, 1);
    else out[i] = next;
    return {...state, entries: out};
  }
  return state;
}

/**
 * Gives back a booked start whose caller stopped waiting. When it was the latest booking, the
 * pacers are wound back too, so the next caller may take its place instead of queueing behind a
 * start that will never happen.
 */
export function cancel(state: WindowState, ticket: Ticket, policy: WindowPolicy): WindowState {
  const out = withdraw(state, ticket, 1, ticket.tokens);
  if (out === state || lastStart(out) > ticket.at) return out;
  const {rpm, tpm} = effectiveLimits(out, policy);
  const pace = pacing(rpm, tpm, policy);
  return {
    ...out,
    paceRequests: Math.max(ticket.at, out.paceRequests - pace.requestMs),
    paceTokens: Math.max(ticket.at, out.paceTokens - ticket.tokens * pace.tokenMs),
  };
}

/**
 * Charges tokens a call used beyond its estimate. They go at the end of the schedule (now, or the
 * latest booking if later), so they delay the next booking rather than one already made.
 */
export function chargeExtra(state: WindowState, tokens: number, now: number, policy: WindowPolicy): WindowState {
  if (!(tokens > 0)) return state;
  const at = Math.max(now, lastStart(state));
  const {rpm, tpm} = effectiveLimits(state, policy);
  const pace = pacing(rpm, tpm, policy);
  return {
    ...state,
    entries: addAt(state.entries, at, 0, tokens, state.bucketMs),
    paceTokens: state.paceTokens + tokens * pace.tokenMs,
  };
}

/** No start before `until` (a 429's retry-after); a shorter pause never cuts a longer one. */
export function pauseUntil(state: WindowState, until: number): WindowState {
  return until > state.pausedUntil ? {...state, pausedUntil: until} : state;
}

/**
 * Folds in what a response's headers said. Announced limits replace earlier announcements (a
 * tier can go up as well as down) and tighten the configured ones. When the endpoint reports
 * more use than this machine's log explains, someone else is spending the same limit: the
 * difference is recorded as usage that stays counted until the endpoint's reset time, so the
 * limiter backs off instead of running into 429s. Our own calls that have started but not yet
 * reached the server make our count higher than the server's, which only makes this estimate of
 * outside use smaller: it can under-tighten, never over-tighten because of our own traffic.
 */
export function applyObservation(state: WindowState, obs: RateLimitObservation, now: number, policy: WindowPolicy): WindowState {
  let s = state;
  if (obs.limitRequests !== undefined && obs.limitRequests >= 1) s = {...s, observedRpm: obs.limitRequests};
  if (obs.limitTokens !== undefined && obs.limitTokens >= 1) s = {...s, observedTpm: obs.limitTokens};
  const {rpm, tpm} = effectiveLimits(s, policy);
  const span = policy.windowMs + policy.marginMs;
  const ours = usageBetween(s.entries, now - span, now);
  const outside = (limit: number, remaining: number | undefined, mine: number): number =>
    remaining === undefined || !Number.isFinite(limit) ? 0 : Math.max(0, limit - remaining - mine);
  const extraRequests = outside(obs.limitRequests ?? rpm, obs.remainingRequests, ours.requests);
  const extraTokens = outside(obs.limitTokens ?? tpm, obs.remainingTokens, ours.tokens);
  // Stamped so that the entry stops counting when the endpoint says its window is clear again.
  const stamp = (resetMs: number | undefined): number => Math.min(now, Math.max(now - span + 1, now + (resetMs ?? span) - span));
  if (extraRequests > 0) s = {...s, entries: addAt(s.entries, stamp(obs.resetRequestsMs), extraRequests, 0, s.bucketMs)};
  if (extraTokens > 0) s = {...s, entries: addAt(s.entries, stamp(obs.resetTokensMs), 0, extraTokens, s.bucketMs)};
  return s;
}
