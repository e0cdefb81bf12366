/**
 * OpenAI-compatible test server: entry point.
 *
 *   const server = await startOpenAIServer({rpm: 3, windowMs: 1_000});
 *   const client = new OpenAI({apiKey: 'sk-test', baseURL: server.baseURL, maxRetries: 0});
 *   ...
 *   await server.close();
 *
 * The implementation lives in ./openai-server/ (one file per concern: HTTP and accounting,
 * model endpoints, responders, rate limits, faults, files and batches).
 */
export {startOpenAIServer} from './openai-server/server.js';
export type {
  OpenAIServer,
  OpenAIServerOptions,
  OpenAIServerStats,
  RequestLogEntry,
  RequestOutcome,
} from './openai-server/api.js';
export {defaultResponder, defaultScorer, messageText} from './openai-server/responders.js';
export type {ChatMessage, FinishReason, LogprobScorer, ModelReply, ModelRequest, Responder, ScoreInput} from './openai-server/responders.js';
export {DEFAULT_SLOW_MS, MODEL_ROUTES} from './openai-server/faults.js';
export type {FaultKind, FaultPredicate, FaultRequest, FaultSpec} from './openai-server/faults.js';
export {formatGoDuration, parseGoDuration} from './openai-server/limits.js';
export type {RateLimitConfig} from './openai-server/limits.js';
export type {BatchBehaviour, BatchJson, BatchOutputLine, BatchRequestFailure} from './openai-server/batches.js';
export type {FileObjectJson} from './openai-server/files.js';
export {ROUTE_KEYS} from './openai-server/routes.js';
export {DEFAULT_MAX_TOKENS, requestTokenCost} from './openai-server/endpoints.js';
export {canonicalHash, canonicalJson, estimateTokens, tokenize} from './openai-server/util.js';
