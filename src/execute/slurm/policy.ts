/**
 * The driver's decisions that need no cluster: how long to wait between polls, what to call a
 * job, which sbatch errors are worth another try, when a failed shard goes out again, and how a
 * job's tasks are summed up for the user. Kept pure so each rule is unit-tested on its own.
 */
import {isRetryable, type SlurmJobState} from './state.js';

/** Status polling: the first pause, and the longest one (Snakemake's 40 s growing to 180 s). */
export const DEFAULT_POLL_MS = 40_000;
export const DEFAULT_MAX_POLL_MS = 180_000;
/** How long a finished job may take to show its exit marker on a shared filesystem. */
export const DEFAULT_MARKER_GRACE_MS = 90_000;
/** sbatch attempts before a target fails because the controller keeps refusing to answer. */
export const SUBMIT_ATTEMPTS = 8;
/** Retries a shard gets for free when the cluster, not the job, was at fault (NODE_FAIL, preemption). */
export const AUTOMATIC_RETRIES = 1;

export interface PollSettings {
  readonly pollMs?: number | undefined;
  readonly maxPollMs?: number | undefined;
  readonly markerGraceMs?: number | undefined;
}

export interface PollTiming {
  readonly pollMs: number;
  readonly maxPollMs: number;
  readonly markerGraceMs: number;
}

