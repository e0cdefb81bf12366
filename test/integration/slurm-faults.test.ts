/**
 * The SLURM driver against the fake cluster of test/util/fake-slurm, for what a real cluster
 * does not produce on demand: a node failure, a preemption followed by requeue, a controller
 * that times out on sbatch, scontrol answering nothing. The fake runs the real job script (and
 * so the real `stage exec`) locally, so outputs, markers and logs are all genuine. No cluster
 * is needed; everything waits on files and job states, never on sleeps.
 */
import {readdirSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect} from 'vitest';
import {expectedSquares, squaresStagefile} from '../util/fake-slurm/stagefiles.js';
import {FakeSlurm, ofType, slurmConfig} from '../util/fake-slurm/fake-slurm.js';
import {test, type Rig} from '../util/rig.js';

function setUp(rig: Rig, stagefile: string): {fake: FakeSlurm; env: Record<string, string>} {
  rig.write({'Stagefile.ts': stagefile});
  const fake = new FakeSlurm(join(rig.dir, '..', 'fake-slurm'));
  return {fake, env: {...fake.env(), ...slurmConfig(join(rig.dir, '..', 'config.json'))}};
}

describe('SLURM faults (fake cluster)', () => {
  test('NODE_FAIL of one shard: that shard alone goes out again, once and for free', async ({rig}) => {
    const {fake, env} = setUp(rig, squaresStagefile({shards: 3}));
    fake.fate(1, 1, 'NODE_FAIL');
    const r = await rig.run(['build'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(rig.read('out/squares.jsonl')).toBe(expectedSquares(7, 3));
    const submitted = ofType(r.events, 'slurm-submitted');
    expect(submitted.map((e) => e.shards)).toEqual([[0, 1, 2], [1]]);
    expect(fake.calls('sbatch')).toHaveLength(2);
    const warning = ofType(r.events, 'warning').map((w) => w.message).join('\n');
    expect(warning).toMatch(/^SLURM job \d+_1 \(shard 1\) lost its node \(the node failed\) \[NODE_FAIL\]; submitting shard 1 again \(the cluster was at fault, so this retry is free\)$/);
    // Collected: the job directory is gone, so nothing stale is followed or reused later.
    expect(readdirSync(rig.path('.stage/slurm'))).toEqual([]);
  });

  test('NODE_FAIL again after the free retry: the target fails, naming the job and the state', async ({rig}) => {
    const {fake, env} = setUp(rig, squaresStagefile({shards: 1}));
    fake.fate(1, 'solo', 'NODE_FAIL');
    fake.fate(2, 'solo', 'NODE_FAIL');
    const r = await rig.run(['build'], env);
    expect(r.code).toBe(1);
    const submitted = ofType(r.events, 'slurm-submitted');
    expect(submitted).toHaveLength(2);
    const [failed] = ofType(r.events, 'target-failed');
    expect(failed?.failure).toMatchObject({kind: 'slurm', state: 'NODE_FAIL', jobId: submitted[1]!.jobId});
    expect(failed?.failure.kind === 'slurm' && failed.failure.message).toBe('lost its node (the node failed), submitted 2 times');
    expect(rig.exists('out/squares.jsonl')).toBe(false);
  });

  test('PREEMPTED, then requeued by SLURM: the driver keeps waiting instead of resubmitting', async ({rig}) => {
    const {fake, env} = setUp(rig, squaresStagefile({shards: 2}));
    fake.fate(1, '*', 'PREEMPT:3');
    const r = await rig.run(['build'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(rig.read('out/squares.jsonl')).toBe(expectedSquares(7, 2));
    expect(fake.calls('sbatch')).toHaveLength(1);
    const states = ofType(r.events, 'slurm-state').map((e) => e.state);
    expect(states[0]).toBe('PREEMPTED');
    expect(states.at(-1)).toBe('COMPLETED');
    expect(ofType(r.events, 'warning')).toEqual([]);
  });

  test('sbatch times out twice: the driver looks for the job by name, then submits again', async ({rig}) => {
    const {fake, env} = setUp(rig, squaresStagefile({shards: 3}));
    fake.failSbatch(2);
    const r = await rig.run(['build'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(rig.read('out/squares.jsonl')).toBe(expectedSquares(7, 3));
    expect(fake.calls('sbatch')).toHaveLength(3);
    expect(ofType(r.events, 'slurm-submitted')).toHaveLength(1);
    const byName = fake.calls('squeue').filter((argv) => argv.some((a) => a.startsWith('--name=stage-')));
    expect(byName).toHaveLength(2);
    expect(ofType(r.events, 'warning').map((w) => w.message)).toEqual([
      expect.stringMatching(/sbatch failed \(Batch job submission failed: Socket timed out.*\); trying again/),
      expect.stringMatching(/sbatch failed .*trying again/),
    ]);
  });

  test('scontrol prints nothing: squeue answers instead and the build finishes', async ({rig}) => {
    const {fake, env} = setUp(rig, squaresStagefile({shards: 1}));
    fake.emptyScontrol(1000);
    const r = await rig.run(['build'], env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(rig.read('out/squares.jsonl')).toBe(expectedSquares(7, 1));
    const jobs = fake.calls('squeue').filter((argv) => argv.some((a) => a.startsWith('--jobs=')));
    expect(jobs.length).toBeGreaterThan(0);
    expect(ofType(r.events, 'slurm-state').map((e) => e.state)).toContain('COMPLETED');
  });
});
