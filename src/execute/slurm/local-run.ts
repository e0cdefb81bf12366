/**
 * The job script without SLURM: a target with `executor: 'local'` and a model server runs the
 * very script a SLURM job would (environment, model-server preamble, `stage exec`, exit marker)
 * as a local bash process, one shard after another with SLURM_ARRAY_TASK_ID set. A one-GPU
 * workstation thereby exercises exactly the job logic a cluster runs.
 */
import {mkdirSync, rmSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {Failure} from '../../event.js';
import {messageOf} from '../../util/result.js';
import {shellJoin} from '../../util/shell.js';
import {tail} from '../local.js';
import {appendJobLogs} from './collect.js';
import {mergeShards, shardStaging} from '../shards.js';
import type {JobRequest, JobResult} from './driver.js';
import {jobLayout, markerOf, readMarker} from './job-dir.js';
import {buildJobSpec} from './job-spec.js';
import {renderJobScript} from './script.js';

/** Time the script gets to stop its model server after SIGTERM before the group is killed. */
const STOP_GRACE_MS = 15_000;

/**
 * Runs the rendered job script locally. `stage exec` writes straight into the target's staging
 * (shards under `.shards/<i>/`, then merged), and the script's output and the rule's log go to
 * the target's log.
 */
export async function runJobScriptLocally(request: JobRequest): Promise<JobResult> {
  const layout = jobLayout(request.root, request.key, 'local');
  rmSync(layout.dir, {recursive: true, force: true});
  mkdirSync(layout.markers, {recursive: true});
  mkdirSync(layout.logs, {recursive: true});
  const sharded = request.shards > 1;
  const indices = Array.from({length: sharded ? request.shards : 1}, (_, i) => i);
  let script: string;
  try {
    script = renderJobScript(buildJobSpec({...request, layout, indices}));
  } catch (e) {
    return {failure: {kind: 'exception', message: `the job script cannot be written: ${messageOf(e)}`, stack: '', log: request.log}, cost: null};
  }
  const path = join(layout.dir, 'job.sh');
  writeFileSync(path, script, {mode: 0o755});
  try {
    for (const index of indices) {
      if (sharded) mkdirSync(shardStaging(request.staging, index), {recursive: true});
      const failure = await runOnce(request, path, sharded ? index : undefined, markerOf(layout, index, sharded));
      if (failure) return {failure, cost: null};
    }
  } finally {
    // The rule's and the model server's logs go into the target's log; the rest is scratch.
    appendJobLogs(layout.logs, ['local', 'server'], request.log);
    rmSync(layout.dir, {recursive: true, force: true});
  }
  if (!sharded) return {failure: undefined, cost: null};
  const missing = mergeShards(request.staging, request.outputs.map((o) => o.path), request.shards);
  return {failure: missing ? {kind: 'missing-output', path: missing} : undefined, cost: null};
}

async function runOnce(request: JobRequest, script: string, shard: number | undefined, marker: string): Promise<Failure | undefined> {
  const {execa} = await import('execa');
  const env: Record<string, string | undefined> = {...process.env, SLURM_ARRAY_TASK_ID: shard === undefined ? undefined : String(shard)};
  if (shard === undefined) delete env['SLURM_ARRAY_TASK_ID'];
  const toLog = {file: request.log, append: true} as const;
  const child = execa('bash', [script], {
    cwd: request.root, env, extendEnv: false, stdin: 'ignore', stdout: toLog, stderr: toLog, reject: false, detached: true,
  });
  // The script traps SIGTERM: it stops the model server, then ends itself with that signal.
  const stop = (): void => {
    signalGroup(child.pid, 'SIGTERM');
    setTimeout(() => signalGroup(child.pid, 'SIGKILL'), STOP_GRACE_MS).unref();
  };
  request.signal.addEventListener('abort', stop, {once: true});
  const result = await child;
  request.signal.removeEventListener('abort', stop);
  if (request.signal.aborted) return {kind: 'cancelled'};
  const status = readMarker(marker) ?? result.exitCode;
  if (status === 0) return undefined;
  const command = shellJoin(['bash', script]) + (shard === undefined ? '' : ` (SLURM_ARRAY_TASK_ID=${shard})`);
  if (status === undefined) return {kind: 'signal', signal: result.signal ?? 'unknown', command, logTail: tail(request.log), log: request.log};
  return {kind: 'exit-code', code: status, command, logTail: tail(request.log), log: request.log};
}

function signalGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
