import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {execa} from 'execa';
import {afterAll, describe, expect, it} from 'vitest';
import {slurmJobId} from '../../src/execute/slurm/ids.js';
import {jobLayout, markerOf, readJobRecord, readMarker, taskLogPath, writeJobRecord, type JobRecord} from '../../src/execute/slurm/job-dir.js';
import {buildJobSpec} from '../../src/execute/slurm/job-spec.js';
import {STAGE_CLI} from '../../src/install.js';
import {endingMessage, shardFailure, stateWord, submitFailure, type ShardContext, type ShardEnding} from '../../src/execute/slurm/outcome.js';
import {
  AUTOMATIC_RETRIES, classifySubmitError, jobName, NO_ATTEMPTS, parseTaskRange, pollDelayMs, pollTiming, retryDecision,
  submitErrorText, submitRetryDelayMs, summarizeStates,
} from '../../src/execute/slurm/policy.js';
import {gpuEstimate, resourcesOf, slurmTimeSeconds} from '../../src/execute/slurm/resources.js';
import {renderJobScript, sbatchDirectives} from '../../src/execute/slurm/script.js';
import {classifyState} from '../../src/execute/slurm/state.js';
import {describeFailure} from '../../src/report/human-logger.js';
import {formatGpu} from '../../src/report/plan-format.js';

const scratch = mkdtempSync(join(tmpdir(), 'stage-slurm-driver-'));
afterAll(() => rmSync(scratch, {recursive: true, force: true}));

describe('poll backoff', () => {
  it('starts at 40 s and grows by half per quiet poll up to 180 s by default', () => {
    const t = pollTiming();
    expect([0, 1, 2, 3, 4, 5, 20].map((n) => pollDelayMs(n, t))).toEqual([40_000, 60_000, 90_000, 135_000, 180_000, 180_000, 180_000]);
    expect(t.markerGraceMs).toBe(90_000);
  });

  it('follows the user config, and a cap below the first pause is lifted to it', () => {
    const t = pollTiming({pollMs: 200, maxPollMs: 1000, markerGraceMs: 0});
    expect([0, 1, 2, 3, 4, 5].map((n) => pollDelayMs(n, t))).toEqual([200, 300, 450, 675, 1000, 1000]);
    expect(t.markerGraceMs).toBe(0);
    expect(pollTiming({pollMs: 60_000, maxPollMs: 1000}).maxPollMs).toBe(60_000);
    expect(pollTiming({pollMs: 500}).maxPollMs).toBe(180_000);
  });

  it('ignores nonsense settings', () => {
    expect(pollTiming({pollMs: -5, maxPollMs: Number.NaN, markerGraceMs: -1})).toEqual({pollMs: 40_000, maxPollMs: 180_000, markerGraceMs: 90_000});
    expect(pollDelayMs(-3, pollTiming())).toBe(40_000);
  });

  it('retries sbatch with doubling pauses, at most a minute', () => {
    const t = pollTiming();
    expect([0, 1, 2, 3, 4, 5].map((n) => submitRetryDelayMs(n, t))).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
    expect(submitRetryDelayMs(0, pollTiming({pollMs: 200}))).toBe(200);
  });
});

describe('job names', () => {
  it('are scoped by the key and name the target, with unsafe characters replaced', () => {
    expect(jobName('xxh64:0123456789abcdef', 'sim/m1/B')).toBe('stage-01234567-sim_m1_B');
    expect(jobName('xxh64:ffffffffffffffff', 'a b"c\\d#e')).toBe('stage-ffffffff-a_b_c_d_e');
  });

  it('stay within 100 characters and are accepted by the job script', () => {
    const name = jobName('xxh64:0123456789abcdef', `family/${'x'.repeat(300)}`);
    expect(name).toHaveLength(100);
    expect(name.startsWith('stage-01234567-family_x')).toBe(true);
    expect(() => sbatchDirectives({name, logPath: '/l/%j.out', resources: {}, site: {}, command: ['true'], markerPath: '/m/x.rc'})).not.toThrow();
  });
});

