import {unreachable} from '../../util/unreachable.js';
import type {SlurmJobId} from './ids.js';
import {slurmJobId} from './ids.js';

/**
 * How a SLURM job stands, reduced to what stage acts on. SLURM has some twenty state
 * names plus reasons; stage needs to know whether to keep waiting, whether the result
 * can be collected, and what to tell the user. NODE_FAIL, PREEMPTED and TIMEOUT get
 * their own kinds because executors that lumped them in with "unknown" have hung on them.
 */
export type SlurmJobState =
  | {readonly kind: 'pending'; readonly reason: string | undefined}
  | {readonly kind: 'running'}
  | {readonly kind: 'completed'}
  /** exitCode/signal are null when the source does not report them (squeue). */
  | {readonly kind: 'failed'; readonly exitCode: number | null; readonly signal: number | null}
  | {readonly kind: 'timeout'}
  | {readonly kind: 'out-of-memory'}
  | {readonly kind: 'node-fail'}
  | {readonly kind: 'preempted'}
  | {readonly kind: 'cancelled'}
  | {readonly kind: 'dependency-never-satisfied'}
  | {readonly kind: 'unknown'; readonly raw: string};

export type SlurmJobStateKind = SlurmJobState['kind'];

/** SLURM's `ExitCode=X:Y`: X is the batch script's exit status, Y the signal that killed it. */
export interface SlurmExitCode {
  readonly status: number;
  readonly signal: number;
}

/** One job, or one array task, as one of SLURM's commands reported it. */
export interface SlurmJobRecord {
  /** The id SLURM stores this record under; every array task has its own. */
  readonly jobId: SlurmJobId;
  /** For array jobs: the id of the whole array (`sbatch --parsable` prints this one). */
  readonly arrayJobId?: SlurmJobId | undefined;
  /** For one task of an array. */
  readonly arrayTaskId?: number | undefined;
  /** Tasks that have not started yet are shown together as one record, e.g. "1-2%1". */
  readonly pendingArrayTasks?: string | undefined;
  readonly name?: string | undefined;
  /** The state word as SLURM printed it, for logs and for `unknown`. */
  readonly rawState: string;
  /** SLURM's Reason, absent when it says None. */
  readonly reason?: string | undefined;
  /** Absent when the source does not report it (squeue). */
  readonly exitCode?: SlurmExitCode | undefined;
  readonly state: SlurmJobState;
}

/** The id that addresses exactly this record in scontrol and scancel: "12" or "10_3". */
export function addressOf(record: SlurmJobRecord): SlurmJobId {
  if (record.arrayJobId !== undefined && record.arrayTaskId !== undefined) {
    return slurmJobId(`${record.arrayJobId}_${record.arrayTaskId}`);
  }
  return record.jobId;
}

// ---------------------------------------------------------------- classification

/**
 * Maps SLURM's state word (plus reason and exit code where known) to a SlurmJobState.
 * Accepts the forms the various commands print: "CANCELLED by 1234" (sacct) and a
 * trailing "+" (truncated sacct columns) are tolerated.
 */
export function classifyState(rawState: string, reason?: string, exitCode?: SlurmExitCode): SlurmJobState {
  const word = rawState.trim().split(/\s+/)[0]?.replace(/\+$/, '').toUpperCase() ?? '';
  const neverSatisfied = reason === 'DependencyNeverSatisfied';
  switch (word) {
    case 'PENDING':
    case 'REQUEUED':
    case 'REQUEUE_HOLD':
    case 'REQUEUE_FED':
    case 'RESV_DEL_HOLD':
    case 'CONFIGURING':
    case 'POWER_UP_NODE':
      // Without kill_invalid_depend, SLURM leaves such a job pending forever.
      return neverSatisfied ? {kind: 'dependency-never-satisfied'} : {kind: 'pending', reason: word === 'PENDING' ? reason : reason ?? word};
    case 'RUNNING':
    case 'COMPLETING':
    case 'SUSPENDED':
    case 'STOPPED':
    case 'SIGNALING':
    case 'STAGE_OUT':
    case 'RESIZING':
      return {kind: 'running'};
    case 'COMPLETED':
      return {kind: 'completed'};
    case 'FAILED':
    case 'SPECIAL_EXIT':
    case 'LAUNCH_FAILED':
    case 'RECONFIG_FAIL':
      return {kind: 'failed', exitCode: exitCode?.status ?? null, signal: exitCode?.signal ?? null};
    case 'TIMEOUT':
    case 'DEADLINE':
      return {kind: 'timeout'};
    case 'OUT_OF_MEMORY':
      return {kind: 'out-of-memory'};
    case 'NODE_FAIL':
    case 'BOOT_FAIL':
      return {kind: 'node-fail'};
    case 'PREEMPTED':
      return {kind: 'preempted'};
    case 'CANCELLED':
      return neverSatisfied ? {kind: 'dependency-never-satisfied'} : {kind: 'cancelled'};
    default:
      return {kind: 'unknown', raw: rawState.trim()};
  }
}

