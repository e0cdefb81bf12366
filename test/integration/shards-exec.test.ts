import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect} from 'vitest';
import type {PlanEntry} from '../../src/schedule/plan.js';
import {test} from '../util/rig.js';

const STAGEFILE = `import {writeFileSync} from 'node:fs';
import {rule, target} from 'stage';

// Each shard handles the items whose index falls to it and writes them as JSONL.
const square = rule<{items: number}>('square', ({params, shard, out}) => {
  const {index, count} = shard ?? {index: 0, count: 1};
  const lines = [];
  for (let i = index; i < params.items; i += count) lines.push(JSON.stringify({i, sq: i * i, shard: index}) + '\\n');
  writeFileSync(out, lines.join(''));
});

target('squares', {params: {items: 7}, shards: 3, out: 'out/squares.jsonl', run: square});
`;

function keyOf(stdout: string, target: string): string {
  return (JSON.parse(stdout) as {targets: PlanEntry[]}).targets.find((e) => e.target === target)!.key!;
}

describe('sharded targets and stage exec', () => {
  test('a sharded rule runs once per shard and its outputs are concatenated in shard order', async ({rig}) => {
    rig.write({'Stagefile.ts': STAGEFILE});
    const {ran} = await rig.build();
    expect(ran).toEqual(['squares']);
    const rows = rig.read('out/squares.jsonl').trim().split('\n').map((l) => JSON.parse(l) as {i: number; shard: number});
    expect(rows.map((r) => r.i)).toEqual([0, 3, 6, 1, 4, 2, 5]);
    expect(rows.map((r) => r.shard)).toEqual([0, 0, 0, 1, 1, 2, 2]);
    rig.write({'Stagefile.ts': STAGEFILE.replace('shards: 3', 'shards: 2')});
    expect((await rig.build()).ran).toEqual(['squares']);
  });

  test('stage exec runs one shard into a staging directory, and refuses a stale key', async ({rig}) => {
    rig.write({'Stagefile.ts': STAGEFILE});
    const key = keyOf((await rig.run(['plan', '--json'])).stdout, 'squares');
    const staging = join(rig.dir, '.stage', 'job', 'staging');
    const r = await rig.run(['exec', 'squares', '--key', key, '--staging', staging, '--shard', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(staging, '.shards', '1', 'out', 'squares.jsonl'), 'utf8')).toBe('{"i":1,"sq":1,"shard":1}\n{"i":4,"sq":16,"shard":1}\n');
    expect(rig.exists('out/squares.jsonl')).toBe(false);
    const stale = await rig.run(['exec', 'squares', '--key', 'xxh64:0000000000000000', '--staging', staging, '--shard', '1']);
    expect(stale.code).toBe(3);
    expect(stale.stderr).toContain('the inputs of "squares" changed after the job was submitted');
    const noShard = await rig.run(['exec', 'squares', '--key', key, '--staging', staging, '--shard', '5']);
    expect(noShard.stderr).toContain('has 3 shard(s); there is no shard 5');
  });
});
