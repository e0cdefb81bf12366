/**
 * The job directory of one target key, and the job.json in it that lets a restarted build find
 * the jobs an earlier one submitted. Everything a job writes (its staging, exit markers, logs)
 * lives here, under the workspace, so it survives the driver and is visible from the nodes
 * through the shared filesystem.
 *
 *   .stage/slurm/<key hex>/job.json            the jobs being followed (written the moment sbatch answers)
 *   .stage/slurm/<key hex>/submit-<n>.sh       the job script of each submission
 *   .stage/slurm/<key hex>/staging/            what `stage exec` writes (.shards/<i>/ for shards)
 *   .stage/slurm/<key hex>/markers/exit[.i].rc each task's exit status
 *   .stage/slurm/<key hex>/logs/               SLURM's output files (<job>.out, <array>_<i>.out), the server's log
 */
import {existsSync, readFileSync, rmSync} from 'node:fs';
import {join} from 'node:path';
import {writeFileAtomic} from '../../util/fs.js';
import {slurmJobId, type SlurmJobId} from './ids.js';
import {markerFileFor, parseExitMarker} from './marker.js';
import type {ShardAttempts} from './policy.js';

export interface JobLayout {
  readonly dir: string;
  readonly record: string;
  readonly staging: string;
  readonly markers: string;
  /** The marker path given to the job script; array tasks insert their index. */
  readonly marker: string;
  readonly logs: string;
  readonly serverLog: string;
}

/**
 * Where a key's job files live. SLURM jobs and local runs of the job script get separate
 * directories: a local run must never clear the staging of a SLURM job that is still running.
 */
export function jobLayout(root: string, key: string, kind: 'slurm' | 'local'): JobLayout {
  const hex = key.slice(key.indexOf(':') + 1).replace(/[^0-9A-Za-z]/g, '_');
  const dir = join(root, '.stage', kind === 'slurm' ? 'slurm' : 'local-jobs', hex);
  const markers = join(dir, 'markers');
  const logs = join(dir, 'logs');
  return {
    dir, record: join(dir, 'job.json'), staging: join(dir, 'staging'), markers, marker: join(markers, 'exit.rc'),
    logs, serverLog: join(logs, 'server.log'),
  };
}

/** The marker of one shard; `sharded` false means the target runs as one plain job. */
export function markerOf(layout: JobLayout, index: number, sharded: boolean): string {
  return markerFileFor(layout.marker, sharded ? index : undefined);
}

/** A task's exit status from its marker, or undefined when there is none (yet) or it is unreadable. */
export function readMarker(path: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  return parseExitMarker(text);
}

/** SLURM's output file for one task: `--output` is `<logs>/%A_%a.out` for arrays, `<logs>/%j.out` otherwise. */
export function taskLogPath(layout: JobLayout, jobId: string, index: number, sharded: boolean): string {
  return join(layout.logs, sharded ? `${jobId}_${index}.out` : `${jobId}.out`);
}

/** One submitted job that has shards still to finish. */
export interface FollowedJob {
  /** The id sbatch printed: the array's id for a sharded target. */
  readonly jobId: SlurmJobId;
  /** The shard indices it runs ([0] for a target that is not sharded). */
  readonly indices: readonly number[];
  readonly submittedAt: string;
}

/** job.json: what a restarted build needs to follow the jobs instead of submitting them again. */
export interface JobRecord {
  readonly version: 1;
  readonly target: string;
  readonly key: string;
  readonly name: string;
  /** Jobs still followed; a job leaves the list when none of its shards is open any more. */
  readonly jobs: readonly FollowedJob[];
  /** Every job id ever submitted for this key, so a job found by name can be told apart from ours. */
  readonly submitted: readonly string[];
  /** Submissions so far; numbers the job scripts. */
  readonly submissions: number;
  /** Per shard index: how often it went out again in this build. */
  readonly attempts: Readonly<Record<string, ShardAttempts>>;
}

/**
 * Reads job.json, if there is one for this very key and target. A record that does not parse,
 * or belongs to something else, is ignored (and reported as undefined): the caller submits anew.
 */
export function readJobRecord(path: string, key: string, target: string): JobRecord | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Partial<Record<keyof JobRecord, unknown>>;
  if (r.version !== 1 || r.key !== key || r.target !== target || typeof r.name !== 'string' || !Array.isArray(r.jobs)) return undefined;
  const jobs: FollowedJob[] = [];
  for (const j of r.jobs as unknown[]) {
    const job = j as Partial<Record<keyof FollowedJob, unknown>>;
    if (typeof job.jobId !== 'string' || !Array.isArray(job.indices) || !job.indices.every((i) => Number.isInteger(i) && (i as number) >= 0)) return undefined;
    let id: SlurmJobId;
    try {
      id = slurmJobId(job.jobId);
    } catch {
      return undefined;
    }
    jobs.push({jobId: id, indices: job.indices as number[], submittedAt: typeof job.submittedAt === 'string' ? job.submittedAt : ''});
  }
  const attempts: Record<string, ShardAttempts> = {};
  if (typeof r.attempts === 'object' && r.attempts !== null) {
    for (const [k, v] of Object.entries(r.attempts as Record<string, unknown>)) {
      const a = v as Partial<ShardAttempts>;
      attempts[k] = {resubmits: Number(a.resubmits) || 0, automatic: Number(a.automatic) || 0};
    }
  }
  return {
    version: 1, target, key, name: r.name, jobs,
    submitted: Array.isArray(r.submitted) ? r.submitted.filter((s): s is string => typeof s === 'string') : jobs.map((j) => j.jobId),
    submissions: typeof r.submissions === 'number' ? r.submissions : jobs.length,
    attempts,
  };
}

/** Writes job.json atomically: a reader (or a crash) sees the old record or the new, never half. */
export function writeJobRecord(path: string, record: JobRecord): void {
  writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
}

export function removeJobRecord(path: string): void {
  if (existsSync(path)) rmSync(path, {force: true});
}
