/**
 * A target with `executor: 'local'` and a model server runs the job script a SLURM job would,
 * as a local bash process: environment, model-server preamble, `stage exec`, exit marker. No
 * cluster is involved (sbatch is a fake that would record any call).
 */
import {mkdirSync, readdirSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect} from 'vitest';
import {FakeSlurm, ofType} from '../util/fake-slurm/fake-slurm.js';
import {serverStagefile} from '../util/fake-slurm/stagefiles.js';
import {test} from '../util/rig.js';

describe('the job script run locally', () => {
  test('a sharded target with a model server: every shard gets its own server, outputs merge in order', async ({rig}) => {
    const pids = join(rig.dir, '..', 'pids');
    mkdirSync(pids);
    rig.write({'Stagefile.ts': serverStagefile({executor: 'local', shards: 3, pidDir: pids})});
    const fake = new FakeSlurm(join(rig.dir, '..', 'fake-slurm'));
    const r = await rig.run(['build'], fake.env());
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const rows = rig.read('out/asked.jsonl').trim().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(rows).toEqual([0, 1, 2].map((i) => ({url: 'http://127.0.0.1:PORT', status: 200, echo: `shard-${i}`})));
    expect(fake.calls()).toEqual([]);
    expect(ofType(r.events, 'slurm-submitted')).toEqual([]);
    const log = rig.read('.stage/logs/ask.log');
    expect(log.match(/stage: the model server is ready at http:\/\/127\.0\.0\.1:\d+/g)).toHaveLength(3);
    expect(log).toContain('stage: job (not under SLURM) task 2 on');
    // One server per shard, each stopped when its shard ended.
    const servers = readdirSync(pids).map((f) => Number(f.slice('server.'.length)));
    expect(servers).toHaveLength(3);
    for (const pid of servers) expect(() => process.kill(pid, 0)).toThrow();
    expect(rig.exists('.stage/local-jobs') ? readdirSync(rig.path('.stage/local-jobs')) : []).toEqual([]);
    expect((await rig.build()).result.events.some((e) => e.type === 'target-fresh')).toBe(true);
  });

  test('a server that never becomes healthy fails the target with the script status and its log', async ({rig}) => {
    rig.write({'Stagefile.ts': `import {writeFileSync} from 'node:fs';
import {rule, target} from 'stage';
target('ask', {
  out: 'out/asked.txt', run: rule('ask', ({out}) => writeFileSync(out, 'unreachable\\n')),
  server: {command: ['bash', '-c', 'echo server cannot start: no checkpoint >&2; exit 4'], urlEnv: 'MODEL_URL', startupTimeoutSeconds: 30},
});
`});
    const r = await rig.run(['build']);
    expect(r.code).toBe(1);
    const [failed] = ofType(r.events, 'target-failed');
    expect(failed?.failure).toMatchObject({kind: 'exit-code', code: 69});
    expect(failed!.failure.kind === 'exit-code' && failed!.failure.logTail).toMatch(/model server exited with status 4 before it became healthy(.*\n)*.*server cannot start: no checkpoint/);
    expect(rig.exists('out/asked.txt')).toBe(false);
  });
});
