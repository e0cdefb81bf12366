/**
 * Turns a target, its key and the user's site settings into the SlurmJobSpec the job script is
 * rendered from. The same spec serves a SLURM submission and a local run of the script.
 */
import {listOf} from '../../util/list.js';
import {join} from 'node:path';
import {STAGE_CLI} from '../../install.js';
import type {ServerSpec, SlurmRequest} from '../../config/define.js';
import type {SlurmSettings} from '../../config/settings.js';
import type {JobLayout} from './job-dir.js';
import {jobName} from './policy.js';
import {resourcesOf} from './resources.js';
import type {SlurmJobSpec} from './spec.js';


/** A model server may load a large checkpoint: wait this long for /health unless the target says otherwise. */
export const DEFAULT_SERVER_STARTUP_SECONDS = 900;

/** The target a job runs, as the build knows it: what the SLURM driver and a local run both start from. */
export interface JobTarget {
  readonly target: string;
  readonly key: string;
  readonly root: string;
  /** The target's shard count; more than one makes the job an array. */
  readonly shards: number;
  readonly request: SlurmRequest | undefined;
  readonly server: ServerSpec | readonly ServerSpec[] | undefined;
  /** The user's site settings; never from the target or its key. */
  readonly settings: SlurmSettings | undefined;
  /** Threaded from the build, so the node evaluates the same Stagefile the same way. */
  readonly stagefile: string;
  readonly profile: string | undefined;
  readonly cacheDir: string;
}

export interface JobSpecInput extends JobTarget {
  readonly layout: JobLayout;
  /** Where `stage exec` writes: the job directory's staging for SLURM, the target's staging for a local run. */
  readonly staging: string;
  /** The shards this job runs (ignored when the target is not sharded). */
  readonly indices: readonly number[];
  /** The Node binary on the node; default: the one running the driver. */
  readonly nodeBinary?: string | undefined;
}

/**
 * Runs the rest of its arguments with `--log <logs>/<job>[_<task>].rule.log` added: the rule's own
 * log, one per task and attempt, next to SLURM's output file of that task. (The path needs the
 * job and task ids, which only the shell on the node knows.) Outside SLURM the job is "local".
 */
const WITH_RULE_LOG = 'logs=$1; shift; exec "$@" --log "$logs/${SLURM_ARRAY_JOB_ID:-${SLURM_JOB_ID:-local}}${SLURM_ARRAY_TASK_ID:+_$SLURM_ARRAY_TASK_ID}.rule.log"';

/**
 * The spec of one submission. The command is `stage exec <target> --key K --staging DIR` (plus
 * `--shard $SLURM_ARRAY_TASK_ID` for arrays), started through a one-line shell that adds the
 * rule's log file. When the rule fails, stage exec prints the failure and the end of that log,
 * so SLURM's output file ends with what went wrong. The output file is opened in append mode:
 * a requeued job adds to it rather than wiping the first attempt's lines.
 */
export function buildJobSpec(input: JobSpecInput): SlurmJobSpec {
  const sharded = input.shards > 1;
  const site = input.settings ?? {};
  const command = [
    'bash', '-c', WITH_RULE_LOG, 'stage-exec', input.layout.logs,
    input.nodeBinary ?? process.execPath, STAGE_CLI, 'exec', input.target,
    '--key', input.key, '--staging', input.staging, '--cache-dir', input.cacheDir, '-f', input.stagefile,
    ...(input.profile !== undefined ? ['--profile', input.profile] : []),
  ];
  const server = input.server;
  return {
    name: jobName(input.key, input.target),
    logPath: join(input.layout.logs, sharded ? '%A_%a.out' : '%j.out'),
    workDir: input.root,
    resources: resourcesOf(input.request),
    site: {
      partition: site.partition, account: site.account, qos: site.qos, constraint: site.constraint,
      // Last, so a site option cannot turn it off: see above.
      extraOptions: [...(site.extraOptions ?? []), '--open-mode=append'],
    },
    array: sharded ? {indices: input.indices, maxParallel: input.request?.maxParallel} : undefined,
    environment: site.environment,
    server: server === undefined ? undefined : gpuSlices(listOf(server)).map(({s, gpus}, i) => ({
      command: s.command, urlEnv: s.urlEnv, urlPath: s.urlPath,
      startupTimeoutSeconds: s.startupTimeoutSeconds ?? DEFAULT_SERVER_STARTUP_SECONDS,
      // The first server keeps the usual log name; others get their own beside it.
      logPath: i === 0 ? input.layout.serverLog : input.layout.serverLog.replace(/(\.log)?$/, `-${i + 1}$1`),
      gpus,
    })),
    command,
    arrayTaskFlag: sharded ? '--shard' : undefined,
    markerPath: input.layout.marker,
  };
}

/** Each server that asks for GPUs gets the next ones of the job's list, in the order listed. */
export function gpuSlices(servers: readonly ServerSpec[]): {s: ServerSpec; gpus: {offset: number; count: number} | undefined}[] {
  let offset = 0;
  return servers.map((s) => {
    if (s.gpus === undefined) return {s, gpus: undefined};
    if (!Number.isInteger(s.gpus) || s.gpus < 1) throw new Error(`A model server's gpus must be a whole number of at least 1, not ${s.gpus}`);
    const gpus = {offset, count: s.gpus};
    offset += s.gpus;
    return {s, gpus};
  });
}
