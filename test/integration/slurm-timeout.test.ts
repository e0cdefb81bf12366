/**
 * A SLURM target that outlives its time limit, through the CLI on the real local cluster. Kept
 * apart from slurm-driver.test.ts so that its minute (SLURM's shortest limit, enforced on a
 * ~30 s sweep) overlaps with the rest. Needs the cluster of ci/slurm and STAGE_TEST_SLURM=1.
 */
import {join} from 'node:path';
import {execa} from 'execa';
import {describe, expect} from 'vitest';
import type {Failure} from '../../src/event.js';
import {ofType, slurmConfig} from '../util/fake-slurm/fake-slurm.js';
import {squaresStagefile} from '../util/fake-slurm/stagefiles.js';
import {test} from '../util/rig.js';

const enabled = process.env['STAGE_TEST_SLURM'] === '1';
/** One minute of limit, up to 30 s until the sweep notices, KillWait, CLI start-up: generous. */
const TIMEOUT_TEST_MS = 240_000;

describe.skipIf(!enabled)('a SLURM job that runs out of time', () => {
  test('is reported as TIMEOUT with its limit, and the log shows SLURM cancelling it', async ({rig}) => {
    const sleeper = `
const sleeper = rule('sleeper', async ({out}) => {
  console.log('sleeping past the limit');
  await new Promise((resolve) => setTimeout(resolve, 600_000));
  writeFileSync(out, 'never\\n');
});
target('sleeper', {out: 'out/sleeper.txt', run: sleeper, executor: 'slurm', slurm: {time: '1', mem: '100M'}});`;
    rig.write({'Stagefile.ts': squaresStagefile({shards: 1, extra: sleeper})});
    const started = Date.now();
    // Polls quickly at first, then every 5 s: a minute of waiting costs a dozen scontrol calls.
    const r = await rig.run(['build', 'sleeper'], slurmConfig(join(rig.dir, '..', 'config.json'), {pollMs: 500, maxPollMs: 5000}));
    const seconds = (Date.now() - started) / 1000;
    expect(r.code, r.stderr + r.stdout).toBe(1);
    const [submitted] = ofType(r.events, 'slurm-submitted');
    const [failed] = ofType(r.events, 'target-failed');
    expect(failed?.failure).toMatchObject({kind: 'slurm', jobId: submitted!.jobId, state: 'TIMEOUT'});
    const f = failed!.failure as Extract<Failure, {kind: 'slurm'}>;
    expect(f.message).toBe('ran out of time and was stopped by SLURM (time limit 1): raise slurm.time');
    expect(f.logTail).toMatch(new RegExp(`JOB ${submitted!.jobId} ON \\S+ CANCELLED AT \\S+ DUE TO TIME LIMIT`));
    const show = (await execa('scontrol', ['-o', 'show', 'job', submitted!.jobId])).stdout;
    expect(show).toMatch(/JobState=TIMEOUT Reason=TimeLimit/);
    // SIGTERM at the limit, SIGKILL after KillWait if the job is still there (this rule ignores its abort signal).
    expect(show).toMatch(/ExitCode=0:(15|9) /);
    expect(seconds).toBeGreaterThan(55);
    console.log(`TIMEOUT reported ${seconds.toFixed(1)} s after the build started (${show.match(/RunTime=\S+/)?.[0] ?? '?'})`);
  }, TIMEOUT_TEST_MS);
});
