import {describe, expect} from 'vitest';
import type {Event} from '../../src/event.js';
import {test} from '../util/rig.js';

/** The largest number of targets in `group` that were running at once, from the event order. */
function maxConcurrent(events: readonly Event[], group: (t: string) => boolean): number {
  let now = 0;
  let max = 0;
  for (const e of events) {
    if (e.type === 'target-started' && group(e.target)) max = Math.max(max, ++now);
    if ((e.type === 'target-succeeded' || e.type === 'target-failed') && group(e.target)) now--;
  }
  return max;
}

describe('scheduling', () => {
  test('a pool bounds its targets while -j lets others run beside them', async ({rig}) => {
    rig.write({'Stagefile.ts': `import {pool, sh, target} from 'stage';
pool('gpu', 1);
for (let i = 0; i < 4; i++) target(\`train/\${i}\`, {out: \`out/train\${i}\`, resources: {gpu: 1}, run: sh('echo ${'${i}'} > $out')});
for (let i = 0; i < 4; i++) target(\`cpu/\${i}\`, {out: \`out/cpu\${i}\`, run: sh('echo ${'${i}'} > $out')});
`});
    const r = await rig.run(['build', '-j', '3']);
    expect(r.code).toBe(0);
    expect(maxConcurrent(r.events, (t) => t.startsWith('train/'))).toBe(1);
    expect(maxConcurrent(r.events, () => true)).toBeLessThanOrEqual(3);
    expect(maxConcurrent(r.events, () => true)).toBeGreaterThan(1);
  });

  test('-j 1 starts the longest chain first', async ({rig}) => {
    rig.write({'Stagefile.ts': `import {sh, target} from 'stage';
target('short', {out: 'out/short', run: sh('echo > $out')});
let prev = target('chain/0', {out: 'out/c0', run: sh('echo > $out')});
for (let i = 1; i < 4; i++) prev = target(\`chain/\${i}\`, {deps: [prev], out: \`out/c\${i}\`, run: sh('cat $in > $out')});
`});
    const r = await rig.run(['build', '-j', '1']);
    const first = r.events.find((e) => e.type === 'target-started');
    expect(first).toMatchObject({target: 'chain/0'});
  });

  const FAILING = `import {sh, target} from 'stage';
const bad = target('bad', {out: 'out/bad', run: sh('echo "something broke" >&2; exit 3')});
target('after-bad', {deps: [bad], out: 'out/after', run: sh('cat $in > $out')});
const slow = target('other', {out: 'out/other', run: sh('echo ok > $out')});
target('after-other', {deps: [slow], out: 'out/after-other', run: sh('cat $in > $out')});
`;

  test('a failure stops new work, names the exit code and shows the log tail', async ({rig}) => {
    rig.write({'Stagefile.ts': FAILING});
    const r = await rig.run(['build', '-j', '1', '--reporter', 'human']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('FAILED   bad: command exited with code 3');
    expect(r.stderr).toContain('| something broke');
    expect(r.stderr).toMatch(/full log: .*\.stage\/logs\/bad\.log/);
    expect(rig.exists('out/after')).toBe(false);
  });

  test('--keep-going builds everything that does not depend on the failure', async ({rig}) => {
    rig.write({'Stagefile.ts': FAILING});
    const r = await rig.run(['build', '-k']);
    expect(r.code).toBe(1);
    expect(r.events.filter((e) => e.type === 'target-succeeded').map((e) => (e as {target: string}).target).sort()).toEqual(['after-other', 'other']);
    expect(r.events.find((e) => e.type === 'target-skipped')).toMatchObject({target: 'after-bad', because: 'dependency bad did not build'});
    expect(rig.read('out/after-other')).toBe('ok\n');
  });

  test('in-process rules get typed inputs, dependency outputs, a logger, and may fail by throwing', async ({rig}) => {
    rig.write({
      'Stagefile.ts': `import {target} from 'stage';
import {join, sum} from './rules/rules.js';
const a = target('a', {inputs: ['src/*.txt'], out: 'out/a.txt', run: join});
target('sum', {deps: [a], params: {limit: 10}, out: 'out/sum.txt', run: sum});
`,
      'rules/rules.ts': `import {readFileSync, writeFileSync} from 'node:fs';
import {rule} from 'stage';
export const join = rule('join', ({inputs, out, log}) => {
  log(\`joining \${inputs.length} files\`);
  writeFileSync(out, inputs.map((f) => readFileSync(f, 'utf8')).join(''));
});
export const sum = rule<{limit: number}>('sum', ({deps, params, out}) => {
  const total = readFileSync(deps['a']![0]!, 'utf8').split('\\n').filter(Boolean).map(Number).reduce((x, y) => x + y, 0);
  if (total > params.limit) throw new Error(\`total \${total} is over the limit \${params.limit}\`);
  writeFileSync(out, String(total));
});
`,
      'src/1.txt': '2\n', 'src/2.txt': '3\n',
    });
    expect((await rig.build()).ran).toEqual(['a', 'sum']);
    expect(rig.read('out/sum.txt')).toBe('5');
    expect(rig.read('.stage/logs/a.log')).toContain('joining 2 files');
    rig.write({'src/3.txt': '9\n'});
    const r = await rig.run(['build']);
    expect(r.code).toBe(1);
    expect(r.events.find((e) => e.type === 'target-failed')).toMatchObject({target: 'sum', failure: {kind: 'exception', message: 'total 14 is over the limit 10'}});
  });

  test('a rule that forgets its output fails and stores nothing', async ({rig}) => {
    rig.write({'Stagefile.ts': `import {sh, target} from 'stage';
target('lazy', {out: ['out/one', 'out/two'], run: sh('echo > $out')});
`});
    const r = await rig.run(['build']);
    expect(r.events.find((e) => e.type === 'target-failed')).toMatchObject({failure: {kind: 'missing-output', path: 'out/two'}});
    expect(rig.exists('out/one')).toBe(false);
  });

  test('directory outputs are stored and restored whole', async ({rig}) => {
    rig.write({'Stagefile.ts': `import {sh, target} from 'stage';
target('model', {inputs: ['src/w.txt'], out: 'out/model/', run: sh('mkdir -p $out/sub && cp $in $out/weights && echo cfg > $out/sub/config')});
`, 'src/w.txt': 'w1\n'});
    expect((await rig.build()).ran).toEqual(['model']);
    expect(rig.read('out/model/sub/config')).toBe('cfg\n');
    const {rmSync} = await import('node:fs');
    rmSync(rig.path('out/model/weights'), {force: true});
    const again = await rig.build();
    expect(again.restored).toEqual(['model']);
    expect(rig.read('out/model/weights')).toBe('w1\n');
  });

  test('outputs are checked against the target\'s JSON Schema before they are stored', async ({rig}) => {
    rig.write({
      'Stagefile.ts': `import {sh, target} from 'stage';
target('rows', {inputs: ['src/rows.jsonl'], schema: 'schemas/row.json', out: 'out/rows.jsonl', run: sh('cat $in > $out')});
`,
      'schemas/row.json': JSON.stringify({type: 'object', required: ['id', 'text'], properties: {id: {type: 'string'}, text: {type: 'string'}}}),
      'src/rows.jsonl': '{"id":"a","text":"x"}\n{"id":"b"}\n',
    });
    const bad = await rig.run(['build']);
    expect(bad.code).toBe(1);
    expect(bad.events.find((e) => e.type === 'target-failed')).toMatchObject({failure: {kind: 'schema', path: 'out/rows.jsonl', line: 2, message: "(root) must have required property 'text'"}});
    expect(rig.exists('out/rows.jsonl')).toBe(false);
    rig.write({'src/rows.jsonl': '{"id":"a","text":"x"}\n{"id":"b","text":"y"}\n'});
    expect((await rig.build()).ran).toEqual(['rows']);
    rig.write({'schemas/row.json': JSON.stringify({type: 'object', required: ['id']})});
    expect((await rig.build()).ran).toEqual(['rows']);
  });
});
