/**
 * Fault injection: the failures a model-call layer meets in production, on demand.
 *
 * A test either queues faults (each applies to the next matching request, `times` times) or
 * installs a predicate that picks a fault per request. Queued faults are consulted first, in
 * order, then the predicate. By default only the model endpoints are affected, so a test can
 * break chat calls without breaking file uploads; `routes` widens or narrows that.
 *
 * The error bodies copy what OpenAI (and Azure, for content filtering) return, because client
 * code branches on `status`, `code` and `type`.
 */
import {errorBody, maskKey, type JsonResult} from './util.js';

export type FaultKind =
  | '500'
  | '503'
  | 'timeout'
  | 'slow'
  | 'reset'
  | 'content-filter'
  | 'context-length'
  | '401'
  | 'insufficient_quota'
  | 'malformed'
  | 'refusal';

/** What the fault logic knows about a request when deciding. */
export interface FaultRequest {
  seq: number;
  method: string;
  path: string;
  /** Route key such as 'POST /v1/chat/completions' or 'GET /v1/batches/:id'. */
  route: string;
  body: unknown;
  bodyHash: string | null;
  authorization: string | null;
}

export interface FaultSpec {
  kind: FaultKind;
  /** For 'slow': how long to wait before answering normally. For other kinds: a delay first. */
  delayMs?: number;
  /** Number of requests this entry applies to (default 1; Infinity for all). */
  times?: number;
  /** Only requests for which this returns true. */
  match?: (request: FaultRequest) => boolean;
  /** Only these route keys; default: the model endpoints (chat and completions). */
  routes?: string[];
}

/**
 * A predicate returns a fault for a request, or undefined to let it through. It sees every
 * request, but its answer only applies on the returned spec's `routes` (default: model routes).
 */
export type FaultPredicate = (request: FaultRequest) => FaultKind | Omit<FaultSpec, 'times' | 'match'> | undefined;

/** Delay of a 'slow' fault that does not set `delayMs`. */
export const DEFAULT_SLOW_MS = 250;

export const MODEL_ROUTES = ['POST /v1/chat/completions', 'POST /v1/completions'];

export class FaultInjector {
  private queue: Array<FaultSpec & {remaining: number}> = [];
  private predicate: FaultPredicate | undefined;

  enqueue(...faults: Array<FaultKind | FaultSpec>): void {
    for (const f of faults) {
      const spec: FaultSpec = typeof f === 'string' ? {kind: f} : f;
      this.queue.push({...spec, remaining: spec.times ?? 1});
    }
  }

  setPredicate(predicate: FaultPredicate | undefined): void {
    this.predicate = predicate;
  }

  clear(): void {
    this.queue = [];
    this.predicate = undefined;
  }

  /** Number of queued fault applications not yet used (Infinity if any entry is unbounded). */
  get pending(): number {
    return this.queue.reduce((sum, f) => sum + f.remaining, 0);
  }

  /** Picks (and consumes) the fault for this request, if any. */
  take(request: FaultRequest): FaultSpec | undefined {
    for (const [i, f] of this.queue.entries()) {
      const routes = f.routes ?? MODEL_ROUTES;
      if (!routes.includes(request.route)) continue;
      if (f.match && !f.match(request)) continue;
      f.remaining -= 1;
      if (f.remaining <= 0) this.queue.splice(i, 1);
      return f;
    }
    if (this.predicate) {
      const chosen = this.predicate(request);
      if (chosen !== undefined) {
        const spec: FaultSpec = typeof chosen === 'string' ? {kind: chosen} : chosen;
        if ((spec.routes ?? MODEL_ROUTES).includes(request.route)) return spec;
      }
    }
    return undefined;
  }
}

/** The JSON error a fault answers with, for the kinds that answer with an HTTP error. */
export function faultResponse(kind: FaultKind, request: FaultRequest): JsonResult | undefined {
  switch (kind) {
    case '500':
      return {status: 500, body: errorBody('The server had an error while processing your request. Sorry about that!', 'server_error')};
    case '503':
      return {status: 503, body: errorBody('The engine is currently overloaded, please try again later.', 'server_error', 'overloaded')};
    case '401': {
      const key = (request.authorization ?? '').replace(/^Bearer\s+/i, '');
      return {
        status: 401,
        body: errorBody(
          `Incorrect API key provided: ${maskKey(key)}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          'invalid_request_error',
          'invalid_api_key',
        ),
      };
    }
    case 'insufficient_quota':
      return {
        status: 429,
        body: errorBody(
          'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
          'insufficient_quota',
          'insufficient_quota',
        ),
      };
    case 'content-filter':
      return {
        status: 400,
        body: {
          error: {
            message: "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.",
            type: null,
            param: 'prompt',
            code: 'content_filter',
            status: 400,
            innererror: {
              code: 'ResponsibleAIPolicyViolation',
              content_filter_result: {
                hate: {filtered: false, severity: 'safe'},
                self_harm: {filtered: false, severity: 'safe'},
                sexual: {filtered: false, severity: 'safe'},
                violence: {filtered: true, severity: 'medium'},
              },
            },
          },
        },
      };
    case 'context-length':
      return {
        status: 400,
        body: errorBody(
          "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens. Please reduce the length of the messages.",
          'invalid_request_error',
          'context_length_exceeded',
          'messages',
        ),
      };
    default:
      return undefined; // timeout, slow, reset, malformed, refusal act on the connection or the success path
  }
}
