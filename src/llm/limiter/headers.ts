import {parseGoDuration} from './duration.js';

/**
 * Response headers as the limiter accepts them: a Web `Headers` (what openai-node v5+ gives on
 * responses and on `APIError.headers`) or a plain record such as Node's `IncomingHttpHeaders`.
 */
export type HeaderSource =
  | {get(name: string): string | null}
  | Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * What one response said about the endpoint's limits. Every field is optional: Azure and
 * OpenAI-compatible servers send some, all or none of OpenAI's six headers, and a field that is
 * missing or unreadable is simply not there.
 */
export interface RateLimitObservation {
  readonly limitRequests?: number;
  readonly remainingRequests?: number;
  /** Milliseconds until the request window is back to its initial state. */
  readonly resetRequestsMs?: number;
  readonly limitTokens?: number;
  readonly remainingTokens?: number;
  /** Milliseconds until the token window is back to its initial state. */
  readonly resetTokensMs?: number;
}

/** One header's value, case-insensitively; the first one when a record holds several. */
export function headerValue(headers: HeaderSource, name: string): string | undefined {
  const lower = name.toLowerCase();
  if (typeof (headers as {get?: unknown}).get === 'function') {
    return (headers as {get(name: string): string | null}).get(lower) ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  let v = record[lower];
  if (v === undefined) {
    for (const key of Object.keys(record)) {
      if (key.toLowerCase() === lower) {
        v = record[key];
        break;
      }
    }
  }
  return typeof v === 'string' ? v : v?.[0];
}

function count(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const n = Number(text);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

function duration(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const parsed = parseGoDuration(text);
  return parsed.ok ? Math.max(0, parsed.value) : undefined;
}

/**
 * Reads OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` headers. Returns
 * undefined when none of them is readable, so a server without them costs nothing.
 */
export function readRateLimitHeaders(headers: HeaderSource): RateLimitObservation | undefined {
  const fields: Record<string, number | undefined> = {
    limitRequests: count(headerValue(headers, 'x-ratelimit-limit-requests')),
    remainingRequests: count(headerValue(headers, 'x-ratelimit-remaining-requests')),
    resetRequestsMs: duration(headerValue(headers, 'x-ratelimit-reset-requests')),
    limitTokens: count(headerValue(headers, 'x-ratelimit-limit-tokens')),
    remainingTokens: count(headerValue(headers, 'x-ratelimit-remaining-tokens')),
    resetTokensMs: duration(headerValue(headers, 'x-ratelimit-reset-tokens')),
  };
  const present = Object.entries(fields).filter((e): e is [string, number] => e[1] !== undefined);
  return present.length === 0 ? undefined : (Object.fromEntries(present) as RateLimitObservation);
}
