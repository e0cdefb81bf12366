import type {Diagnostic} from './util/diagnostic.js';

/**
 * The one event vocabulary. The engine only emits these; loggers decide how they look (human
 * lines, a TTY status line, NDJSON for machines and tests). Narrow on `type`.
 */
export type Event =
  /** Analysis passed; `total` targets are in the requested closure. */
  | {type: 'build-started'; total: number; jobs: number}
  /** A target's key and outputs are unchanged since the last build: nothing to do. */
  | {type: 'target-fresh'; target: string}
  /** A target's outputs came from the store, verified, without running its rule. */
  | {type: 'target-restored'; target: string; key: string}
  /** A target's rule started; `reason` says why it had to run. */
  | {type: 'target-started'; target: string; key: string; reason: string}
  /** A target's rule finished and its outputs were committed to the store. */
  | {type: 'target-succeeded'; target: string; key: string; durationMs: number; outputChanged: boolean}
  /** A target failed; nothing of its outputs was stored. */
  | {type: 'target-failed'; target: string; failure: Failure}
  /** A target was not started because the build stopped (failure elsewhere, Ctrl-C). */
  | {type: 'target-skipped'; target: string; because: string}
  /** Something the user should know that does not fail the build. */
  | {type: 'warning'; message: string; target?: string}
  /** A problem in the Stagefile; nothing runs. */
  | {type: 'diagnostic'; diagnostic: Diagnostic}
  /** Store housekeeping worth reporting (a corrupted blob removed, a write declined). */
  | {type: 'cache-info'; message: string; target?: string}
  /** The build ended. */
  | {type: 'build-finished'; ok: boolean; counts: BuildCounts; durationMs: number; interrupted: boolean; filesHashed: number};

export interface BuildCounts {
  fresh: number;
  restored: number;
  ran: number;
  failed: number;
  skipped: number;
}

/** Why a target failed, as data, so loggers and tests can tell the kinds apart. */
export type Failure =
  | {kind: 'exit-code'; code: number; command: string; logTail: string; log: string}
  | {kind: 'signal'; signal: string; command: string; logTail: string; log: string}
  | {kind: 'exception'; message: string; stack: string; log: string}
  | {kind: 'missing-output'; path: string}
  | {kind: 'missing-input'; path: string}
  | {kind: 'input-changed'; path: string}
  | {kind: 'cancelled'};

export type EventType = Event['type'];