/**
 * Whether the job will not change state any more by itself. A job whose dependency can
 * never be satisfied counts as finished even if SLURM still lists it as pending: it will
 * never run, and waiting for it would hang the build. `unknown` is not terminal: the
 * caller keeps polling under its own deadline.
 */
export function isTerminal(state: SlurmJobState): boolean {
  switch (state.kind) {
    case 'pending':
    case 'running':
    case 'unknown':
      return false;
    case 'completed':
    case 'failed':
    case 'timeout':
    case 'out-of-memory':
    case 'node-fail':
    case 'preempted':
    case 'cancelled':
    case 'dependency-never-satisfied':
      return true;
    default:
      return unreachable(state);
  }
}

/**
 * Whether submitting the same job again may well succeed: the job itself was fine but
 * the cluster took it away. A timeout or OOM would just happen again with the same
 * resources, and a failure is the command's own doing.
 */
export function isRetryable(state: SlurmJobState): boolean {
  switch (state.kind) {
    case 'node-fail':
    case 'preempted':
      return true;
    case 'pending':
    case 'running':
    case 'completed':
    case 'failed':
    case 'timeout':
    case 'out-of-memory':
    case 'cancelled':
    case 'dependency-never-satisfied':
    case 'unknown':
      return false;
    default:
      return unreachable(state);
  }
}

/** What a state means, in words a user can act on. */
export function explainState(state: SlurmJobState): string {
  switch (state.kind) {
    case 'pending':
      return `waiting in the queue${state.reason === undefined ? '' : `: ${explainPendingReason(state.reason)}`}`;
    case 'running':
      return 'running';
    case 'completed':
      return 'finished successfully';
    case 'failed':
      if (state.signal !== null && state.signal !== 0) return `was killed by signal ${state.signal}`;
      if (state.exitCode !== null) return `failed with exit status ${state.exitCode}; see the job log`;
      return 'failed; see the job log';
    case 'timeout':
      return 'ran out of time and was stopped by SLURM; raise the time limit';
    case 'out-of-memory':
      return 'used more memory than it asked for and was killed; raise the memory request';
    case 'node-fail':
      return 'the node running it failed; submitting again usually works';
    case 'preempted':
      return 'was preempted by a higher-priority job; submitting again usually works';
    case 'cancelled':
      return 'was cancelled (scancel, or by an administrator)';
    case 'dependency-never-satisfied':
      return 'can never start because a job it depends on did not succeed';
    case 'unknown':
      return `is in a state stage does not know (${JSON.stringify(state.raw)}); check with scontrol or squeue`;
    default:
      return unreachable(state);
  }
}

/** SLURM's pending reasons that users meet most, in plain words; others are shown as is. */
function explainPendingReason(reason: string): string {
  switch (reason) {
    case 'Priority':
      return 'other jobs come first (Priority)';
    case 'Resources':
      return 'waiting for CPUs, memory or GPUs to free up (Resources)';
    case 'Dependency':
      return 'waiting for the jobs it depends on (Dependency)';
    case 'JobArrayTaskLimit':
      return "the array's limit on tasks running at once is reached (JobArrayTaskLimit)";
    case 'JobHeldUser':
    case 'JobHeldAdmin':
      return `held; release it with scontrol release (${reason})`;
    case 'BeginTime':
      return 'its start time has not come yet (BeginTime)';
    case 'ReqNodeNotAvail':
      return 'a node it needs is unavailable, for example reserved for maintenance (ReqNodeNotAvail)';
    case 'PartitionConfig':
    case 'BadConstraints':
      return `the request does not fit the partition and may never start (${reason})`;
    default:
      if (/^(?:QOS|Assoc)/.test(reason)) return `a limit of the QOS or account is reached (${reason})`;
      return reason;
  }
}