describe('sbatch errors', () => {
  const a = (stderr: string, exitCode: number | undefined = 1, stdout = ''): Parameters<typeof classifySubmitError>[0] => ({exitCode, stdout, stderr});

  it('treats a busy or unreachable controller as transient', () => {
    for (const stderr of [
      'sbatch: error: Batch job submission failed: Socket timed out on send/recv operation',
      'sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying',
      'sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)',
      'sbatch: error: Batch job submission failed: Resource temporarily unavailable',
      'sbatch: error: slurm_receive_msg: Zero Bytes were transmitted or received',
    ]) expect(classifySubmitError(a(stderr)), stderr).toBe('transient');
  });

  it('treats no job id, no answer or no output at all as transient', () => {
    expect(classifySubmitError(a('', 0, ''))).toBe('transient');
    expect(classifySubmitError(a('', 0, 'Submitted batch job'))).toBe('transient');
    expect(classifySubmitError({exitCode: undefined, stdout: '', stderr: '', timedOut: true})).toBe('transient');
    expect(classifySubmitError(a('', 1, ''))).toBe('transient');
  });

  it('treats impossible requests as rejected, and a missing sbatch as unavailable', () => {
    for (const stderr of [
      'sbatch: error: Batch job submission failed: Requested node configuration is not available',
      'sbatch: error: Batch job submission failed: More processors requested than permitted',
      'sbatch: error: Memory specification can not be satisfied',
      'sbatch: error: invalid partition specified: gpu-huge',
      'sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified',
    ]) expect(classifySubmitError(a(stderr)), stderr).toBe('rejected');
    expect(classifySubmitError({exitCode: undefined, stdout: '', stderr: 'spawn sbatch ENOENT', notFound: true})).toBe('unavailable');
  });

  it('keeps sbatch\'s words without its prefixes', () => {
    expect(submitErrorText(a('sbatch: error: Memory specification can not be satisfied\nsbatch: error: Batch job submission failed: Requested node configuration is not available')))
      .toBe('Memory specification can not be satisfied; Batch job submission failed: Requested node configuration is not available');
    expect(submitErrorText(a('', 0))).toBe('sbatch printed no job id');
  });
});

describe('retry decisions', () => {
  const nodeFail = classifyState('NODE_FAIL');
  const failed = classifyState('FAILED', 'NonZeroExitCode', {status: 1, signal: 0});

  it('gives a cluster fault one free retry, then uses the target\'s retries', () => {
    expect(AUTOMATIC_RETRIES).toBe(1);
    expect(retryDecision(nodeFail, NO_ATTEMPTS, 0)).toBe('automatic');
    expect(retryDecision(nodeFail, {resubmits: 0, automatic: 1}, 0)).toBe('give-up');
    expect(retryDecision(nodeFail, {resubmits: 0, automatic: 1}, 2)).toBe('retry');
    expect(retryDecision(classifyState('PREEMPTED'), NO_ATTEMPTS, 0)).toBe('automatic');
    expect(retryDecision({kind: 'lost'}, NO_ATTEMPTS, 0)).toBe('automatic');
  });

  it('retries the job\'s own failures only as often as the target allows', () => {
    expect(retryDecision(failed, NO_ATTEMPTS, 0)).toBe('give-up');
    expect(retryDecision(failed, NO_ATTEMPTS, 2)).toBe('retry');
    expect(retryDecision(failed, {resubmits: 2, automatic: 0}, 2)).toBe('give-up');
    for (const s of ['TIMEOUT', 'OUT_OF_MEMORY', 'CANCELLED']) expect(retryDecision(classifyState(s), NO_ATTEMPTS, 0), s).toBe('give-up');
  });
});

describe('array task ranges and state summaries', () => {
  it('reads SLURM\'s notations for tasks not started yet', () => {
    expect(parseTaskRange('1-2%1')).toEqual([1, 2]);
    expect(parseTaskRange('[0-3]')).toEqual([0, 1, 2, 3]);
    expect(parseTaskRange('3,5-7')).toEqual([3, 5, 6, 7]);
    expect(parseTaskRange('0-10:5')).toEqual([0, 5, 10]);
    expect(parseTaskRange('7')).toEqual([7]);
    for (const bad of ['', 'x', '3-1', '1-', '4294967294-4294967295000000']) expect(parseTaskRange(bad), bad).toBeUndefined();
  });

  it('sums up task states, most common first', () => {
    expect(summarizeStates(['RUNNING'])).toBe('RUNNING');
    expect(summarizeStates(['COMPLETED', 'COMPLETED'])).toBe('COMPLETED');
    expect(summarizeStates(['PENDING', 'RUNNING', 'PENDING'])).toBe('2 PENDING, 1 RUNNING');
    expect(summarizeStates(['RUNNING', 'COMPLETED'])).toBe('1 COMPLETED, 1 RUNNING');
    expect(summarizeStates([])).toBe('');
  });
});