function positive(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** The user's polling settings with defaults filled in; nonsense (negative, NaN) falls back. */
export function pollTiming(settings: PollSettings = {}): PollTiming {
  const pollMs = positive(settings.pollMs, DEFAULT_POLL_MS);
  return {
    pollMs,
    maxPollMs: Math.max(pollMs, positive(settings.maxPollMs, Math.max(pollMs, DEFAULT_MAX_POLL_MS))),
    markerGraceMs: settings.markerGraceMs !== undefined && Number.isFinite(settings.markerGraceMs) && settings.markerGraceMs >= 0
      ? settings.markerGraceMs
      : DEFAULT_MARKER_GRACE_MS,
  };
}

/**
 * The pause before the next status poll, after `quietPolls` polls in a row that saw no change:
 * it starts at pollMs and grows by half each quiet poll up to maxPollMs. Any change resets it, so
 * the driver looks more often while things happen and spares the controller while a long job runs.
 */
export function pollDelayMs(quietPolls: number, timing: PollTiming): number {
  const n = Math.max(0, Math.floor(quietPolls));
  return Math.round(Math.min(timing.maxPollMs, timing.pollMs * 1.5 ** n));
}

/** The pause before sbatch attempt `attempt + 1` after a transient error: doubling, at most a minute. */
export function submitRetryDelayMs(attempt: number, timing: PollTiming): number {
  const base = Math.min(timing.pollMs, 5_000);
  return Math.round(Math.min(60_000, base * 2 ** Math.max(0, attempt)));
}

/** How often marker files are looked at between polls: cheap, so more often than scontrol. */
export function markerCheckMs(timing: PollTiming): number {
  return Math.min(timing.pollMs, 5_000);
}

const NAME_LIMIT = 100;

/**
 * The job name: `stage-<first 8 hex digits of the key>-<target>`, with anything but letters,
 * digits and `_ . + -` turned into `_` (scontrol prints names unquoted, and `/` reads badly in
 * squeue). The key prefix scopes the name to this exact piece of work, so looking a job up by
 * name never finds another target's or another version's job.
 */
export function jobName(key: string, target: string): string {
  const hex = key.slice(key.indexOf(':') + 1).replace(/[^0-9a-fA-F]/g, '').slice(0, 8) || 'nokey';
  const safe = target.replace(/[^A-Za-z0-9_.+-]/g, '_');
  return `stage-${hex}-${safe}`.slice(0, NAME_LIMIT);
}

/** What one sbatch call came back with. */
export interface SubmitAttempt {
  /** undefined when the process did not exit normally (killed, timed out, could not start). */
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut?: boolean | undefined;
  /** The process could not be started at all (sbatch not installed). */
  readonly notFound?: boolean | undefined;
}

export type SubmitErrorKind =
  /** The controller was busy or unreachable: the same submission may well work in a moment. */
  | 'transient'
  /** SLURM refused this job (impossible resources, unknown partition…): trying again is pointless. */
  | 'rejected'
  /** There is no SLURM here (sbatch missing). */
  | 'unavailable';

/**
 * Messages of a controller that could not answer right now. Each was seen on busy production
 * clusters: RPC timeouts, a controller restarting or failing over, the job limit briefly reached.
 */
const TRANSIENT = [
  /Socket timed out/i,
  /temporarily unable/i,
  /Unable to contact slurm controller/i,
  /connect(?:ion)? failure/i,
  /Connection (?:refused|reset|timed out)/i,
  /Zero Bytes were transmitted or received/i,
  /Resource temporarily unavailable/i,
  /Transport endpoint is not connected/i,
  /try again later/i,
  /backup controller in standby/i,
  /Requested operation is presently disabled/i,
  /Unexpected message received/i,
  /Communication connection failure/i,
];

/**
 * Sorts a failed sbatch call: worth retrying, a refusal to report, or no SLURM at all. A zero
 * exit with no job id in the output (a wrapper or a hiccup swallowed it) counts as transient: the
 * caller looks for the job by name before submitting again.
 */
export function classifySubmitError(a: SubmitAttempt): SubmitErrorKind {
  if (a.notFound === true) return 'unavailable';
  if (a.timedOut === true || a.exitCode === undefined) return 'transient';
  if (a.exitCode === 0) return 'transient';
  const text = `${a.stderr}\n${a.stdout}`;
  if (TRANSIENT.some((re) => re.test(text))) return 'transient';
  if (a.stderr.trim() === '' && a.stdout.trim() === '') return 'transient';
  return 'rejected';
}

/** sbatch's own words, without its `sbatch: error:` prefixes, for a failure message. */
export function submitErrorText(a: SubmitAttempt): string {
  const lines = `${a.stderr}\n${a.stdout}`.split('\n').map((l) => l.replace(/^sbatch: (?:error: )?/, '').trim()).filter((l) => l !== '');
  if (lines.length > 0) return lines.join('; ');
  if (a.timedOut === true) return 'sbatch did not answer in time';
  return a.exitCode === 0 ? 'sbatch printed no job id' : `sbatch exited with status ${a.exitCode ?? 'unknown'} and printed nothing`;
}

/** How often a shard went out again in this build: at the target's request, and for free. */
export interface ShardAttempts {
  readonly resubmits: number;
  readonly automatic: number;
}

export const NO_ATTEMPTS: ShardAttempts = {resubmits: 0, automatic: 0};

/** A shard's end, for retry purposes: a SLURM state, or 'lost' when SLURM forgot the job and no marker came. */
export type ShardEnd = SlurmJobState | {readonly kind: 'lost'};

/**
 * Whether a failed shard goes out again. A shard the cluster took away (node failure,
 * preemption without requeue, a job SLURM lost) gets one retry that does not count against the
 * target's `retries`; after that, and for every other failure, the target's own retries are used,
 * then the target fails.
 */
export function retryDecision(end: ShardEnd, attempts: ShardAttempts, retries: number): 'automatic' | 'retry' | 'give-up' {
  const clusterFault = end.kind === 'lost' || isRetryable(end);
  if (clusterFault && attempts.automatic < AUTOMATIC_RETRIES) return 'automatic';
  if (attempts.resubmits < Math.max(0, Math.floor(retries))) return 'retry';
  return 'give-up';
}

/**
 * The task indices in SLURM's notation for tasks not started yet: "1-2%1", "[0-9]", "3,5-7",
 * "0-10:2". undefined when it is not that notation.
 */
export function parseTaskRange(text: string): number[] | undefined {
  const body = text.trim().replace(/^\[|\]$/g, '').replace(/%[0-9]+$/, '');
  if (body === '') return undefined;
  const out: number[] = [];
  for (const part of body.split(',')) {
    const m = /^([0-9]+)(?:-([0-9]+)(?::([0-9]+))?)?$/.exec(part);
    if (!m) return undefined;
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (end < start || step < 1 || end - start > 1_000_000) return undefined;
    for (let i = start; i <= end; i += step) out.push(i);
  }
  return out;
}

/**
 * Sums up task states: "RUNNING" when all agree, else "2 RUNNING, 1 PENDING" (most common
 * first, ties by name), so a state event changes only when something really changed.
 */
export function summarizeStates(words: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1);
  if (counts.size === 1 && words.length > 0) return words[0]!;
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([w, n]) => `${n} ${w}`)
    .join(', ');
}
