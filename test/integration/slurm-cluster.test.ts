/**
 * Real jobs on a real (single-node) SLURM cluster, through the same pieces the SLURM
 * executor uses: scripts from renderJobScript, `sbatch --parsable`, and the parsers of
 * state.ts. Needs a running cluster:
 *
 *   eval "$(ci/slurm/start.sh)"          # or: . /tmp/stage-slurm/env.sh
 *   STAGE_TEST_SLURM=1 npx vitest run test/integration/slurm-cluster.test.ts
 *
 * Everything waits by polling scontrol under a deadline; nothing sleeps to synchronise.
 * The timeout case costs a bit over a minute, because SLURM's shortest limit is one
 * minute and limits are enforced on a ~30 s sweep; the tests run concurrently so the
 * rest overlaps with it.
 */
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {randomBytes} from 'node:crypto';
import {execa} from 'execa';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {SlurmJobId} from '../../src/execute/slurm/ids.js';
import {markerFileFor, parseExitMarker} from '../../src/execute/slurm/marker.js';
import {renderJobScript, sbatchArgs} from '../../src/execute/slurm/script.js';
import type {SbatchOptions} from '../../src/execute/slurm/script.js';
import type {SlurmJobSpec} from '../../src/execute/slurm/spec.js';
import type {SlurmJobRecord} from '../../src/execute/slurm/state.js';
import {
  addressOf, isTerminal, isUnknownJobError, parseSbatchOutput, parseScontrolShowJob, parseSqueue, scontrolShowJobArgs,
  squeueArgs,
} from '../../src/execute/slurm/state.js';

const enabled = process.env['STAGE_TEST_SLURM'] === '1';
const POLL_MS = 250;
/** Generous: a loaded CI machine, plus SLURM's once-a-second scheduling ticks. */
const QUICK_JOB_DEADLINE_MS = 90_000;
/** A one-minute limit is enforced on a ~30 s sweep, plus KillWait (5 s here). */
const TIMEOUT_JOB_DEADLINE_MS = 240_000;

/** One id per test run, in every job name, so queries and cleanup never touch other jobs. */
const runId = randomBytes(4).toString('hex');
const submitted: SlurmJobId[] = [];
const timings: string[] = [];
let work = '';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function spec(name: string, overrides: Partial<SlurmJobSpec>): SlurmJobSpec {
  return {
    name: `stage-it-${runId}-${name}`,
    logPath: join(work, 'logs', overrides.array ? '%x-%A_%a.out' : '%x-%j.out'),
    workDir: work,
    resources: {time: '5', cpusPerTask: 1, mem: '100M'},
    site: {partition: process.env['STAGE_SLURM_PARTITION'] ?? 'debug'},
    command: ['true'],
    markerPath: join(work, 'markers', `${name}.rc`),
    ...overrides,
  };
}

async function submit(job: SlurmJobSpec, options?: SbatchOptions): Promise<{id: SlurmJobId; submittedAt: number}> {
  const script = join(work, 'scripts', `${job.name}.sh`);
  writeFileSync(script, renderJobScript(job));
  const started = performance.now();
  const result = await execa('sbatch', sbatchArgs(script, options));
  const submittedAt = performance.now();
  const {jobId} = parseSbatchOutput(result.stdout);
  submitted.push(jobId);
  timings.push(`${job.name}: sbatch took ${(submittedAt - started).toFixed(1)} ms -> job ${jobId}`);
  return {id: jobId, submittedAt};
}

async function show(id: SlurmJobId): Promise<SlurmJobRecord[]> {
  const result = await execa('scontrol', scontrolShowJobArgs(id), {reject: false});
  if (result.exitCode !== 0) {
    const why = isUnknownJobError(result.stderr) ? 'SLURM no longer knows it (purged after MinJobAge?)' : result.stderr;
    throw new Error(`scontrol show job ${id} failed: ${why}`);
  }
  return parseScontrolShowJob(result.stdout);
}

/** Polls scontrol until `done` holds for the job's records, or the deadline passes. */
async function pollJob(
  id: SlurmJobId, done: (records: SlurmJobRecord[]) => boolean, what: string, deadlineMs = QUICK_JOB_DEADLINE_MS,
): Promise<SlurmJobRecord[]> {
  const giveUp = performance.now() + deadlineMs;
  for (;;) {
    const records = await show(id);
    if (done(records)) return records;
    if (performance.now() > giveUp) {
      throw new Error(`Job ${id} did not reach "${what}" within ${deadlineMs} ms; last seen: ${JSON.stringify(records.map((r) => [addressOf(r), r.rawState, r.reason]))}`);
    }
    await sleep(POLL_MS);
  }
}