describe('failure messages', () => {
  const c: ShardContext = {index: 2, sharded: true, jobId: '77', request: {time: '4:00:00', mem: '64G'}, submissions: 1};
  const ending = (raw: string, reason?: string): ShardEnding => ({kind: 'state', state: classifyState(raw, reason, {status: 0, signal: 15}), raw});

  it('says what each end means and what to change', () => {
    expect(endingMessage({kind: 'exit', status: 1}, c)).toBe('(shard 2) failed with exit status 1: the rule failed (its error is at the end of the log)');
    expect(endingMessage({kind: 'exit', status: 3}, c)).toMatch(/stage exec refused to run it: the inputs changed after the job was submitted/);
    expect(endingMessage({kind: 'exit', status: 78}, c)).toMatch(/environment could not be prepared/);
    expect(endingMessage({kind: 'exit', status: 69}, c)).toMatch(/model server died or never became healthy/);
    expect(endingMessage(ending('TIMEOUT', 'TimeLimit'), c)).toBe('(shard 2) ran out of time and was stopped by SLURM (time limit 4:00:00): raise slurm.time');
    expect(endingMessage(ending('OUT_OF_MEMORY'), c)).toBe('(shard 2) used more memory than it asked for and was killed (mem 64G): raise slurm.mem');
    expect(endingMessage(ending('NODE_FAIL'), {...c, submissions: 2})).toBe('(shard 2) lost its node (the node failed), submitted 2 times');
    expect(endingMessage(ending('PREEMPTED'), c)).toBe('(shard 2) was preempted by a higher-priority job and not requeued');
    expect(endingMessage(ending('CANCELLED'), c)).toBe('(shard 2) was cancelled (scancel, or by an administrator)');
    expect(endingMessage(ending('CANCELLED', 'DependencyNeverSatisfied'), c)).toMatch(/can never start/);
    expect(endingMessage({kind: 'state', state: classifyState('FAILED', 'JobLaunchFailure', {status: 0, signal: 9}), raw: 'FAILED'}, c)).toBe('(shard 2) was killed by signal 9');
    expect(endingMessage({kind: 'state', state: classifyState('FAILED', 'NonZeroExitCode', {status: 5, signal: 0}), raw: 'FAILED'}, {...c, sharded: false}))
      .toBe('failed with exit status 5: see the job log');
    expect(endingMessage({kind: 'no-marker', raw: 'COMPLETED', graceMs: 90_000}, c)).toMatch(/COMPLETED according to SLURM, but left no exit marker within 90 s/);
    expect(endingMessage({kind: 'lost'}, c)).toMatch(/unknown to SLURM and left no exit marker/);
  });

  it('names the state and the task in the Failure, and the logger shows the log tail', () => {
    const f = shardFailure(ending('TIMEOUT', 'TimeLimit'), c, 'slurmstepd: error: *** JOB 79 ON vm CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***', '/w/.stage/slurm/k/logs/77_2.out');
    expect(f).toMatchObject({kind: 'slurm', jobId: '77_2', state: 'TIMEOUT'});
    expect(describeFailure(f)).toBe([
      'SLURM job 77_2 (shard 2) ran out of time and was stopped by SLURM (time limit 4:00:00): raise slurm.time [TIMEOUT]',
      '  | slurmstepd: error: *** JOB 79 ON vm CANCELLED AT 2026-01-01T00:00:00 DUE TO TIME LIMIT ***',
      '  full log: /w/.stage/slurm/k/logs/77_2.out',
    ].join('\n'));
    expect(shardFailure({kind: 'exit', status: 1}, {...c, sharded: false}, '', '/l').jobId).toBe('77');
    expect([stateWord({kind: 'exit', status: 2}), stateWord({kind: 'lost'}), stateWord(ending('OUT_OF_MEMORY'))]).toEqual(['FAILED', 'LOST', 'OUT_OF_MEMORY']);
  });

  it('reports a refused submission with sbatch\'s message and no job id', () => {
    const f = submitFailure('REJECTED', 'Batch job submission failed: Requested node configuration is not available', '/w/submit-1.sh');
    expect(f).toMatchObject({kind: 'slurm', jobId: null, state: 'REJECTED', log: '/w/submit-1.sh'});
    expect(describeFailure(f)).toMatch(/^SLURM sbatch refused the job: Batch job submission failed: Requested node configuration is not available \(check gpus/);
  });
});

describe('resources and GPU-hours', () => {
  it('reads every SLURM time form, rounding up to whole minutes', () => {
    expect(slurmTimeSeconds('30')).toBe(1800);
    expect(slurmTimeSeconds('1:30')).toBe(120);
    expect(slurmTimeSeconds('4:00:00')).toBe(14_400);
    expect(slurmTimeSeconds('1-0')).toBe(86_400);
    expect(slurmTimeSeconds('2-12:30')).toBe(2 * 86_400 + 12 * 3600 + 1800);
    expect(slurmTimeSeconds('1-00:00:01')).toBe(86_460);
    for (const t of ['UNLIMITED', 'INFINITE', '', '0', 'soon', '1:2:3:4']) expect(slurmTimeSeconds(t), t).toBeUndefined();
  });

  it('bounds GPU-hours by GPUs x time limit x shards', () => {
    expect(gpuEstimate({gpus: 2, gpuType: 'a100', time: '4:00:00', cpus: 8, mem: '64G'}, 8))
      .toEqual({gpus: 2, gpuType: 'a100', cpus: 8, mem: '64G', time: '4:00:00', shards: 8, gpuHours: 64});
    expect(gpuEstimate({gpus: 1}, 3).gpuHours).toBeNull();
    expect(gpuEstimate({time: '10'}, 1).gpuHours).toBe(0);
    expect(gpuEstimate(undefined, 1)).toEqual({gpus: 0, shards: 1, gpuHours: 0});
    expect(formatGpu(gpuEstimate({gpus: 2, gpuType: 'a100', time: '4:00:00', cpus: 8, mem: '64G'}, 8)))
      .toBe('slurm: 2×gpu:a100, 8 CPUs, 64G, time limit 04:00:00 × 8 shards → ≤64.0 GPU-hours');
    expect(formatGpu(gpuEstimate({gpus: 1}, 1))).toBe("slurm: 1×gpu, the partition's default time limit → GPU-hours unknown (no time limit)");
  });

  it('maps the target\'s request onto the job script\'s resources', () => {
    expect(resourcesOf({gpus: 1, gpuType: 'h100', cpus: 4, mem: '32G', time: '1:00:00', retries: 2, maxParallel: 3}))
      .toEqual({time: '1:00:00', cpusPerTask: 4, mem: '32G', gpus: 1, gpuType: 'h100'});
  });
});

describe('the job directory', () => {
  const key = 'xxh64:0123456789abcdef';

  it('lays out one directory per key, apart for SLURM and local runs', () => {
    const l = jobLayout('/w', key, 'slurm');
    expect(l).toMatchObject({dir: '/w/.stage/slurm/0123456789abcdef', record: '/w/.stage/slurm/0123456789abcdef/job.json', marker: '/w/.stage/slurm/0123456789abcdef/markers/exit.rc'});
    expect(jobLayout('/w', key, 'local').dir).toBe('/w/.stage/local-jobs/0123456789abcdef');
    expect(markerOf(l, 3, true)).toBe('/w/.stage/slurm/0123456789abcdef/markers/exit.3.rc');
    expect(markerOf(l, 0, false)).toBe('/w/.stage/slurm/0123456789abcdef/markers/exit.rc');
    expect(taskLogPath(l, '91', 3, true)).toBe('/w/.stage/slurm/0123456789abcdef/logs/91_3.out');
    expect(taskLogPath(l, '91', 0, false)).toBe('/w/.stage/slurm/0123456789abcdef/logs/91.out');
  });

  it('round-trips job.json, and ignores a record of another key, another target or garbage', () => {
    const path = join(scratch, 'job.json');
    const record: JobRecord = {
      version: 1, target: 'sim/B', key, name: 'stage-01234567-sim_B',
      jobs: [{jobId: slurmJobId('91'), indices: [0, 2], submittedAt: '2026-01-01T00:00:00.000Z'}],
      submitted: ['90', '91'], submissions: 2, attempts: {'2': {resubmits: 1, automatic: 0}},
    };
    writeJobRecord(path, record);
    expect(readJobRecord(path, key, 'sim/B')).toEqual(record);
    expect(readJobRecord(path, 'xxh64:ffffffffffffffff', 'sim/B')).toBeUndefined();
    expect(readJobRecord(path, key, 'sim/C')).toBeUndefined();
    writeFileSync(path, '{"version":1,');
    expect(readJobRecord(path, key, 'sim/B')).toBeUndefined();
    writeFileSync(path, JSON.stringify({...record, jobs: [{jobId: 'rm -rf /', indices: [0]}]}));
    expect(readJobRecord(path, key, 'sim/B')).toBeUndefined();
    expect(readJobRecord(join(scratch, 'missing.json'), key, 'sim/B')).toBeUndefined();
  });

  it('reads markers, and treats a torn or foreign one as absent', () => {
    const m = join(scratch, 'exit.rc');
    writeFileSync(m, '0\n');
    expect(readMarker(m)).toBe(0);
    writeFileSync(m, '3\n');
    expect(readMarker(m)).toBe(3);
    writeFileSync(m, '');
    expect(readMarker(m)).toBeUndefined();
    expect(readMarker(join(scratch, 'none.rc'))).toBeUndefined();
  });
});

describe('the job spec', () => {
  const layout = jobLayout('/w', 'xxh64:0123456789abcdef', 'slurm');
  const base = {
    target: 'sim/B', key: 'xxh64:0123456789abcdef', root: '/w', layout, staging: layout.staging, shards: 4, indices: [1, 3],
    request: {gpus: 1, time: '2:00:00', mem: '16G', maxParallel: 2}, server: undefined, stagefile: '/w/Stagefile.ts',
    profile: 'demo', cacheDir: '/cache', nodeBinary: '/usr/bin/node',
    settings: {partition: 'gpu', account: 'lab', extraOptions: ['--exclusive'], environment: {modules: ['cuda/12'], exports: {HF_HOME: '/scratch/hf'}}},
  };

  it('runs stage exec for the target and key, as an array of the given shards, with the site options', () => {
    const spec = buildJobSpec(base);
    expect(spec.command.slice(5)).toEqual([
      '/usr/bin/node', STAGE_CLI, 'exec', 'sim/B', '--key', 'xxh64:0123456789abcdef', '--staging', layout.staging,
      '--cache-dir', '/cache', '-f', '/w/Stagefile.ts', '--profile', 'demo',
    ]);
    expect(spec.arrayTaskFlag).toBe('--shard');
    const script = renderJobScript(spec);
    expect(script).toContain('#SBATCH --job-name=stage-01234567-sim_B');
    expect(script).toContain('#SBATCH --array=1,3%2');
    expect(script).toContain(`#SBATCH --output=${layout.logs}/%A_%a.out`);
    expect(script).toContain('#SBATCH --gres=gpu:1');
    expect(script).toContain('#SBATCH --partition=gpu');
    expect(script).toContain('#SBATCH --account=lab');
    expect(script).toContain('#SBATCH --exclusive');
    expect(script).toContain('#SBATCH --open-mode=append');
    expect(script).toContain("module load cuda/12 || stage_setup_failed 'module load cuda/12 failed'");
    expect(script).toContain('export HF_HOME=/scratch/hf');
    expect(script).toMatch(/exec sim\/B --key xxh64:0123456789abcdef .* --shard "\$SLURM_ARRAY_TASK_ID"\nstage_finish "\$\?"/);
  });

  it('is a plain job for an unsharded target, and carries the model server with {port} and its URL variable', () => {
    const spec = buildJobSpec({...base, shards: 1, indices: [0], server: {command: ['vllm', 'serve', '/ckpt', '--port', '{port}'], urlEnv: 'OPENAI_BASE_URL', urlPath: '/v1'}});
    expect(spec.array).toBeUndefined();
    expect(spec.arrayTaskFlag).toBeUndefined();
    const script = renderJobScript(spec);
    expect(script).toContain(`#SBATCH --output=${layout.logs}/%j.out`);
    expect(script).toContain('vllm serve /ckpt --port "$STAGE_SERVER_PORT" </dev/null >>');
    expect(script).toContain('export OPENAI_BASE_URL="http://127.0.0.1:$STAGE_SERVER_PORT"/v1');
    expect(script).toContain('stage_deadline=$((SECONDS + 900))');
  });

  it('never takes a site option from the target: the same target on two sites differs only in #SBATCH lines', () => {
    const a = renderJobScript(buildJobSpec(base)).split('\n').filter((l) => !l.startsWith('#SBATCH'));
    const b = renderJobScript(buildJobSpec({...base, settings: {...base.settings, partition: 'other', account: 'x'}})).split('\n').filter((l) => !l.startsWith('#SBATCH'));
    expect(a).toEqual(b);
  });

  it('adds the rule log per job and task through the one-line wrapper', async () => {
    const [shell, flag, wrapper, name] = buildJobSpec(base).command;
    const run = async (env: Record<string, string>): Promise<string> =>
      (await execa(shell!, [flag!, wrapper!, name!, '/logs', 'printf', '%s\n', 'exec', 'x', '--shard', '2'], {env, extendEnv: false})).stdout;
    expect(await run({SLURM_ARRAY_JOB_ID: '5', SLURM_JOB_ID: '7', SLURM_ARRAY_TASK_ID: '2'})).toBe('exec\nx\n--shard\n2\n--log\n/logs/5_2.rule.log');
    expect(await run({SLURM_JOB_ID: '7'})).toMatch(/--log\n\/logs\/7\.rule\.log$/);
    expect(await run({})).toMatch(/--log\n\/logs\/local\.rule\.log$/);
    expect(readFileSync(STAGE_CLI, 'utf8')).toMatch(/main\(process\.argv/);
  });
});
