import {utimesSync} from 'node:fs';
import {describe, expect} from 'vitest';
import {test, type Rig} from '../util/rig.js';

const STAGEFILE = `import {sh, target} from 'stage';
import {upper} from './rules/upper.js';

const a = target('a', {inputs: ['src/a.txt'], out: 'out/a.txt', run: sh('cat $in > $out')});
const b = target('b', {inputs: ['src/b.txt'], out: 'out/b.txt', run: sh('cat $in > $out')});
const up = target('up', {deps: [a], params: {suffix: '!'}, out: 'out/up.txt', run: upper});
// Keeps only the first byte of b, so most edits of b leave its output unchanged.
const first = target('first', {deps: [b], out: 'out/first.txt', run: sh('head -c 1 $in > $out')});
target('all', {deps: [up, first], out: 'out/all.txt', run: sh('cat $in > $out')});
`;

const RULE = `import {readFileSync, writeFileSync} from 'node:fs';
import {rule} from 'stage';
import {shout} from './shout.js';

export const upper = rule<{suffix: string}>('upper', ({deps, params, out}) => {
  const text = readFileSync(deps['a']![0]!, 'utf8');
  writeFileSync(out, shout(text) + params.suffix);
});
`;

const HELPER = `export function shout(s: string): string {
  return s.toUpperCase();
}
`;

async function setUp(rig: Rig): Promise<void> {
  rig.write({'Stagefile.ts': STAGEFILE, 'rules/upper.ts': RULE, 'rules/shout.ts': HELPER, 'src/a.txt': 'alpha\n', 'src/b.txt': 'beta\n'});
  const {ran} = await rig.build();
  expect(ran).toEqual(['a', 'all', 'b', 'first', 'up']);
}

describe('what a build executes after each kind of change', () => {
  test('a second build does nothing and reads no file contents', async ({rig}) => {
    await setUp(rig);
    expect(rig.read('out/all.txt')).toBe('ALPHA\n!b');
    const {ran, restored, result} = await rig.build();
    expect(ran).toEqual([]);
    expect(restored).toEqual([]);
    const finished = result.events.find((e) => e.type === 'build-finished');
    expect(finished).toMatchObject({ok: true, counts: {fresh: 5, ran: 0}, filesHashed: 0});
  });

  test('a content edit re-runs the target and what depends on it', async ({rig}) => {
    await setUp(rig);
    rig.write({'src/a.txt': 'aleph\n'});
    expect((await rig.build()).ran).toEqual(['a', 'all', 'up']);
    expect(rig.read('out/all.txt')).toBe('ALEPH\n!b');
  });

  test('touching a file without changing it re-runs nothing', async ({rig}) => {
    await setUp(rig);
    const later = new Date(Date.now() + 5000);
    utimesSync(rig.path('src/a.txt'), later, later);
    const {ran, result} = await rig.build();
    expect(ran).toEqual([]);
    expect(result.events.find((e) => e.type === 'build-finished')).toMatchObject({filesHashed: 1});
  });

  test('a parameter change re-runs the rule that takes it', async ({rig}) => {
    await setUp(rig);
    rig.write({'Stagefile.ts': STAGEFILE.replace("suffix: '!'", "suffix: '?'")});
    expect((await rig.build()).ran).toEqual(['all', 'up']);
    expect(rig.read('out/up.txt')).toBe('ALPHA\n?');
  });

  test('editing a rule module, or a module it imports, re-runs its targets only', async ({rig}) => {
    await setUp(rig);
    rig.write({'rules/upper.ts': `${RULE}// a comment is still a code change\n`});
    // The rule re-runs; its output is the same, so \`all\` is cut off.
    expect((await rig.build()).ran).toEqual(['up']);
    rig.write({'rules/shout.ts': HELPER.replace('toUpperCase()', 'toUpperCase().trim()')});
    expect((await rig.build()).ran).toEqual(['all', 'up']);
    expect(rig.read('out/up.txt')).toBe('ALPHA!');
  });

  test('an unchanged dependency output cuts the rebuild off', async ({rig}) => {
    await setUp(rig);
    rig.write({'src/b.txt': 'bravo\n'});
    const {ran, result} = await rig.build();
    expect(ran).toEqual(['b', 'first']);
    const first = result.events.find((e) => e.type === 'target-succeeded' && e.target === 'first');
    expect(first).toMatchObject({outputChanged: false});
  });

  test('adding an unrelated target to the Stagefile re-runs nothing else', async ({rig}) => {
    await setUp(rig);
    rig.write({'Stagefile.ts': `${STAGEFILE}target('extra', {inputs: ['src/a.txt'], out: 'out/extra.txt', run: sh('cat $in > $out')});\n`});
    expect((await rig.build()).ran).toEqual(['extra']);
  });

  test('a deleted output and a reverted edit come back from the store', async ({rig}) => {
    await setUp(rig);
    rig.write({'src/a.txt': 'aleph\n'});
    await rig.build();
    rig.write({'src/a.txt': 'alpha\n'});
    const back = await rig.build();
    expect(back.ran).toEqual([]);
    expect(back.restored).toEqual(['a', 'all', 'up']);
    expect(rig.read('out/all.txt')).toBe('ALPHA\n!b');
    const {rmSync} = await import('node:fs');
    rmSync(rig.path('out/first.txt'));
    const again = await rig.build();
    expect(again.ran).toEqual([]);
    expect(again.restored).toEqual(['first']);
  });

  test('losing the workspace state costs restores, never re-runs', async ({rig}) => {
    await setUp(rig);
    const {rmSync} = await import('node:fs');
    rmSync(rig.path('.stage'), {recursive: true});
    const {ran, restored} = await rig.build();
    expect(ran).toEqual([]);
    expect(restored).toEqual(['a', 'all', 'b', 'first', 'up']);
  });

  test('outputs in the workspace are read-only', async ({rig}) => {
    await setUp(rig);
    const {statSync} = await import('node:fs');
    expect(statSync(rig.path('out/all.txt')).mode & 0o222).toBe(0);
  });
});