// ---------------------------------------------------------------- shared field parsing

/** "3:0" → {status: 3, signal: 0}; anything else → undefined. */
export function parseExitCode(text: string): SlurmExitCode | undefined {
  const match = /^([0-9]+):([0-9]+)$/.exec(text.trim());
  if (!match) return undefined;
  return {status: Number(match[1]), signal: Number(match[2])};
}

/** SLURM prints "None" or "(null)" where there is no value. */
function present(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  return v === '' || v === 'None' || v === '(null)' || v === 'N/A' ? undefined : v;
}

/** An array task field: a single index, or the set of tasks not started yet ("1-2%1", "[0-9]"). */
function arrayTask(value: string | undefined): {task?: number; pending?: string} {
  const v = present(value);
  if (v === undefined) return {};
  if (/^[0-9]+$/.test(v)) return {task: Number(v)};
  return {pending: v.replace(/^\[|\]$/g, '')};
}

function record(fields: {
  jobId: string; arrayJobId?: string | undefined; arrayTask?: string | undefined; name?: string | undefined;
  rawState: string; reason?: string | undefined; exitCode?: SlurmExitCode | undefined;
}): SlurmJobRecord {
  const reason = present(fields.reason);
  const {task, pending} = arrayTask(fields.arrayTask);
  const arrayJobId = present(fields.arrayJobId);
  const isArray = arrayJobId !== undefined && (task !== undefined || pending !== undefined);
  return {
    jobId: slurmJobId(fields.jobId),
    arrayJobId: isArray ? slurmJobId(arrayJobId) : undefined,
    arrayTaskId: isArray ? task : undefined,
    pendingArrayTasks: isArray ? pending : undefined,
    name: present(fields.name),
    rawState: fields.rawState,
    reason,
    exitCode: fields.exitCode,
    state: classifyState(fields.rawState, reason, fields.exitCode),
  };
}

// ---------------------------------------------------------------- sbatch

/**
 * Reads the output of `sbatch --parsable`: "12345", or "12345;cluster" on a federation
 * or multi-cluster setup. For an array it is the array's id. Warnings go to stderr,
 * but the last non-empty line is taken in case a site wrapper prints to stdout first.
 */
export function parseSbatchOutput(stdout: string): {readonly jobId: SlurmJobId; readonly cluster: string | undefined} {
  const line = stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '').at(-1) ?? '';
  const match = /^([0-9]+)(?:;(\S+))?$/.exec(line);
  if (!match) throw new Error(`Unexpected output from sbatch --parsable: ${JSON.stringify(stdout.slice(0, 500))}`);
  return {jobId: slurmJobId(match[1]!), cluster: match[2]};
}

// ---------------------------------------------------------------- scontrol

/** `scontrol -o show job ID`: one line per job, or per array task when ID is an array. */
export function scontrolShowJobArgs(id: SlurmJobId): string[] {
  return ['-o', 'show', 'job', id];
}

/**
 * What scontrol (and squeue) print for an id SLURM no longer knows: the job ended more
 * than MinJobAge seconds ago (300 by default) and was purged, or never existed. Then the
 * marker file and sacct are the remaining sources.
 */
export function isUnknownJobError(stderr: string): boolean {
  return /Invalid job id specified/i.test(stderr);
}

/**
 * Splits one `Key=Value Key=Value ...` line. Values are not quoted and may contain
 * blanks (JobName, StdOut, Comment), so a blank starts a new pair only when the next
 * word looks like `Key=`; other words are glued to the previous value. Keys are
 * letters, digits and the odd `_`, `:`, `/` (AllocNode:Sid, CPUs/Task).
 */
export function parseKeyValues(line: string): Map<string, string> {
  const fields = new Map<string, string>();
  let key: string | undefined;
  let value = '';
  const flush = (): void => {
    if (key !== undefined) fields.set(key, value.trimEnd());
  };
  for (const word of line.trim().split(' ')) {
    const match = /^([A-Za-z][A-Za-z0-9_:/.-]*)=(.*)$/s.exec(word);
    if (match) {
      flush();
      key = match[1]!;
      value = match[2]!;
    } else if (key !== undefined) {
      value += ` ${word}`;
    }
  }
  flush();
  return fields;
}

