/**
 * The public shape of the OpenAI-compatible test server: options, the server handle, and the
 * accounting records it exposes. Kept apart from the implementation so the contract tests rely
 * on can be read on its own.
 */
import type {BatchBehaviour, BatchJson, BatchRequestFailure} from './batches.js';
import type {FaultKind, FaultPredicate, FaultRequest, FaultSpec} from './faults.js';
import type {RateLimitConfig} from './limits.js';
import type {LogprobScorer, Responder} from './responders.js';

export interface OpenAIServerOptions extends RateLimitConfig {
  /** Interface to bind; default 127.0.0.1. The port is always chosen by the OS. */
  host?: string;
  /** Produces replies for chat and completions (default: hash-derived text). */
  responder?: Responder;
  /** Produces log-probs (default: hash-derived negative numbers). */
  scorer?: LogprobScorer;
  /** Ids listed by GET /v1/models. */
  models?: string[];
  /** If set, only these bearer tokens are accepted; anything else gets 401 invalid_api_key. */
  apiKeys?: string[];
  /** Faults queued from the start. */
  faults?: Array<FaultKind | FaultSpec>;
  batch?: BatchBehaviour;
  /** Clock in ms for rate-limit windows and timestamps; default Date.now. */
  now?: () => number;
}

export type RequestOutcome = 'ok' | 'error' | 'rate-limited' | 'fault' | 'dropped' | 'pending';

/**
 * A request as logged: what the fault logic saw of it (route 'unmatched' when no route matched;
 * body parsed JSON or null; bodyHash the sha256 of the canonical body, null when empty), and more.
 */
export interface RequestLogEntry extends FaultRequest {
  /** Server clock (ms) when the request was read. */
  receivedAt: number;
  /** HTTP status sent; undefined while pending or when no response was written. */
  status?: number;
  outcome: RequestOutcome;
  fault?: FaultKind;
  /** For 429s from the limiter: which limit ('requests' or 'tokens'). */
  rateLimitKind?: 'requests' | 'tokens';
  /** Message of an unexpected exception inside the server (answered as 500). */
  error?: string;
}

export interface OpenAIServerStats {
  totalRequests: number;
  byRoute: Record<string, number>;
  /** 429s sent by the rpm/tpm limiter (not the insufficient_quota fault). */
  rateLimited: number;
  /** Faults applied. */
  faults: number;
  /** Model answers delivered: 200s from chat/completions plus successful batch lines. */
  completed: number;
  /** Batch input lines answered successfully. */
  batchLinesCompleted: number;
  /**
   * Peak number of model calls admitted within any one window (`windowMs`, default 60 s).
   * Tracked even when no limit is set, to observe a client's own throttling.
   */
  maxAdmittedInWindow: number;
  /** Peak number of model calls that arrived (admitted or refused) within any one window. */
  maxArrivedInWindow: number;
  /** Peak estimated token cost admitted within any one window. */
  maxTokensInWindow: number;
  inFlight: number;
  maxInFlight: number;
}

export interface OpenAIServer {
  /** e.g. http://127.0.0.1:41234/v1 — pass as the client's baseURL. */
  readonly baseURL: string;
  /** e.g. http://127.0.0.1:41234 (for /health). */
  readonly origin: string;
  readonly port: number;
  /** A snapshot of the counters. */
  readonly stats: OpenAIServerStats;
  /** Every request in arrival order. */
  readonly requests: readonly RequestLogEntry[];
  /**
   * Canonical body hash → how many times a chat/completions request with that body was
   * answered with a readable 200: synchronous calls and batch lines alike. Refusals count
   * (they are billed answers); 'malformed' responses and dropped requests do not.
   */
  readonly completedHashes: ReadonlyMap<string, number>;
  /** Authorization header values, one per request that carried one, in arrival order. */
  readonly authorizations: readonly string[];
  /** Requests seen for a route key such as 'POST /v1/chat/completions'. */
  count(route: string): number;
  /** Body hashes answered more than once. */
  duplicateCompletions(): string[];
  /**
   * Resolves with the first logged request (past or future) that satisfies `predicate`;
   * checked when a request arrives and again when it is answered or dropped. Lets a test
   * wait for "the request reached the server" without sleeping.
   */
  waitForRequest(predicate?: (entry: RequestLogEntry) => boolean): Promise<RequestLogEntry>;

  setResponder(responder?: Responder): void;
  setScorer(scorer?: LogprobScorer): void;
  /** Replaces the limits (keeps the admission history). */
  setLimits(config: RateLimitConfig): void;
  /** Queues faults for the next matching requests. */
  injectFault(...faults: Array<FaultKind | FaultSpec>): void;
  setFaultPredicate(predicate?: FaultPredicate): void;
  clearFaults(): void;
  /** Queued fault applications not yet used. */
  readonly pendingFaults: number;

  setBatchBehaviour(behaviour: BatchBehaviour): void;
  /** Completes in-progress batches now (all, or the given ids), ignoring `hold`. */
  completeBatches(ids?: string[]): Promise<BatchJson[]>;
  /** Makes these custom_ids fail in batches processed from now on. */
  failBatchRequests(customIds: Iterable<string>, failure?: BatchRequestFailure): void;
  /** Expires in-progress batches, optionally after running their first `completeFirst` lines. */
  expireBatches(options?: {ids?: string[]; completeFirst?: number}): Promise<BatchJson[]>;
  /** Snapshots of all batches. */
  batches(): BatchJson[];

  /** Clears counters, the request log, hashes and the limiter history (not faults or files). */
  resetStats(): void;
  /** Stops listening and destroys every open connection, including held ('timeout') ones. */
  close(): Promise<void>;
}
