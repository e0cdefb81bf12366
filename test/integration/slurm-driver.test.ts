/**
 * The SLURM executor through the CLI, on the real single-node cluster of ci/slurm:
 *
 *   bash ci/slurm/start.sh && . /tmp/stage-slurm/env.sh
 *   npm run build && STAGE_TEST_SLURM=1 npx vitest run test/integration/slurm-driver.test.ts
 *
 * Each test is a workspace whose Stagefile sends targets to SLURM; the CLI submits, follows and
 * collects exactly as for a user. Tests wait on real state (files the jobs write, job.json,
 * scontrol), never on sleeps. Submissions are counted with a PATH wrapper around the real sbatch.
 * The time-limit case lives in slurm-timeout.test.ts so that its minute overlaps with these.
 */
import {existsSync, mkdirSync, readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect} from 'vitest';
import type {Failure} from '../../src/event.js';
import {describeFailure} from '../../src/report/human-logger.js';
import {countingSbatch, ofType, sbatchCalls, slurmConfig} from '../util/fake-slurm/fake-slurm.js';
import {expectedSquares, serverStagefile, squaresStagefile} from '../util/fake-slurm/stagefiles.js';
import {test, waitFor, type Rig} from '../util/rig.js';

const enabled = process.env['STAGE_TEST_SLURM'] === '1';
/** Generous: a loaded two-core machine, SLURM's once-a-second scheduling, CLI start-up. */
const DEADLINE_MS = 90_000;

/** Workspaces of this file: jobs still running from them are cancelled after the last test. */
const workspaces = new Set<string>();

/** The environment of a CLI run: fast polling, and sbatch calls counted in `<rig>/../sbatch.log`. */
function envFor(rig: Rig, extra: Record<string, unknown> = {}): {env: Record<string, string>; sbatchLog: string} {
  workspaces.add(rig.dir);
  const sbatchLog = join(rig.dir, '..', 'sbatch.log');
  return {env: {...slurmConfig(join(rig.dir, '..', 'config.json'), extra), ...countingSbatch(sbatchLog)}, sbatchLog};
}

/** SLURM's record of a job, as `scontrol -o show job` prints it (one line per task). */
async function scontrol(jobId: string): Promise<string> {
  const r = await execa('scontrol', ['-o', 'show', 'job', jobId], {reject: false});
  return r.stdout;
}

