import {readdirSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect} from 'vitest';
import {test, type Rig} from '../util/rig.js';

const STAGEFILE = `import {sh, target} from 'stage';
const tasks = target('tasks/A', {inputs: ['data/tasks.txt'], out: 'out/tasks.txt', run: sh('cat $in > $out')});
const personas = target('personas/A', {params: {temperature: 1.4}, out: 'out/personas.txt', run: sh('echo persona > $out')});
target('gold/A', {deps: [tasks, personas], out: 'out/gold.txt', run: sh('cat $in > $out')});
`;

async function setUp(rig: Rig): Promise<void> {
  rig.write({'Stagefile.ts': STAGEFILE, 'data/tasks.txt': 'task one\n'});
  expect((await rig.build()).ran).toHaveLength(3);
}

describe('introspection and housekeeping commands', () => {
  test('why names the input, the parameter and the dependency behind a rebuild', async ({rig}) => {
    await setUp(rig);
    expect((await rig.run(['why', 'gold/A'])).stdout).toContain('gold/A is up to date');
    rig.write({'data/tasks.txt': 'task two\n', 'Stagefile.ts': STAGEFILE.replace('1.4', '1.2')});
    const why = await rig.run(['why', 'gold/A']);
    expect(why.code).toBe(0);
    expect(why.stdout).toContain('gold/A waits on dependencies that will run');
    expect(why.stdout).toContain('tasks/A will run because:\n    - input data/tasks.txt changed');
    expect(why.stdout).toContain('personas/A will run because:\n    - parameter temperature changed: 1.4 -> 1.2');
    await rig.build();
    rig.write({'Stagefile.ts': STAGEFILE.replace("echo persona", "echo persona; echo twice")});
    await rig.build(['personas/A']);
    const dep = await rig.run(['why', 'gold/A']);
    expect(dep.stdout).toContain('gold/A will run because:\n  - output of dependency personas/A changed');
    const json = JSON.parse((await rig.run(['why', 'gold/A', '--json'])).stdout) as {entry: {action: string; reasons: string[]}};
    expect(json.entry).toMatchObject({action: 'run', reasons: ['output of dependency personas/A changed']});
  });

  test('plan and status print every target with its state', async ({rig}) => {
    rig.write({'Stagefile.ts': STAGEFILE, 'data/tasks.txt': 'task one\n'});
    const plan = await rig.run(['plan']);
    expect(plan.stdout).toMatch(/run\s+tasks\/A\s+never built/);
    expect(plan.stdout).toMatch(/pending\s+gold\/A\s+dependency (tasks|personas)\/A will run first/);
    expect(plan.stdout).toContain('3 targets: 2 to run, 1 pending on those, 0 to restore, 0 up to date');
    await rig.build();
    const status = await rig.run(['status']);
    expect(status.stdout).toMatch(/up to date\s+gold\/A/);
    expect(status.stdout).toContain('3 targets: 0 to run, 0 pending on those, 0 to restore, 3 up to date');
  });

  test('graph prints dot and mermaid', async ({rig}) => {
    rig.write({'Stagefile.ts': STAGEFILE, 'data/tasks.txt': 'x\n'});
    const dot = await rig.run(['graph', 'gold/A']);
    expect(dot.stdout).toContain('digraph stage {');
    expect(dot.stdout).toMatch(/t0 -> t2;/);
    const mermaid = await rig.run(['graph', '--format', 'mermaid']);
    expect(mermaid.stdout).toContain('flowchart LR');
    expect(mermaid.stdout).toContain('t1["personas/A"]');
    expect(mermaid.stdout).toMatch(/t1 --> t2/);
  });

  test('clean removes workspace outputs; the next build restores them from the store', async ({rig}) => {
    await setUp(rig);
    const r = await rig.run(['clean', 'gold/A']);
    expect(r.stdout).toContain('removed 1 output');
    expect(rig.exists('out/gold.txt')).toBe(false);
    expect(rig.exists('out/tasks.txt')).toBe(true);
    await rig.run(['clean']);
    const {ran, restored} = await rig.build();
    expect(ran).toEqual([]);
    expect(restored).toEqual(['gold/A', 'personas/A', 'tasks/A']);
  });

  test('cache gc evicts unused entries first and keeps what the workspace uses', async ({rig}) => {
    await setUp(rig);
    for (const v of ['two', 'three', 'four']) {
      rig.write({'data/tasks.txt': `task ${v}\n`});
      await rig.build();
    }
    const blobs = (): number => readdirSync(join(rig.cacheDir, 'v1', 'blobs')).flatMap((d) => readdirSync(join(rig.cacheDir, 'v1', 'blobs', d))).length;
    const before = blobs();
    const r = await rig.run(['cache', 'gc', '--max-size', '0']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kept 3 entries the workspace uses/);
    expect(blobs()).toBeLessThan(before);
    const {ran, restored} = await rig.build();
    expect(ran).toEqual([]);
    expect(restored).toEqual([]);
    await rig.run(['cache', 'gc', '--max-size', '0', '--include-live']);
    expect(blobs()).toBe(0);
  });

  test('help is rendered from the option table, with examples', async ({rig}) => {
    const help = await rig.run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('stage <command> [targets..]');
    expect(help.stdout).toContain('cache verify');
    const planHelp = await rig.run(['plan', '--help']);
    expect(planHelp.stdout).toContain('stage plan winrates');
    expect((await rig.run(['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  test('the store is laid out by hash, with read-only blobs', async ({rig}) => {
    await setUp(rig);
    const shards = readdirSync(join(rig.cacheDir, 'v1', 'blobs'));
    expect(shards.every((s) => /^[0-9a-f]{2}$/.test(s))).toBe(true);
    const blob = join(rig.cacheDir, 'v1', 'blobs', shards[0]!, readdirSync(join(rig.cacheDir, 'v1', 'blobs', shards[0]!))[0]!);
    expect(statSync(blob).mode & 0o777).toBe(0o444);
  });
});
