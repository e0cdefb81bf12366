/**
 * How a shard's job ended, in words: the Failure a target reports when a SLURM job did not
 * produce its outputs. Pure, so each state's message is unit-tested.
 */
import type {SlurmRequest} from '../../config/define.js';
import type {Failure} from '../../event.js';
import {unreachable} from '../../util/unreachable.js';
import {SERVER_FAILED_EXIT, SETUP_FAILED_EXIT} from './script.js';
import {explainState, type SlurmJobState} from './state.js';

/** The exit status of `stage exec` when it refuses to run (stale key, unknown target). */
export const EXEC_REFUSED_EXIT = 3;

/** Why one shard has no result. */
export type ShardEnding =
  /** The job script ran to its end and recorded this non-zero status (marker, or scontrol's ExitCode). */
  | {readonly kind: 'exit'; readonly status: number}
  /** SLURM ended the job without a marker: time limit, memory, node failure, scancel… */
  | {readonly kind: 'state'; readonly state: SlurmJobState; readonly raw: string}
  /** SLURM says the job completed, yet no marker appeared within the grace period. */
  | {readonly kind: 'no-marker'; readonly raw: string; readonly graceMs: number}
  /** SLURM no longer knows the job and it left no marker. */
  | {readonly kind: 'lost'};

export interface ShardContext {
  readonly index: number;
  readonly sharded: boolean;
  /** The id of the job (the array's id for shards). */
  readonly jobId: string;
  readonly request: SlurmRequest | undefined;
  /** How many times this shard was submitted in all. */
  readonly submissions: number;
}

/** What a known exit status of the job script means. */
export function explainExit(status: number): string {
  switch (status) {
    case EXEC_REFUSED_EXIT:
      return 'stage exec refused to run it: the inputs changed after the job was submitted, or the node sees a different Stagefile; build again';
    case SETUP_FAILED_EXIT:
      return 'the job environment could not be prepared (module, conda or virtualenv step; see the log)';
    case SERVER_FAILED_EXIT:
      return 'the model server died or never became healthy (the end of its log is in the job log)';
    case 130:
      return 'the rule was interrupted';
    case 1:
      return 'the rule failed (its error is at the end of the log)';
    default:
      return 'see the job log';
  }
}

/** The SLURM state word a failure reports. */
export function stateWord(ending: ShardEnding): string {
  switch (ending.kind) {
    case 'exit':
      return 'FAILED';
    case 'state':
      return ending.raw.trim().split(/\s+/)[0]?.toUpperCase() || 'UNKNOWN';
    case 'no-marker':
      return ending.raw.trim().split(/\s+/)[0]?.toUpperCase() || 'COMPLETED';
    case 'lost':
      return 'LOST';
    default:
      return unreachable(ending);
  }
}

/** A sentence about the ending, starting after "SLURM job <id>". */
export function endingMessage(ending: ShardEnding, c: ShardContext): string {
  const who = c.sharded ? `(shard ${c.index}) ` : '';
  const tries = c.submissions > 1 ? `, submitted ${c.submissions} times` : '';
  switch (ending.kind) {
    case 'exit':
      return `${who}failed with exit status ${ending.status}${tries}: ${explainExit(ending.status)}`;
    case 'no-marker':
      return `${who}is COMPLETED according to SLURM, but left no exit marker within ${Math.round(ending.graceMs / 1000)} s: ` +
        'is .stage on a filesystem the compute nodes share? (raise slurm.markerGraceMs if the filesystem is slow)';
    case 'lost':
      return `${who}is unknown to SLURM and left no exit marker${tries}: it was purged or lost before it finished`;
    case 'state': {
      const s = ending.state;
      switch (s.kind) {
        case 'timeout':
          return `${who}ran out of time and was stopped by SLURM (time limit ${c.request?.time ?? "the partition's default"})${tries}: raise slurm.time`;
        case 'out-of-memory':
          return `${who}used more memory than it asked for and was killed (${c.request?.mem !== undefined ? `mem ${c.request.mem}` : 'no slurm.mem set'})${tries}: raise slurm.mem`;
        case 'node-fail':
          return `${who}lost its node (the node failed)${tries}`;
        case 'preempted':
          return `${who}was preempted by a higher-priority job and not requeued${tries}`;
        case 'failed':
          if (s.exitCode !== null && s.exitCode !== 0 && (s.signal === null || s.signal === 0)) {
            return `${who}failed with exit status ${s.exitCode}${tries}: ${explainExit(s.exitCode)}`;
          }
          return `${who}${explainState(s)}${tries}`;
        default:
          return `${who}${explainState(s)}${tries}`;
      }
    }
    default:
      return unreachable(ending);
  }
}

/** The target's Failure for a shard that ended badly. */
export function shardFailure(ending: ShardEnding, c: ShardContext, logTail: string, log: string): Extract<Failure, {kind: 'slurm'}> {
  return {kind: 'slurm', jobId: c.sharded ? `${c.jobId}_${c.index}` : c.jobId, state: stateWord(ending), message: endingMessage(ending, c), logTail, log};
}

/** The Failure for a submission sbatch refused, or could not make. */
export function submitFailure(state: 'REJECTED' | 'UNAVAILABLE', text: string, script: string): Extract<Failure, {kind: 'slurm'}> {
  const message = state === 'REJECTED'
    ? `sbatch refused the job: ${text} (check gpus, cpus, mem and time against the partition, and slurm.partition/account in the user config)`
    : `could not submit: ${text}`;
  return {kind: 'slurm', jobId: null, state, message, logTail: '', log: script};
}
