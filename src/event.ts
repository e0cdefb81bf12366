import type {Diagnostic} from './util/diagnostic.js';
import type {PlanEntry} from './schedule/plan.js';
import type {WatchStateName} from './watch/machine.js';

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
  /** A result line a rule wants the user to see (`ctx.report`). */
  | {type: 'target-report'; target: string; text: string}
  /** Something the user should know that does not fail the build. */
  | {type: 'warning'; message: string; target?: string}
  /** A problem in the Stagefile; nothing runs. */
  | {type: 'diagnostic'; diagnostic: Diagnostic}
  /** Progress of an API target: answers so far, from the memo, in flight, dollars, time left. */
  | {type: 'llm-progress'; target: string; done: number; total: number; memoized: number; inFlight: number; failed: number; dollars: number; etaMs: number | null}
  /** A model call will be tried again (rate limit, server error, timeout). */
  | {type: 'llm-retry'; target: string; item: string; why: string; waitMs: number; attempt: number}
  /** An API target's calls were sent to the Batch API as one batch of `requests` calls; its id is persisted. */
  | {type: 'batch-submitted'; target: string; batchId: string; requests: number}
  /** A batch's status or counts changed since the last poll (statuses as the Batch API names them). */
  | {type: 'batch-state'; target: string; batchId: string; status: string; completed: number; failed: number; total: number}
  /**
   * A SLURM job for a target was submitted (one job array for a sharded target), or, with
   * `resumed`, a restarted build found the job a previous build submitted and follows it instead
   * of submitting again. `shards` lists the shard indices the job runs (empty when the target is
   * not sharded).
   */
  | {type: 'slurm-submitted'; target: string; jobId: string; shards: number[]; resumed: boolean}
  /**
   * The state of a target's SLURM job changed: `state` sums up its tasks as SLURM names them
   * ("RUNNING", or "2 RUNNING, 1 PENDING" for an array); `done` of `total` shards have finished
   * successfully.
   */
  | {type: 'slurm-state'; target: string; jobId: string; state: string; done: number; total: number}
  /**
   * Another builder sharing the store holds the lease on this target's key (or on a model call
   * it needs): this build waits for that result instead of producing it a second time.
   */
  | {type: 'target-waiting'; target: string; holder: string; what: 'action' | 'call'}
  /** Store housekeeping worth reporting (a corrupted blob removed, a write declined). */
  | {type: 'cache-info'; message: string; target?: string}
  /** The build ended. */
  | {type: 'build-finished'; ok: boolean; counts: BuildCounts; durationMs: number; interrupted: boolean; filesHashed: number; dollars: number}
  /**
   * `stage watch` watches `files` files (the Stagefile and its imports, the targets' inputs and
   * schemas) for `targets` targets; again after each reload of the Stagefile.
   */
  | {type: 'watch-ready'; files: number; targets: number}
  /** Files the watched build depends on changed; `reload` when the Stagefile or a module it imports did. */
  | {type: 'watch-change'; paths: string[]; reload: boolean}
  /** The watcher entered `state` (see src/watch/machine.ts); `reason` says why, in words. */
  | {type: 'watch-state'; state: WatchStateName; reason: string}
  /** The next build may spend `dollars` on model calls, above `threshold` (confirmAbove): the plan, waiting for a `y`. */
  | {type: 'watch-confirm'; dollars: number; threshold: number; configPath: string; entries: PlanEntry[]}
  /** Targets to run are SLURM jobs and --allow-slurm was not given: nothing was built or submitted. */
  | {type: 'watch-needs-slurm'; targets: string[]};

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
  /** An output does not match the target's JSON Schema; `line` for JSONL outputs. */
  | {kind: 'schema'; path: string; line?: number; message: string; schema: string}
  | {kind: 'input-changed'; path: string}
  | {kind: 'cancelled'}
  /** A model endpoint refused in a way every call would repeat (bad key, no quota, unreachable). */
  | {kind: 'api-fatal'; message: string}
  /** More items ended without an answer than the rule allows; answered ones are memoized. */
  | {kind: 'items-failed'; failed: number; allowed: number; total: number; examples: {id: string; reason: string; message: string}[]}
  /** The build's budget stopped further calls; answered ones are memoized. */
  | {kind: 'budget'; limit: number; spent: number; unanswered: number}
  /**
   * A SLURM job (or one shard of it) did not produce the outputs: it failed, ran out of time or
   * memory, lost its node, was cancelled, or sbatch refused it (then `jobId` is null). `state` is
   * SLURM's word for it (FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, CANCELLED…, or
   * REJECTED), `message` says what happened and what to do, `logTail` ends the job's log.
   */
  | {kind: 'slurm'; jobId: string | null; state: string; message: string; logTail: string; log: string};

export type EventType = Event['type'];
