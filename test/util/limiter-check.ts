/**
 * Checks for the limiter's guarantee, computed from a list of starts without trusting any of the
 * limiter's own arithmetic: the most requests and tokens that fell in any window.
 */
import {book, earliestStart, emptyState, prune, type WindowPolicy, type WindowState} from '../../src/llm/limiter/index.js';

export interface Start {
  readonly at: number;
  readonly tokens: number;
}

/**
 * The largest number of starts, and the largest token sum, within any half-open window
 * `(t - spanMs, t]`, the way the test server counts. Starts must be sorted by time.
 */
export function maxInWindow(starts: readonly Start[], spanMs: number): {requests: number; tokens: number} {
  let first = 0;
  let requests = 0;
  let tokens = 0;
  let maxRequests = 0;
  let maxTokens = 0;
  for (const s of starts) {
    requests++;
    tokens += s.tokens;
    while (starts[first]!.at <= s.at - spanMs) {
      requests--;
      tokens -= starts[first]!.tokens;
      first++;
    }
    maxRequests = Math.max(maxRequests, requests);
    maxTokens = Math.max(maxTokens, tokens);
  }
  return {requests: maxRequests, tokens: maxTokens};
}

/**
 * Runs a backlog through the pure functions as one always-busy caller would: each call starts
 * at the time the state gives it, and the caller is back at once. Returns the starts with the
 * tokens booked for each.
 */
export function simulateBacklog(policy: WindowPolicy, costs: readonly number[], t0 = 1_000_000, initial?: WindowState): Start[] {
  let state = initial ?? emptyState(policy);
  let now = t0;
  const starts: Start[] = [];
  for (const tokens of costs) {
    state = prune(state, now, policy);
    const at = earliestStart(state, tokens, now, policy);
    const booked = book(state, at, tokens, policy);
    state = booked.state;
    now = at;
    // What was booked: a call above the token limit is booked at the limit (the server refuses it anyway).
    starts.push({at, tokens: booked.ticket.tokens});
  }
  return starts;
}

/**
 * Sustained rate as a fraction of the limits, leaving out the first start (a rate needs an
 * interval): requests and tokens per window divided by rpm and tpm.
 */
export function sustainedFraction(starts: readonly Start[], policy: Pick<WindowPolicy, 'windowMs' | 'rpm' | 'tpm'>): {requests: number; tokens: number} {
  const first = starts[0];
  const last = starts[starts.length - 1];
  if (!first || !last || last.at === first.at) return {requests: 0, tokens: 0};
  const windows = (last.at - first.at) / policy.windowMs;
  let tokens = 0;
  for (const s of starts.slice(1)) tokens += s.tokens;
  return {requests: (starts.length - 1) / windows / policy.rpm, tokens: tokens / windows / policy.tpm};
}

/** A deterministic stream of numbers in [0, 1) (LCG), so "random" tests repeat exactly. */
export function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1_664_525) + 1_013_904_223) >>> 0;
    return x / 2 ** 32;
  };
}
