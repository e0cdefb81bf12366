/**
 * The failure taxonomy of a model call, as a pure function of what came back, so the policy is
 * table-tested without a network:
 *   retry  — worth trying again (rate limits, 5xx, timeouts, resets, a malformed body);
 *   item   — final for this item (content filter, refusal, context too long): the item is
 *            recorded as failed with its reason, and the target decides whether it may finish;
 *   fatal  — final for the build (bad key, no permission, no quota, unknown model): every
 *            further call would fail the same way, so stop before spending more time.
 */
export type Verdict =
  | {kind: 'retry'; why: string; waitMs?: number}
  | {kind: 'item'; reason: 'content-filter' | 'refusal' | 'context-length' | 'rejected'; message: string}
  | {kind: 'fatal'; message: string};

/** What an error thrown by the openai client looks like to the classifier. */
export interface ErrorShape {
  readonly name?: string;
  readonly status?: number;
  readonly code?: string | null;
  readonly message?: string;
  readonly headers?: {get(name: string): string | null} | undefined;
}

export function classifyError(e: ErrorShape): Verdict {
  const message = e.message ?? String(e);
  // The SDK's error classes leave `name` as "Error"; their constructor names tell them apart.
  const name = e.name === 'Error' || e.name === undefined ? (e as {constructor?: {name?: string}}).constructor?.name : e.name;
  if (name === 'SyntaxError') return {kind: 'retry', why: 'malformed response body'};
  if (e.status === undefined) {
    // No HTTP status: connection refused/reset, timeout, aborted socket.
    return {kind: 'retry', why: name === 'APIConnectionTimeoutError' ? 'timeout' : 'connection error'};
  }
  const code = e.code ?? '';
  switch (true) {
    case e.status === 429 && code === 'insufficient_quota':
      return {kind: 'fatal', message: 'the account has no quota left (insufficient_quota): add credit or use another key'};
    case e.status === 429: {
      const waitMs = retryAfterMs(e.headers);
      return waitMs === undefined ? {kind: 'retry', why: 'rate limited (429)'} : {kind: 'retry', why: 'rate limited (429)', waitMs};
    }
    case e.status === 401:
      return {kind: 'fatal', message: `the endpoint rejected the API key (401): ${message}`};
    case e.status === 403:
      return {kind: 'fatal', message: `the key has no permission for this model (403): ${message}`};
    case e.status === 404:
      return {kind: 'fatal', message: `model or endpoint not found (404): ${message}`};
    case e.status === 400 && code === 'content_filter':
      return {kind: 'item', reason: 'content-filter', message};
    case e.status === 400 && (code === 'context_length_exceeded' || /maximum context length/i.test(message)):
      return {kind: 'item', reason: 'context-length', message};
    case e.status === 400 || e.status === 422:
      return {kind: 'item', reason: 'rejected', message};
    case e.status === 408 || e.status === 409 || e.status >= 500:
      return {kind: 'retry', why: `server error (${e.status})`};
    default:
      return {kind: 'fatal', message: `unexpected HTTP ${e.status}: ${message}`};
  }
}

/** Checks a 200 answer: a refusal or a filtered completion is final for the item. */
export function classifyAnswer(choices: readonly {message?: {content?: string | null; refusal?: string | null} | undefined; finish_reason?: string | null}[] | undefined): Verdict | undefined {
  if (!choices || choices.length === 0) return {kind: 'retry', why: 'response had no choices'};
  for (const c of choices) {
    if (c.message?.refusal) return {kind: 'item', reason: 'refusal', message: c.message.refusal};
    if (c.finish_reason === 'content_filter') return {kind: 'item', reason: 'content-filter', message: 'the completion was filtered'};
    if (typeof c.message?.content !== 'string') return {kind: 'retry', why: 'response had no content'};
  }
  return undefined;
}

/** `retry-after-ms`, else `retry-after` in seconds (or an HTTP date). */
export function retryAfterMs(headers: ErrorShape['headers'], now = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const s = headers?.get('retry-after');
  if (!s) return undefined;
  if (Number.isFinite(Number(s))) return Math.max(0, Number(s) * 1000);
  const date = Date.parse(s);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with full jitter, capped; `random` is injectable for tests. */
export function backoffMs(attempt: number, random: () => number = Math.random, baseMs = 500, capMs = 60_000): number {
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** attempt));
}