/** Waits until every record of the job (every task of an array) has finished. */
async function finished(id: SlurmJobId, submittedAt: number, label: string, deadlineMs?: number): Promise<SlurmJobRecord[]> {
  const records = await pollJob(
    id, (rs) => rs.length > 0 && rs.every((r) => isTerminal(r.state) && r.pendingArrayTasks === undefined), 'finished', deadlineMs,
  );
  timings.push(`${label}: submit -> ${records.map((r) => r.rawState).join(',')} seen after ${((performance.now() - submittedAt) / 1000).toFixed(2)} s`);
  return records;
}

function marker(path: string): number | undefined {
  return existsSync(path) ? parseExitMarker(readFileSync(path, 'utf8')) : undefined;
}

describe.skipIf(!enabled)('SLURM jobs on the local test cluster', () => {
  beforeAll(async () => {
    if (process.env['SLURM_CONF'] === undefined) {
      throw new Error('SLURM_CONF is not set: run ci/slurm/start.sh and source the env.sh it writes');
    }
    const ping = await execa('scontrol', ['ping'], {reject: false});
    if (!/is UP/.test(ping.stdout)) throw new Error(`slurmctld does not answer: ${ping.stdout}${ping.stderr}`);
    work = mkdtempSync(join(tmpdir(), 'stage-slurm-it-'));
    for (const dir of ['logs', 'markers', 'scripts']) mkdirSync(join(work, dir));
  });

  afterAll(async () => {
    // Leave nothing queued behind a failed assertion.
    if (submitted.length > 0) await execa('scancel', submitted, {reject: false});
    if (work !== '') rmSync(work, {recursive: true, force: true});
    if (timings.length > 0) console.log(`SLURM timings (run ${runId}):\n  ${timings.join('\n  ')}`);
  });

  it.concurrent('runs a plain job with a GPU and records exit status 0', async () => {
    const job = spec('plain', {
      resources: {time: '5', cpusPerTask: 1, mem: '100M', gpus: 1},
      command: ['bash', '-c', 'echo "hello from job $SLURM_JOB_ID, CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"'],
    });
    const {id, submittedAt} = await submit(job);
    const [record] = await finished(id, submittedAt, 'plain');
    expect(record?.state).toEqual({kind: 'completed'});
    expect(record?.exitCode).toEqual({status: 0, signal: 0});
    expect(marker(job.markerPath)).toBe(0);
    const log = readFileSync(join(work, 'logs', `${job.name}-${id}.out`), 'utf8');
    expect(log).toContain(`hello from job ${id}, CUDA_VISIBLE_DEVICES=0`);
  });

  it.concurrent('runs an array of 3 with at most 2 tasks at a time, one marker per task', async () => {
    // Each task notes when it ran; the throttle is checked on those intervals, which holds
    // however the scheduler happens to interleave the tasks.
    const body = 'date +%s%N > "$1/span.$3.start"; sleep 2; date +%s%N > "$1/span.$3.end"';
    const job = spec('array', {
      array: {indices: [0, 1, 2], maxParallel: 2},
      arrayTaskFlag: '--shard',
      command: ['bash', '-c', body, 'task', join(work, 'markers')],
    });
    const {id, submittedAt} = await submit(job);

    const squeue = parseSqueue((await execa('squeue', squeueArgs([id]))).stdout);
    expect(squeue.length).toBeGreaterThan(0);
    expect(squeue.every((r) => r.arrayJobId === id)).toBe(true);

    const records = await finished(id, submittedAt, 'array of 3 %2');
    expect(records.map((r) => [r.arrayTaskId, r.state.kind]).sort()).toEqual([[0, 'completed'], [1, 'completed'], [2, 'completed']]);
    expect(records.every((r) => r.arrayJobId === id)).toBe(true);
    for (const task of [0, 1, 2]) expect(marker(markerFileFor(job.markerPath, task))).toBe(0);

    const spans = [0, 1, 2].map((t) => ({
      start: BigInt(readFileSync(join(work, 'markers', `span.${t}.start`), 'utf8').trim()),
      end: BigInt(readFileSync(join(work, 'markers', `span.${t}.end`), 'utf8').trim()),
    }));
    const mostAtOnce = Math.max(...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length));
    expect(mostAtOnce).toBeLessThanOrEqual(2);
  });

  it.concurrent('reports a failing job as failed with exit code 3', async () => {
    const job = spec('fail3', {command: ['bash', '-c', 'echo about to fail; exit 3']});
    const {id, submittedAt} = await submit(job);
    const [record] = await finished(id, submittedAt, 'exit 3');
    expect(record?.state).toEqual({kind: 'failed', exitCode: 3, signal: 0});
    expect(record?.reason).toBe('NonZeroExitCode');
    expect(marker(job.markerPath)).toBe(3);
  });

  it.concurrent('cancels a job that can never start because its dependency failed', async () => {
    const first = await submit(spec('dep-parent', {command: ['false']}));
    const job = spec('dep-child', {command: ['touch', join(work, 'dep-child-ran')]});
    const {id, submittedAt} = await submit(job, {dependency: {type: 'afterok', jobs: [first.id]}});
    const [record] = await finished(id, submittedAt, 'afterok on a failure');
    expect(record?.state).toEqual({kind: 'dependency-never-satisfied'});
    expect(existsSync(join(work, 'dep-child-ran'))).toBe(false);
    expect(marker(job.markerPath)).toBeUndefined();
  });

  it.concurrent('serves a model server inside the job and stops it at the end', async () => {
    const serverPid = join(work, 'markers', 'server.pid');
    const server = [
      "const http = require('node:http');",
      "require('node:fs').writeFileSync(process.argv[2], String(process.pid));",
      "http.createServer((req, res) => { res.statusCode = req.url === '/health' ? 200 : 404; res.end('ok'); })",
      "  .listen(Number(process.argv[1]), '127.0.0.1');",
    ].join('\n');
    const client = "fetch(process.env.MODEL_URL + '/health').then((r) => { console.log('client saw', r.status, process.env.MODEL_URL); process.exit(r.ok ? 0 : 1); });";
    const job = spec('server', {
      server: {
        command: [process.execPath, '-e', server, '{port}', serverPid], urlEnv: 'MODEL_URL',
        startupTimeoutSeconds: 60, pollIntervalSeconds: 0.2, logPath: join(work, 'logs', 'server.log'),
      },
      command: [process.execPath, '-e', client],
    });
    const {id, submittedAt} = await submit(job);
    const [record] = await finished(id, submittedAt, 'model server job');
    const log = readFileSync(join(work, 'logs', `${job.name}-${id}.out`), 'utf8');
    expect(record?.state, log).toEqual({kind: 'completed'});
    expect(marker(job.markerPath)).toBe(0);
    expect(log).toMatch(/client saw 200 http:\/\/127\.0\.0\.1:\d+/);
    const pid = Number(readFileSync(serverPid, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it.concurrent('cancels a running job with scancel', async () => {
    const started = join(work, 'markers', 'cancel.started');
    const job = spec('cancel', {command: ['bash', '-c', 'touch "$1"; exec sleep 600', 'bash', started]});
    const {id, submittedAt} = await submit(job);
    await pollJob(id, (rs) => rs[0]?.state.kind === 'running' && existsSync(started), 'running');
    const cancelledAt = performance.now();
    await execa('scancel', [id]);
    const [record] = await finished(id, submittedAt, 'scancel');
    timings.push(`scancel: CANCELLED seen ${(performance.now() - cancelledAt).toFixed(0)} ms after scancel returned`);
    expect(record?.state).toEqual({kind: 'cancelled'});
    expect(record?.exitCode).toEqual({status: 0, signal: 15});
    expect(marker(job.markerPath)).toBeUndefined();
  });

  it.concurrent('stops a job at its time limit and reports a timeout', async () => {
    // "1" (one minute) is the shortest limit SLURM has: "0:01" is rounded up to it.
    const job = spec('timeout', {resources: {time: '1', cpusPerTask: 1, mem: '100M'}, command: ['sleep', '600']});
    const {id, submittedAt} = await submit(job);
    const [record] = await finished(id, submittedAt, 'time limit 1 min', TIMEOUT_JOB_DEADLINE_MS);
    expect(record?.state).toEqual({kind: 'timeout'});
    expect(record?.reason).toBe('TimeLimit');
    expect(marker(job.markerPath)).toBeUndefined();
    const log = readFileSync(join(work, 'logs', `${job.name}-${id}.out`), 'utf8');
    expect(log).toMatch(/DUE TO TIME LIMIT/);
  }, TIMEOUT_JOB_DEADLINE_MS + 30_000);
});
