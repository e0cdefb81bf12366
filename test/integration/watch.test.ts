/**
 * `stage watch` through the CLI, in a temp workspace. Each test starts a watcher with
 * `--reporter json` and waits on its NDJSON events (never on sleeps): a file is edited only once
 * the watcher said it is idle (or building, for the interrupt cases), and every assertion about
 * what did *not* happen is checked after a later event that must come after it ("fences": the
 * file events of one edit arrive before those of a later one).
 */
import {existsSync, readdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterEach, beforeEach, describe, expect} from 'vitest';
import type {Event} from '../../src/event.js';
import {FakeSlurm, slurmConfig} from '../util/fake-slurm/fake-slurm.js';
import {squaresStagefile} from '../util/fake-slurm/stagefiles.js';
import {startOpenAIServer, type OpenAIServer} from '../util/openai-server.js';
import {test, waitFor, type Rig, type RunResult} from '../util/rig.js';

/** Generous: CLI start-up, esbuild, a loaded two-core machine. */
const DEADLINE_MS = 60_000;

type Of<T extends Event['type']> = Extract<Event, {type: T}>;

interface Build {
  readonly events: readonly Event[];
  readonly ran: string[];
  readonly restored: string[];
  readonly finished: Of<'build-finished'>;
}

/** One `stage watch --reporter json` process and its events so far. */
class Watch {
  readonly #run: ReturnType<Rig['spawn']>;
  #stderr = '';

  constructor(rig: Rig, args: readonly string[] = [], env: Record<string, string> = {}, stdin: 'ignore' | 'pipe' = 'ignore') {
    this.#run = rig.spawn(['watch', '--reporter', 'json', ...args], env, stdin);
    this.#run.child.stderr!.on('data', (d: string) => (this.#stderr += d));
  }

  events(): Event[] {
    return this.#run.events();
  }

  of<T extends Event['type']>(type: T): Of<T>[] {
    return this.events().filter((e): e is Of<T> => e.type === type);
  }

  states(): string[] {
    return this.of('watch-state').map((e) => e.state);
  }

  /** Finished builds, each with the events between its build-started and build-finished. */
  builds(): Build[] {
    const out: Build[] = [];
    let current: Event[] | undefined;
    for (const e of this.events()) {
      if (e.type === 'build-started') current = [];
      if (!current) continue;
      current.push(e);
      if (e.type === 'build-finished') {
        const names = (t: Event['type']): string[] => current!.filter((x) => x.type === t).map((x) => (x as {target: string}).target).sort();
        out.push({events: current, ran: names('target-succeeded'), restored: names('target-restored'), finished: e});
        current = undefined;
      }
    }
    return out;
  }

