/**
 * The rate limiter every model call goes through: one per endpoint identity, shared by all stage
 * processes on the machine through a small state file, never letting more than the limit start
 * in any window. See window.ts for the rules and limiter.ts for how processes share them.
 */
export {EndpointLimiter} from './limiter.js';
export type {Grant, LimiterStats} from './limiter.js';
export {limiterFor} from './registry.js';
export {defaultLimitsDir, policyFor, systemClock} from './options.js';
export type {Clock, LimiterOptions} from './options.js';
export {parseGoDuration} from './duration.js';
export {headerValue, readRateLimitHeaders} from './headers.js';
export type {HeaderSource, RateLimitObservation} from './headers.js';
export {DEFAULT_LOCK_OPTIONS, FileLock, isStale, LockTimeoutError} from './lock.js';
export {processAlive} from '../../util/process.js';
export type {LockOptions} from './lock.js';
export {checkEndpointId, decodeState, encodeState, fileStemFor, readStateFile} from './state-file.js';
export {
  addAt,
  applyObservation,
  book,
  bookedTokens,
  cancel,
  chargeExtra,
  earliestStart,
  effectiveLimits,
  emptyState,
  lastStart,
  pacing,
  pauseUntil,
  prune,
  usageBetween,
  waitMs,
  windowFit,
  withdraw,
} from './window.js';
export type {Entry, Ticket, WindowPolicy, WindowState} from './window.js';