/** Polls scontrol until every task of the job has left PENDING/RUNNING/COMPLETING; returns the JobState words. */
async function finalStates(jobId: string): Promise<string[]> {
  let states: string[] = [];
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    states = [...(await scontrol(jobId)).matchAll(/JobState=(\S+)/g)].map((m) => m[1]!);
    if (states.length > 0 && states.every((s) => !/^(PENDING|RUNNING|COMPLETING|CONFIGURING)$/.test(s))) return states;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${states.join(',')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function jobDirs(rig: Rig): string[] {
  const dir = rig.path('.stage/slurm');
  return existsSync(dir) ? readdirSync(dir) : [];
}

function jobRecord(rig: Rig): {jobs: {jobId: string; indices: number[]}[]} | undefined {
  for (const d of jobDirs(rig)) {
    const p = rig.path(`.stage/slurm/${d}/job.json`);
    if (existsSync(p)) {
      try {
        return JSON.parse(readFileSync(p, 'utf8')) as {jobs: {jobId: string; indices: number[]}[]};
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

describe.skipIf(!enabled)('the SLURM executor on the local cluster', () => {
  beforeAll(async () => {
    if (process.env['SLURM_CONF'] === undefined) throw new Error('SLURM_CONF is not set: run ci/slurm/start.sh and source /tmp/stage-slurm/env.sh');
    const ping = await execa('scontrol', ['ping'], {reject: false});
    if (!/is UP/.test(ping.stdout)) throw new Error(`slurmctld does not answer: ${ping.stdout}${ping.stderr}`);
  });

  afterAll(async () => {
    // A test that failed half-way must not leave a job holding a CPU (or waiting for a file) for minutes.
    const q = await execa('squeue', ['--noheader', '--format=%A|%Z'], {reject: false});
    const ours = q.stdout.split('\n').map((l) => l.split('|')).filter(([, dir]) => dir !== undefined && workspaces.has(dir.trim())).map(([id]) => id!.trim());
    if (ours.length > 0) await execa('scancel', ours, {reject: false});
  });

  test('a plain target runs as one job with a GPU; the next build is a no-op', async ({rig}) => {
    rig.write({'Stagefile.ts': squaresStagefile({shards: 1, slurm: "{time: '5', mem: '100M', gpus: 1}"})});
    const {env, sbatchLog} = envFor(rig);
    const plan = await rig.run(['plan'], env);
    expect(plan.stdout).toContain('slurm: 1×gpu, 100M, time limit 00:05:00 → ≤0.08 GPU-hours');
    expect(plan.stdout).toContain('SLURM: 1 target as 1 job task, ≤0.08 GPU-hours at most (GPUs × time limit × shards)');
    const json = JSON.parse((await rig.run(['plan', '--json'], env)).stdout) as {targets: {gpu?: unknown}[]};
    expect(json.targets[0]!.gpu).toEqual({gpus: 1, mem: '100M', time: '5', shards: 1, gpuHours: 5 / 60});
    const r = await rig.run(['build'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(rig.read('out/squares.jsonl')).toBe(expectedSquares(7, 1));
    const [submitted] = ofType(r.events, 'slurm-submitted');
    expect(submitted).toMatchObject({target: 'squares', shards: [], resumed: false});
    expect(await finalStates(submitted!.jobId)).toEqual(['COMPLETED']);
    expect(await scontrol(submitted!.jobId)).toMatch(/JobName=stage-[0-9a-f]{8}-squares .*TresPerNode=gres:gpu:1/);
    expect(ofType(r.events, 'slurm-state').at(-1)).toMatchObject({jobId: submitted!.jobId, state: 'COMPLETED', done: 1, total: 1});
    // The job logs end up in the target's log; the job directory is gone.
    expect(rig.read('.stage/logs/squares.log')).toMatch(new RegExp(`stage: job ${submitted!.jobId} on .*shard 0 of 1 in job ${submitted!.jobId}`, 's'));
    expect(jobDirs(rig)).toEqual([]);
    const again = await rig.run(['build'], env);
    expect(ofType(again.events, 'target-fresh')).toHaveLength(1);
    expect(sbatchCalls(sbatchLog)).toHaveLength(1);
  });

  test('a sharded target goes out as ONE array (3 shards, at most 2 at once) and merges in shard order', async ({rig}) => {
    rig.write({'Stagefile.ts': squaresStagefile({shards: 3, slurm: "{time: '5', mem: '100M', maxParallel: 2}"})});
    const {env, sbatchLog} = envFor(rig);
    const plan = await rig.run(['plan'], env);
    expect(plan.stdout).toMatch(/slurm: no GPU, 100M, time limit 00:05:00 × 3 shards/);
    const r = await rig.run(['build'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(rig.read('out/squares.jsonl')).toBe(expectedSquares(7, 3));
    const submitted = ofType(r.events, 'slurm-submitted');
    expect(submitted.map((e) => e.shards)).toEqual([[0, 1, 2]]);
    expect(sbatchCalls(sbatchLog)).toHaveLength(1);
    const show = await scontrol(submitted[0]!.jobId);
    expect([...show.matchAll(/ArrayTaskId=(\d+) /g)].map((m) => Number(m[1])).sort()).toEqual([0, 1, 2]);
    expect(show).toMatch(/ArrayTaskThrottle=2/);
    expect(await finalStates(submitted[0]!.jobId)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
  });

  test('a failing job: the failure names the job, its exit status and the end of its log', async ({rig}) => {
    rig.write({'Stagefile.ts': squaresStagefile({
      shards: 1, extra: "target('broken', {out: 'out/broken.txt', run: sh('echo about to fail; echo boom-line >&2; exit 7'), executor: 'slurm', slurm: {time: '5', mem: '100M'}});",
    })});
    const {env} = envFor(rig);
    const r = await rig.run(['build', 'broken'], env);
    expect(r.code).toBe(1);
    const [submitted] = ofType(r.events, 'slurm-submitted');
    const [failed] = ofType(r.events, 'target-failed');
    expect(failed?.failure).toMatchObject({kind: 'slurm', jobId: submitted!.jobId, state: 'FAILED'});
    const f = failed!.failure as Extract<Failure, {kind: 'slurm'}>;
    expect(f.message).toMatch(/failed with exit status 1: the rule failed/);
    expect(f.logTail).toContain('boom-line');
    expect(f.logTail).toContain('command exited with code 7');
    expect(f.log).toMatch(new RegExp(`/logs/${submitted!.jobId}\\.out$`));
    expect(await finalStates(submitted!.jobId)).toEqual(['FAILED']);
    expect(await scontrol(submitted!.jobId)).toMatch(/ExitCode=1:0/);
    expect(rig.exists('out/broken.txt')).toBe(false);
    expect(describeFailure(f)).toMatch(new RegExp(`^SLURM job ${submitted!.jobId} failed with exit status 1.*\\[FAILED\\]\\n(.*\\n)*.*boom-line(.*\\n)*  full log: .*\\.out$`));
  });

  test('sbatch refusing an impossible request is reported with its own message', async ({rig}) => {
    rig.write({'Stagefile.ts': squaresStagefile({shards: 1, slurm: "{time: '5', mem: '100M', gpus: 99}"})});
    const {env, sbatchLog} = envFor(rig);
    const r = await rig.run(['build'], env);
    expect(r.code).toBe(1);
    const [failed] = ofType(r.events, 'target-failed');
    expect(failed?.failure).toMatchObject({kind: 'slurm', jobId: null, state: 'REJECTED'});
    expect(failed!.failure.kind === 'slurm' && failed!.failure.message).toMatch(/sbatch refused the job: .*Requested node configuration is not available/);
    expect(sbatchCalls(sbatchLog)).toHaveLength(1);
  });

  test('a failed shard is resubmitted alone, as an array of just that index', async ({rig}) => {
    const flaky = `
const flaky = rule('flaky', ({shard, out, root}) => {
  const index = shard?.index ?? 0;
  const mark = join(root, 'tried-' + index);
  if (index === 1 && !existsSync(mark)) {
    writeFileSync(mark, '');
    throw new Error('shard 1 fails on its first try');
  }
  writeFileSync(out, index + '\\n');
});
target('flaky', {out: 'out/flaky.txt', run: flaky, shards: 3, executor: 'slurm', slurm: {time: '5', mem: '100M', retries: 1}});`;
    rig.write({'Stagefile.ts': squaresStagefile({shards: 1, extra: flaky})});
    const {env, sbatchLog} = envFor(rig);
    const r = await rig.run(['build', 'flaky'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(rig.read('out/flaky.txt')).toBe('0\n1\n2\n');
    const submitted = ofType(r.events, 'slurm-submitted');
    expect(submitted.map((e) => e.shards), JSON.stringify(ofType(r.events, 'warning'))).toEqual([[0, 1, 2], [1]]);
    expect(sbatchCalls(sbatchLog)).toHaveLength(2);
    expect(ofType(r.events, 'warning').map((w) => w.message)).toEqual([
      expect.stringMatching(new RegExp(`SLURM job ${submitted[0]!.jobId}_1 \\(shard 1\\) failed with exit status 1.*submitting shard 1 again \\(retry 1 of 1\\)`)),
    ]);
    expect(await finalStates(submitted[1]!.jobId)).toEqual(['COMPLETED']);
    expect(await scontrol(submitted[1]!.jobId)).toMatch(/ArrayTaskId=1 /);
    expect(rig.read('.stage/logs/flaky.log')).toContain('shard 1 fails on its first try');
  });

  test('Ctrl-C cancels the running job (scancel) and forgets it', async ({rig}) => {
    const slow = `
const slow = rule('slow', async ({out, root}) => {
  writeFileSync(join(root, 'started'), String(process.pid));
  await new Promise((resolve) => setTimeout(resolve, 600_000));
  writeFileSync(out, 'too late\\n');
});
target('slow', {out: 'out/slow.txt', run: slow, executor: 'slurm', slurm: {time: '10', mem: '100M'}});`;
    rig.write({'Stagefile.ts': squaresStagefile({shards: 1, extra: slow})});
    const {env} = envFor(rig);
    const run = rig.spawn(['build', 'slow', '--reporter', 'json'], env);
    await waitFor(() => rig.exists('started') && jobRecord(rig) !== undefined, 'the job to start running', DEADLINE_MS);
    const jobId = jobRecord(rig)!.jobs[0]!.jobId;
    expect(await scontrol(jobId)).toMatch(/JobState=RUNNING/);
    run.child.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(await finalStates(jobId)).toEqual(['CANCELLED']);
    expect(ofType(r.events, 'target-skipped')).toEqual([{type: 'target-skipped', target: 'slow', because: 'the build was interrupted'}]);
    expect(jobRecord(rig)).toBeUndefined();
    expect(rig.exists('out/slow.txt')).toBe(false);
  });

  test('kill -9 of the driver while the job runs: the restarted build follows the same job and finishes', async ({rig}) => {
    const gated = `
const gated = rule('gated', async ({out, root}) => {
  writeFileSync(join(root, 'started'), '');
  while (!existsSync(join(root, 'release'))) await new Promise((resolve) => setTimeout(resolve, 50));
  writeFileSync(out, 'released\\n');
});
target('gated', {out: 'out/gated.txt', run: gated, shards: 2, executor: 'slurm', slurm: {time: '10', mem: '100M'}});`;
    rig.write({'Stagefile.ts': squaresStagefile({shards: 1, extra: gated})});
    const {env, sbatchLog} = envFor(rig);
    const first = rig.spawn(['build', 'gated', '--reporter', 'json'], env);
    await waitFor(() => rig.exists('started') && jobRecord(rig) !== undefined, 'the job to start', DEADLINE_MS);
    const jobId = jobRecord(rig)!.jobs[0]!.jobId;
    first.child.kill('SIGKILL');
    await first.done;
    expect(await scontrol(jobId)).toMatch(/JobState=(RUNNING|PENDING)/);

    const second = rig.spawn(['build', 'gated', '--reporter', 'json'], env);
    await waitFor(() => ofType(second.events(), 'slurm-state').length > 0, 'the restarted build to follow the job', DEADLINE_MS);
    expect(ofType(second.events(), 'slurm-submitted')).toEqual([{type: 'slurm-submitted', target: 'gated', jobId, shards: [0, 1], resumed: true}]);
    rig.write({release: ''});
    const r = await second.done;
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(rig.read('out/gated.txt')).toBe('released\nreleased\n');
    expect(sbatchCalls(sbatchLog)).toHaveLength(1);
    expect(await finalStates(jobId)).toEqual(['COMPLETED', 'COMPLETED']);
  });

  test('a model server starts inside the job; the rule reaches it through the URL in its env', async ({rig}) => {
    const pids = join(rig.dir, '..', 'pids');
    mkdirSync(pids);
    rig.write({'Stagefile.ts': serverStagefile({executor: 'slurm', shards: 1, pidDir: pids})});
    const {env} = envFor(rig);
    const r = await rig.run(['build'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(JSON.parse(rig.read('out/asked.jsonl'))).toEqual({url: 'http://127.0.0.1:PORT', status: 200, echo: 'shard-0'});
    const log = rig.read('.stage/logs/ask.log');
    expect(log).toMatch(/stage: the model server is ready at http:\/\/127\.0\.0\.1:\d+/);
    // The server was stopped with the job.
    const started = readdirSync(pids).filter((f) => f.startsWith('server.')).map((f) => Number(f.slice('server.'.length)));
    expect(started).toHaveLength(1);
    expect(() => process.kill(started[0]!, 0)).toThrow();
  });
});