/** Parses `scontrol -o show job` output, one record per non-empty line. */
export function parseScontrolShowJob(stdout: string): SlurmJobRecord[] {
  const records: SlurmJobRecord[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const f = parseKeyValues(line);
    const jobId = f.get('JobId');
    const rawState = f.get('JobState');
    if (jobId === undefined || rawState === undefined) {
      throw new Error(`Unexpected line from scontrol show job (no JobId or JobState): ${JSON.stringify(line.slice(0, 300))}`);
    }
    const exit = f.get('ExitCode');
    records.push(record({
      jobId, arrayJobId: f.get('ArrayJobId'), arrayTask: f.get('ArrayTaskId'), name: f.get('JobName'),
      rawState, reason: f.get('Reason'), exitCode: exit === undefined ? undefined : parseExitCode(exit),
    }));
  }
  return records;
}

// ---------------------------------------------------------------- squeue

/**
 * The `squeue --format` string parseSqueue expects, `|`-separated:
 * %i job id as shown ("12", "10_3", "10_[4-9%2]"), %A the job's own id, %F the array id
 * (the job id for a non-array job), %K the array task index or pending range ("N/A"
 * otherwise), %T the state word, %r the reason, %j the name (last, as it may contain `|`).
 * squeue has no exit code; use scontrol or sacct for that.
 */
export const SQUEUE_FORMAT = '%i|%A|%F|%K|%T|%r|%j';

/** Arguments for squeue listing these jobs, finished ones included (for MinJobAge seconds). */
export function squeueArgs(ids: readonly SlurmJobId[]): string[] {
  return ['--noheader', '--states=all', `--format=${SQUEUE_FORMAT}`, ...(ids.length > 0 ? [`--jobs=${ids.join(',')}`] : [])];
}

export function parseSqueue(stdout: string): SlurmJobRecord[] {
  const records: SlurmJobRecord[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const cols = line.trim().split('|');
    if (cols.length < 7) throw new Error(`Unexpected squeue line (expected format ${SQUEUE_FORMAT}): ${JSON.stringify(line)}`);
    const [, ownId, arrayId, task, rawState, reason] = cols as [string, string, string, string, string, string];
    records.push(record({
      jobId: ownId, arrayJobId: arrayId, arrayTask: task, rawState, reason, name: cols.slice(6).join('|'),
    }));
  }
  return records;
}

// ---------------------------------------------------------------- sacct

/**
 * The `sacct --format` fields parseSacct expects, with --parsable2 --noheader:
 * JobIDRaw (the record's own id), JobID ("12", "10_3", "10_[4-9]", "12.batch"), State
 * ("CANCELLED by 0" on real accounting), ExitCode ("3:0") and Reason.
 */
export const SACCT_FORMAT = 'JobIDRaw,JobID,State,ExitCode,Reason';

/**
 * Arguments for sacct. `startTime` is required: without --starttime sacct only shows
 * jobs since midnight, and jobs that finished before it silently disappear.
 * `completionLog` reads the job-completion log (`sacct -c`) on clusters without slurmdbd.
 */
export function sacctArgs(options: {
  readonly ids: readonly SlurmJobId[];
  readonly startTime: string;
  readonly completionLog?: boolean | undefined;
}): string[] {
  return [
    ...(options.completionLog === true ? ['--completion'] : []),
    '--parsable2', '--noheader', `--format=${SACCT_FORMAT}`, `--starttime=${options.startTime}`,
    ...(options.ids.length > 0 ? [`--jobs=${options.ids.join(',')}`] : []),
  ];
}

/**
 * Parses sacct rows into job records. Job steps ("12.batch", "12.extern", "12.0") are
 * skipped: the job's own row carries its final state and the batch script's exit code.
 */
export function parseSacct(stdout: string): SlurmJobRecord[] {
  const records: SlurmJobRecord[] = [];
  for (const line of stdout.split('\n')) {
    if (line.trim() === '') continue;
    const cols = line.trim().split('|');
    if (cols.length < 4) throw new Error(`Unexpected sacct line (expected fields ${SACCT_FORMAT}): ${JSON.stringify(line)}`);
    const [rawId, shownId, rawState, exit, reason] = cols as [string, string, string, string, string | undefined];
    if (shownId.includes('.') || rawId.includes('.')) continue;
    const array = /^([0-9]+)_(.+)$/.exec(shownId);
    records.push(record({
      jobId: rawId, arrayJobId: array?.[1], arrayTask: array?.[2], rawState, reason,
      exitCode: parseExitCode(exit),
    }));
  }
  return records;
}