  async until(check: () => boolean, what: string): Promise<void> {
    try {
      await waitFor(check, what, DEADLINE_MS);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nevents:\n${this.events().map((x) => JSON.stringify(x)).join('\n')}\nstderr:\n${this.#stderr}`);
    }
  }

  /** Waits for the n-th finished build (1-based) and returns it. */
  async build(n: number): Promise<Build> {
    await this.until(() => this.builds().length >= n, `build ${n} to finish`);
    return this.builds()[n - 1]!;
  }

  /** Waits until the watcher has entered `state` `count` times in all. */
  async state(state: string, count: number): Promise<void> {
    await this.until(() => this.states().filter((s) => s === state).length >= count, `watch-state ${state} #${count}`);
  }

  type(text: string): void {
    this.#run.child.stdin!.write(text);
  }

  /** Ctrl-C: the watcher stops cleanly with 130. */
  async stop(): Promise<RunResult> {
    this.#run.child.kill('SIGINT');
    const r = await this.#run.done;
    expect(r.code, this.#stderr).toBe(130);
    expect(r.events.at(-1)).toMatchObject({type: 'watch-state', state: 'stopped'});
    return r;
  }
}

/** Action entries in the store: what was committed, ever. */
function storedActions(rig: Rig): number {
  const dir = join(rig.cacheDir, 'v1', 'actions');
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).flatMap((d) => readdirSync(join(dir, d))).filter((f) => f.endsWith('.json')).length;
}

const LAYERED = `import {sh, target} from 'stage';
const a = target('a', {inputs: ['data/a.txt'], out: 'out/a.txt', run: sh('cat $in > $out')});
const notes = target('notes', {inputs: ['**/*.md'], out: 'out/notes.txt', run: sh('cat $in > $out')});
target('parts', {deps: [a], out: 'out/parts/', run: sh('cp $in $out/copy.txt && echo part > $out/part.txt')});
target('both', {deps: [a, notes], out: 'out/both.txt', run: sh('cat $in > $out')});
`;

describe('stage watch', () => {
  test('builds, then rebuilds exactly what an edit affects; outputs, .stage, node_modules and .git never trigger', async ({rig}) => {
    rig.write({'Stagefile.ts': LAYERED, 'data/a.txt': 'one\n', 'docs/intro.md': '# intro\n'});
    const w = new Watch(rig);
    const first = await w.build(1);
    expect(first.ran).toEqual(['a', 'both', 'notes', 'parts']);
    expect(w.of('watch-ready')[0]).toMatchObject({files: 3, targets: 4});
    await w.state('idle', 1);

    // Noise first, then the edit that must rebuild: if any of the noise counted, it would show up
    // as a change before (or merged with) the edit's.
    rig.write({
      'node_modules/pkg/readme.md': 'x', '.git/notes.md': 'x', '.stage/stray.md': 'x', 'scratch.txt': 'x', 'docs/image.png': 'x',
    });
    rig.write({'data/a.txt': 'two\n'});
    const second = await w.build(2);
    expect(second.ran).toEqual(['a', 'both', 'parts']);
    expect(w.of('watch-change').map((e) => e.paths)).toEqual([['data/a.txt']]);
    expect(w.of('watch-change')[0]!.reload).toBe(false);
    expect(rig.read('out/both.txt')).toBe('two\n# intro\n');

    // A file that newly matches an input glob counts.
    await w.state('idle', 2);
    rig.write({'docs/new/more.md': 'more\n'});
    const third = await w.build(3);
    expect(third.ran).toEqual(['both', 'notes']);

    // Fence: the outputs build 3 wrote did not start a build of their own.
    await w.state('idle', 3);
    rig.write({'docs/new/more.md': 'more, edited\n'});
    const fourth = await w.build(4);
    expect(fourth.ran).toEqual(['both', 'notes']);
    await w.state('idle', 4);
    const r = await w.stop();
    expect(r.events.filter((e) => e.type === 'watch-change').map((e) => (e as Of<'watch-change'>).paths)).toEqual([['data/a.txt'], ['docs/new/more.md'], ['docs/new/more.md']]);
    expect(r.events.filter((e) => e.type === 'build-started')).toHaveLength(4);
    // Each build went idle → debouncing → planning → building → idle.
    expect(w.states().slice(0, 7)).toEqual(['planning', 'building', 'idle', 'debouncing', 'planning', 'building', 'idle']);
  });

  test('editing a module the Stagefile imports reloads it; a new input of the reloaded Stagefile is watched; a broken Stagefile waits for a fix', async ({rig}) => {
    const stagefile = (inputs: string[]): string => `import {sh, target} from 'stage';
import {greeting} from './lib/words.js';
target('greet', {out: 'out/greet.txt', run: sh(\`echo \${greeting} > $out\`)});
target('other', {inputs: ${JSON.stringify(inputs)}, out: 'out/other.txt', run: sh('cat $in > $out')});
`;
    rig.write({'Stagefile.ts': stagefile(['data/a.txt']), 'lib/words.ts': "export const greeting = 'hello';\n", 'data/a.txt': 'a\n', 'data/extra.txt': 'extra\n'});
    const w = new Watch(rig);
    expect((await w.build(1)).ran).toEqual(['greet', 'other']);
    await w.state('idle', 1);

    rig.write({'lib/words.ts': "export const greeting = 'hi';\n"});
    expect((await w.build(2)).ran).toEqual(['greet']);
    expect(w.of('watch-change')[0]).toEqual({type: 'watch-change', paths: ['lib/words.ts'], reload: true});
    expect(rig.read('out/greet.txt')).toBe('hi\n');
    await w.state('idle', 2);

    // data/extra.txt is not an input yet: editing it is not a change. The Stagefile edit that makes
    // it one is, and afterwards so is the file.
    rig.write({'data/extra.txt': 'extra, edited\n'});
    rig.write({'Stagefile.ts': stagefile(['data/a.txt', 'data/extra.txt'])});
    expect((await w.build(3)).ran).toEqual(['other']);
    expect(w.of('watch-change').map((e) => e.paths)).toEqual([['lib/words.ts'], ['Stagefile.ts']]);
    expect(w.of('watch-ready').at(-1)).toMatchObject({files: 4, targets: 2});
    await w.state('idle', 3);
    rig.write({'data/extra.txt': 'extra, edited again\n'});
    expect((await w.build(4)).ran).toEqual(['other']);
    expect(rig.read('out/other.txt')).toBe('a\nextra, edited again\n');
    await w.state('idle', 4);

    // Back to an earlier text: the same compiled bundle as the first load, evaluated afresh, and
    // its result comes from the store.
    rig.write({'lib/words.ts': "export const greeting = 'hello';\n"});
    const fifth = await w.build(5);
    expect(fifth.ran).toEqual([]);
    expect(fifth.restored).toEqual(['greet']);
    expect(rig.read('out/greet.txt')).toBe('hello\n');
    await w.state('idle', 5);

    rig.write({'Stagefile.ts': `${stagefile(['data/a.txt'])}\ntarget('broken', {out: 'x', run: 42});\n`});
    await w.state('blocked', 1);
    expect(w.of('diagnostic').map((d) => d.diagnostic.message).join('\n')).toMatch(/target "broken" needs "run"/);
    expect(w.of('watch-state').at(-1)!.reason).toMatch(/the Stagefile has errors; waiting for a change/);
    // An input edit while blocked loads the Stagefile again (still broken), and builds nothing.
    rig.write({'data/a.txt': 'b\n'});
    await w.state('blocked', 2);
    rig.write({'Stagefile.ts': stagefile(['data/a.txt'])});
    expect((await w.build(6)).ran).toEqual(['other']);
    expect(w.builds()).toHaveLength(6);
    await w.stop();
  });

  test('a change during a long local rule interrupts it and builds again; the stale run stores nothing', async ({rig}) => {
    const go = rig.path('go');
    rig.write({
      'Stagefile.ts': `import {sh, target} from 'stage';
target('slow', {inputs: ['data/a.txt'], out: 'out/slow.txt', run: sh('while [ ! -f ${go} ]; do sleep 0.05; done; cat $in > $out')});
`,
      'data/a.txt': 'one\n',
    });
    const w = new Watch(rig);
    await w.until(() => w.of('target-started').length === 1, 'the rule to start');
    rig.write({'data/a.txt': 'two\n'});
    await w.until(() => w.of('target-started').length === 2, 'the rule to start again');
    const [interrupted] = w.builds();
    expect(interrupted!.finished).toMatchObject({interrupted: true, counts: {ran: 0}});
    expect(interrupted!.events.find((e) => e.type === 'target-skipped')).toMatchObject({target: 'slow', because: 'the build was interrupted'});
    expect(w.of('watch-state').find((e) => e.state === 'interrupting')).toMatchObject({reason: 'change in data/a.txt'});
    expect(w.of('target-succeeded')).toEqual([]);
    expect(rig.exists('out/slow.txt')).toBe(false);
    expect(storedActions(rig)).toBe(0);

    writeFileSync(go, '');
    const done = await w.build(2);
    expect(done.ran).toEqual(['slow']);
    expect(done.finished.interrupted).toBe(false);
    expect(rig.read('out/slow.txt')).toBe('two\n');
    expect(storedActions(rig)).toBe(1);
    await w.state('idle', 1);
    await w.stop();
  });

  test('--debounce is honoured, --help describes the command, and the human reporter prints short lines', async ({rig}) => {
    const help = await rig.run(['watch', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('stage watch [targets..]');
    expect(help.stdout).toContain('--allow-slurm');
    expect(help.stdout).toContain('--debounce');
    expect((await rig.run(['watch', '--debounce', 'soon'])).stderr).toMatch(/--debounce needs a whole number/);

    rig.write({'Stagefile.ts': LAYERED, 'data/a.txt': 'one\n', 'docs/intro.md': '# intro\n'});
    const {child, done} = rig.spawn(['watch', 'a', '--debounce', '50']);
    let out = '';
    child.stdout!.on('data', (d: string) => (out += d));
    await waitFor(() => out.includes('waiting for a change'), 'the first build', DEADLINE_MS);
    expect(out).toContain('watching 2 files → building');
    rig.write({'data/a.txt': 'two\n'});
    await waitFor(() => (out.match(/waiting for a change/g) ?? []).length === 2, 'the rebuild', DEADLINE_MS);
    expect(out).toContain('watching 2 files; change in data/a.txt → rebuilding');
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.stdout).toContain('stopped watching');
  });
});

describe('stage watch spends nothing unasked', () => {
  let server: OpenAIServer;
  beforeEach(async () => {
    server = await startOpenAIServer({apiKeys: ['sk-watch-test']});
  });
  afterEach(async () => {
    await server.close();
  });

  test('an API build above confirmAbove waits for a y on stdin; a change plans again; nothing is called before the y', async ({rig}) => {
    rig.write({
      'Stagefile.ts': `import {readFileSync, writeFileSync} from 'node:fs';
import {llmRule, model, target} from 'stage';
model('writer', {provider: 'openai-compatible', model: 'test-model-1'});
const write = llmRule<{n: number}>('write', {
  roles: ['writer'],
  requests: ({params, inputs}) => {
    const [a, b] = inputs.map((f) => readFileSync(f, 'utf8'));
    return Array.from({length: params.n}, (_, i) => ({
      id: \`item-\${i}\`, role: 'writer', messages: [{role: 'user' as const, content: \`\${i < params.n / 2 ? a : b} Item \${i}.\`}],
      params: {temperature: 0, max_tokens: 16},
    }));
  },
  assemble: ({out}, results) => writeFileSync(out, results.map((r) => JSON.stringify({id: r.id, text: r.ok ? r.content : null})).join('\\n') + '\\n'),
});
target('answers', {inputs: ['prompts/a.md', 'prompts/b.md'], params: {n: 10}, out: 'out/answers.jsonl', run: write});
`,
      'prompts/a.md': 'Answer briefly.', 'prompts/b.md': 'Answer at length.',
    });
    const config = join(rig.dir, '..', 'config.json');
    // $1 per 1k tokens: each call costs a few cents, ten of them well above 5 cents.
    writeFileSync(config, JSON.stringify({
      endpoints: {writer: {baseURL: server.baseURL, apiKeyEnv: 'TEST_WRITER_KEY'}},
      prices: {'test-model-1': {input: 1000, output: 1000}}, confirmAbove: 0.05,
    }));
    const w = new Watch(rig, [], {STAGE_CONFIG: config, TEST_WRITER_KEY: 'sk-watch-test'}, 'pipe');
    await w.state('awaiting-confirmation', 1);
    const [ask] = w.of('watch-confirm');
    expect(ask!.threshold).toBe(0.05);
    expect(ask!.dollars).toBeGreaterThan(0.05);
    expect(ask!.entries.find((e) => e.target === 'answers')).toMatchObject({action: 'run', api: {calls: 10, toPay: 10}});
    expect(w.of('build-started')).toEqual([]);
    expect(server.stats.totalRequests).toBe(0);

    rig.write({'prompts/a.md': 'Answer in one word.'});
    await w.state('awaiting-confirmation', 2);
    expect(w.of('watch-confirm')).toHaveLength(2);
    expect(w.of('build-started')).toEqual([]);
    expect(server.stats.totalRequests).toBe(0);

    w.type('y\n');
    const first = await w.build(1);
    expect(first.ran).toEqual(['answers']);
    expect(server.count('POST /v1/chat/completions')).toBe(10);
    await w.state('idle', 1);

    // The next edit costs money again (5 calls to pay): asked again, and the y confirmed one build only.
    rig.write({'prompts/b.md': 'Answer at great length.'});
    await w.state('awaiting-confirmation', 3);
    expect(w.of('watch-confirm')[2]!.entries.find((e) => e.target === 'answers')).toMatchObject({api: {calls: 10, memoized: 5, toPay: 5}});
    await w.stop();
    expect(server.count('POST /v1/chat/completions')).toBe(10);
    expect(w.builds()).toHaveLength(1);
  });
});

describe('stage watch and SLURM', () => {
  function setUp(rig: Rig, stagefile: string): {fake: FakeSlurm; env: Record<string, string>} {
    rig.write({'Stagefile.ts': stagefile, 'data/a.txt': 'one\n'});
    const fake = new FakeSlurm(join(rig.dir, '..', 'fake-slurm'));
    return {fake, env: {...fake.env(), ...slurmConfig(join(rig.dir, '..', 'config.json'))}};
  }

  test('without --allow-slurm a build that needs the cluster does not start, and sbatch is never called', async ({rig}) => {
    const local = "target('local', {inputs: ['data/a.txt'], out: 'out/local.txt', run: sh('cat $in > $out')});";
    const {fake, env} = setUp(rig, squaresStagefile({shards: 2, extra: local}));
    const w = new Watch(rig, [], env);
    await w.state('blocked', 1);
    expect(w.of('watch-needs-slurm')).toEqual([{type: 'watch-needs-slurm', targets: ['squares']}]);
    expect(w.of('watch-state').at(-1)!.reason).toMatch(/^squares runs on SLURM, and watch submits no jobs without --allow-slurm/);
    rig.write({'data/a.txt': 'two\n'});
    await w.state('blocked', 2);
    expect(w.of('watch-needs-slurm')).toHaveLength(2);
    await w.stop();
    expect(w.of('build-started')).toEqual([]);
    expect(fake.calls('sbatch')).toEqual([]);
    expect(fake.calls()).toEqual([]);
  });

  test('with --allow-slurm a change while a job runs does not cancel it: the next build follows', async ({rig}) => {
    const go = rig.path('go');
    const started = rig.path('job-started');
    const {fake, env} = setUp(rig, `import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {rule, target} from 'stage';
const wait = rule('wait', async ({inputs, out}) => {
  writeFileSync(${JSON.stringify(started)}, '');
  while (!existsSync(${JSON.stringify(go)})) await new Promise((r) => setTimeout(r, 50));
  writeFileSync(out, readFileSync(inputs[0]!));
});
target('gpu', {inputs: ['data/a.txt'], out: 'out/gpu.txt', run: wait, executor: 'slurm', slurm: {time: '5', mem: '100M'}});
`);
    const w = new Watch(rig, ['--allow-slurm'], env);
    await w.until(() => w.of('slurm-submitted').length === 1, 'the job to be submitted');
    // Edit once the job's rule runs: earlier, `stage exec` would refuse the job for its changed key.
    await w.until(() => existsSync(started), 'the job to run its rule');
    rig.write({'data/a.txt': 'two\n'});
    await w.until(() => w.of('watch-state').some((e) => /SLURM jobs are in flight/.test(e.reason)), 'the change to be kept for later');
    writeFileSync(go, '');
    // The first build ends without storing a result computed from an input that changed under it.
    const first = await w.build(1);
    expect(first.events.find((e) => e.type === 'target-failed')).toMatchObject({target: 'gpu', failure: {kind: 'input-changed'}});
    const second = await w.build(2);
    expect(second.ran).toEqual(['gpu']);
    expect(rig.read('out/gpu.txt')).toBe('two\n');
    // Interrupted only once the job was done: what was left of the build was stale.
    const interrupting = w.of('watch-state').filter((e) => e.state === 'interrupting');
    expect(interrupting.map((e) => e.reason)).toEqual(['the SLURM jobs are done; change in data/a.txt']);
    await w.state('idle', 1);
    await w.stop();
    expect(fake.calls('sbatch')).toHaveLength(2);
    expect(fake.calls('scancel')).toEqual([]);
  });
});
