import {describe, expect} from 'vitest';
import {test, type Rig} from '../util/rig.js';

/** Runs `stage build` on a Stagefile and returns the rendered diagnostics (stderr). */
async function diagnose(rig: Rig, stagefile: string, files: Record<string, string> = {}): Promise<string> {
  rig.write({'Stagefile.ts': stagefile, 'src/a.txt': 'a\n', ...files});
  const r = await rig.run(['build', '--reporter', 'human']);
  expect(r.code).toBe(2);
  expect(rig.exists('out')).toBe(false);
  return r.stderr;
}

const HEAD = `import {cmd, pool, rule, sh, target} from 'stage';\n`;

describe('Stagefile diagnostics name the line and nothing runs', () => {
  test('duplicate target names point at both declarations', async ({rig}) => {
    const err = await diagnose(rig, `${HEAD}target('x', {out: 'out/1', run: sh('touch $out')});
target('x', {out: 'out/2', run: sh('touch $out')});
`);
    expect(err).toContain('Stagefile.ts:3:1: error: target "x" is declared twice');
    expect(err).toContain("3 | target('x', {out: 'out/2'");
    expect(err).toContain('Stagefile.ts:2:1: first declared here');
  });

  test('two producers of one output', async ({rig}) => {
    const err = await diagnose(rig, `${HEAD}target('x', {out: 'out/same', run: sh('touch $out')});
target('y', {out: 'out/same', run: sh('touch $out')});
`);
    expect(err).toContain('Stagefile.ts:3:1: error: output "out/same" of target "y" is also an output of "x"');
  });

  test('unknown dependency with a suggestion', async ({rig}) => {
    const err = await diagnose(rig, `${HEAD}target('gold/A', {out: 'out/g', run: sh('touch $out')});
target('sim', {deps: ['gold/a'], out: 'out/s', run: sh('touch $out')});
`);
    expect(err).toContain('Stagefile.ts:3:1: error: target "sim" depends on "gold/a", which is not declared');
    expect(err).toContain('did you mean "gold/A"?');
  });

  test('a cycle is reported with its whole path and every edge', async ({rig}) => {
    const err = await diagnose(rig, `${HEAD}target('a', {deps: ['c'], out: 'out/a', run: sh('touch $out')});
target('b', {deps: ['a'], out: 'out/b', run: sh('touch $out')});
target('c', {deps: ['b'], out: 'out/c', run: sh('touch $out')});
`);
    expect(err).toMatch(/dependency cycle: (a -> c -> b -> a|b -> a -> c -> b|c -> b -> a -> c)/);
    expect(err).toContain('Stagefile.ts:2:1: "a" depends on "c"');
    expect(err).toContain('Stagefile.ts:3:1: "b" depends on "a"');
    expect(err).toContain('Stagefile.ts:4:1: "c" depends on "b"');
  });

  test('invalid parameters, unknown fields, bad outputs and pools', async ({rig}) => {
    const err = await diagnose(rig, `${HEAD}pool('gpu', 1);
target('p', {params: {seed: NaN}, out: 'out/p', run: sh('touch $out')});
target('q', {params: {when: new Date(0)}, out: 'out/q', run: sh('touch $out')});
target('r', {outs: 'out/r', run: sh('touch $out')} as never);
target('s', {out: '../escape', run: sh('touch $out')});
target('t', {out: 'out/t', run: sh('touch $out'), resources: {gpus: 1}});
target('u', {out: 'out/u', run: sh('touch $out'), resources: {gpu: 2}});
target('bad name!', {out: 'out/v', run: cmd(['true'])});
`);
    expect(err).toContain('Stagefile.ts:3:1: error: parameter params.seed of "p" is NaN');
    expect(err).toContain('Stagefile.ts:4:1: error: parameter params.when of "q" is an instance of Date');
    expect(err).toContain('Stagefile.ts:5:1: error: target "r" has an unknown field "outs"');
    expect(err).toContain('did you mean "out"?');
    expect(err).toContain('Stagefile.ts:6:1: error: output "../escape" of "s" must be a path inside the workspace');
    expect(err).toContain('Stagefile.ts:7:1: error: target "t" uses pool "gpus", which is not declared');
    expect(err).toContain('Stagefile.ts:8:1: error: target "u" takes 2 of pool "gpu" (depth 1)');
    expect(err).toContain('Stagefile.ts:9:1: error: "bad name!" is not a valid target name');
  });

  test('an input that another target produces must be a dependency', async ({rig}) => {
    const err = await diagnose(rig, `${HEAD}target('gen', {out: 'out/gen.txt', run: sh('touch $out')});
target('use', {inputs: ['out/gen.txt'], out: 'out/use', run: sh('cat $in > $out')});
`);
    expect(err).toContain('Stagefile.ts:3:1: error: input "out/gen.txt" of "use" is the output of target "gen"');
    expect(err).toContain('list "gen" in deps instead');
  });

  test('a syntax error is located by the compiler', async ({rig}) => {
    const err = await diagnose(rig, `${HEAD}target('x', {out: 'out/x' run: sh('touch $out')});\n`);
    expect(err).toMatch(/Stagefile\.ts:2:\d+: error: Expected "}" but found "run"/);
  });

  test('a throw while evaluating the Stagefile points at its line, also inside an imported module', async ({rig}) => {
    const err = await diagnose(rig, `${HEAD}import {family} from './lib/family.js';
family(3);
`, {'lib/family.ts': `export function family(n: number): void {
  if (n > 2) throw new Error('at most two splits');
}
`});
    expect(err).toContain('lib/family.ts:2:20: error: evaluating the Stagefile threw: at most two splits');
  });

  test('a missing input fails its target with the path, after analysis', async ({rig}) => {
    rig.write({'Stagefile.ts': `${HEAD}target('x', {inputs: ['src/nope.txt'], out: 'out/x', run: sh('cat $in > $out')});\n`});
    const r = await rig.run(['build']);
    expect(r.code).toBe(1);
    expect(r.events.find((e) => e.type === 'target-failed')).toMatchObject({target: 'x', failure: {kind: 'missing-input', path: 'src/nope.txt'}});
  });

  test('an unknown target on the command line gets a suggestion', async ({rig}) => {
    rig.write({'Stagefile.ts': `${HEAD}target('winrates', {out: 'out/w', run: sh('touch $out')});\n`});
    const r = await rig.run(['build', 'winrate', '--reporter', 'human']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no target is named "winrate"');
    expect(r.stderr).toContain('did you mean "winrates"?');
  });

  test('a bad command line is refused before anything loads', async ({rig}) => {
    const r = await rig.run(['build', '--jobs', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--jobs needs a whole number');
  });
});
