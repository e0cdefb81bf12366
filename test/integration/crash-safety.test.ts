import {chmodSync, existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {describe, expect} from 'vitest';
import {namesOf, test, waitFor, type Rig} from '../util/rig.js';

// A command that writes half its output, says it started, and waits for the test's go-ahead.
// The wait loop lives in the rule; the test synchronises on the files it creates.
const GATE = `#!/bin/sh
i=$1; out=$2
echo $$ > "pid-$i"
printf 'first half %s\\n' "$i" > "$out"
touch "started-$i"
# Also gives up once the workspace is gone, so a failed test leaves no process behind.
while [ ! -f release ] && [ -f gate.sh ]; do sleep 0.02; done
printf 'second half\\n' >> "$out"
`;

function gated(n: number): string {
  return `import {sh, target} from 'stage';
const parts = Array.from({length: ${n}}, (_, i) =>
  target(\`part/\${i}\`, {inputs: ['gate.sh', 'src/n.txt'], out: \`out/part\${i}.txt\`, run: sh(\`sh gate.sh \${i} $out\`)}));
target('all', {deps: parts, out: 'out/all.txt', run: sh('cat $in > $out')});
`;
}

function setUp(rig: Rig, n = 4): void {
  rig.write({'Stagefile.ts': gated(n), 'gate.sh': GATE, 'src/n.txt': '1\n'});
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

describe('interruptions never leave torn or false results', () => {
  test('kill -9 while rules run: no partial output anywhere, and the next build finishes', async ({rig}) => {
    setUp(rig);
    const {child, done} = rig.spawn(['build', '-j', '2', '--reporter', 'json']);
    const started = (): number => readdirSync(rig.dir).filter((f) => f.startsWith('started-')).length;
    await waitFor(() => started() === 2, 'two rules to start');
    child.kill('SIGKILL');
    await done;
    // Half-written outputs stay in staging: the workspace has none of them.
    for (let i = 0; i < 4; i++) expect(rig.exists(`out/part${i}.txt`)).toBe(false);
    writeFileSync(rig.path('release'), '');
    const {ran, result} = await rig.build(['-j', '2']);
    expect(result.code).toBe(0);
    expect(ran).toEqual(['all', 'part/0', 'part/1', 'part/2', 'part/3']);
    expect(rig.read('out/all.txt')).toBe('first half 0\nsecond half\nfirst half 1\nsecond half\nfirst half 2\nsecond half\nfirst half 3\nsecond half\n');
  });

  test('kill -9 at several points of a longer build: finished work is kept, nothing is torn', async ({rig}) => {
    const n = 24;
    rig.write({
      'Stagefile.ts': `import {sh, target} from 'stage';
const layer = Array.from({length: ${n}}, (_, i) =>
  target(\`t/\${i}\`, {inputs: ['src/n.txt'], out: \`out/t\${i}.txt\`, run: sh(\`(cat $in; echo ${'${i}'}) > $out\`)}));
target('sum', {deps: layer, out: 'out/sum.txt', run: sh('cat $in > $out')});
`,
      'src/n.txt': 'x\n',
    });
    const finished = new Set<string>();
    for (const killAfter of [3, 9, 15]) {
      const {child, done, events} = rig.spawn(['build', '-j', '2', '--reporter', 'json']);
      let seen: string[] = [];
      await waitFor(() => {
        seen = namesOf(events(), 'target-succeeded');
        return seen.length + finished.size >= killAfter || child.exitCode !== null;
      }, `${killAfter} targets to finish`);
      child.kill('SIGKILL');
      const r = await done;
      for (const t of namesOf(r.events, 'target-succeeded')) finished.add(t);
      for (const f of readdirSync(rig.path('out'))) {
        const i = /^t(\d+)\.txt$/.exec(f)?.[1];
        if (i !== undefined) expect(rig.read(`out/${f}`)).toBe(`x\n${i}\n`);
      }
    }
    const {ran, result} = await rig.build(['-j', '2']);
    expect(result.code).toBe(0);
    for (const t of finished) expect(ran).not.toContain(t);
    expect(rig.read('out/sum.txt').split('\n').filter(Boolean)).toHaveLength(2 * n);
  });

  test('Ctrl-C terminates running commands, stores nothing partial, and exits 130', async ({rig}) => {
    setUp(rig, 1);
    const {child, done} = rig.spawn(['build', '--reporter', 'json']);
    await waitFor(() => rig.exists('started-0'), 'the rule to start');
    const pid = Number(rig.read('pid-0'));
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    expect(r.events.find((e) => e.type === 'build-finished')).toMatchObject({interrupted: true});
    await waitFor(() => processGone(pid), 'the rule process to be terminated');
    expect(rig.exists('out/part0.txt')).toBe(false);
    writeFileSync(rig.path('release'), '');
    expect((await rig.build()).ran).toEqual(['all', 'part/0']);
  });

  test('an input edited while its rule runs: the result is not stored, the user is told', async ({rig}) => {
    setUp(rig, 1);
    const {done} = rig.spawn(['build', '--reporter', 'json']);
    await waitFor(() => rig.exists('started-0'), 'the rule to start');
    rig.write({'src/n.txt': '2\n'});
    writeFileSync(rig.path('release'), '');
    const r = await done;
    expect(r.code).toBe(1);
    expect(r.events.find((e) => e.type === 'target-failed')).toMatchObject({target: 'part/0', failure: {kind: 'input-changed', path: 'src/n.txt'}});
    expect(rig.exists('out/part0.txt')).toBe(false);
    expect((await rig.build()).ran).toEqual(['all', 'part/0']);
  });
});

describe('a damaged store is detected and rebuilt, never served', () => {
  const SIMPLE = `import {sh, target} from 'stage';
target('copy', {inputs: ['src/a.txt'], out: 'out/copy.txt', run: sh('cat $in > $out')});
`;

  function blobOf(rig: Rig, target: string): string {
    const state = JSON.parse(readFileSync(rig.path('.stage/state.json'), 'utf8')) as {targets: Record<string, {files: [string, string][]}>};
    const hex = state.targets[target]!.files[0]![1].split(':')[1]!;
    return join(rig.cacheDir, 'v1', 'blobs', hex.slice(0, 2), hex);
  }

  async function damage(rig: Rig, how: (blob: string) => void): Promise<void> {
    rig.write({'Stagefile.ts': SIMPLE, 'src/a.txt': 'precious contents\n'});
    await rig.build();
    const blob = blobOf(rig, 'copy');
    chmodSync(blob, 0o644);
    how(blob);
    chmodSync(rig.path('out'), 0o755);
    const {rmSync} = await import('node:fs');
    rmSync(rig.path('out/copy.txt'));
  }

  for (const [name, how] of [
    ['flipped bytes', (b: string) => writeFileSync(b, 'PRECIOUS CONTENTS\n')],
    ['truncation', (b: string) => writeFileSync(b, 'prec')],
  ] as const) {
    test(`a blob damaged by ${name} is rebuilt`, async ({rig}) => {
      await damage(rig, how);
      const {ran, restored, result} = await rig.build();
      expect(restored).toEqual([]);
      expect(ran).toEqual(['copy']);
      expect(result.events.some((e) => e.type === 'cache-info' && /corrupt/.test(e.message))).toBe(true);
      expect(rig.read('out/copy.txt')).toBe('precious contents\n');
    });
  }

  test('cache verify finds and removes a damaged blob and the entries that need it', async ({rig}) => {
    await damage(rig, (b) => writeFileSync(b, 'garbage\n'));
    const first = await rig.run(['cache', 'verify']);
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(/blob [0-9a-f]{16} is damaged/);
    expect(first.stdout).toMatch(/action entry for copy \(written by [^@]+@[^ ]+ at [^)]+ with stage [^)]+\) references a missing or damaged output out\/copy.txt/);
    const second = await rig.run(['cache', 'verify']);
    expect(second.code).toBe(0);
    expect((await rig.build()).ran).toEqual(['copy']);
  });

  test('an unreadable action entry or workspace state costs a rebuild or a restore, nothing else', async ({rig}) => {
    rig.write({'Stagefile.ts': SIMPLE, 'src/a.txt': 'precious contents\n'});
    await rig.build();
    writeFileSync(rig.path('.stage/state.json'), '{"version": 1, "files": {');
    const restored = await rig.build();
    expect(restored.restored).toEqual(['copy']);
    expect(restored.result.events.some((e) => e.type === 'warning' && /state was unreadable/.test(e.message))).toBe(true);
    const actions = join(rig.cacheDir, 'v1', 'actions');
    const shard = readdirSync(actions)[0]!;
    const file = join(actions, shard, readdirSync(join(actions, shard))[0]!);
    chmodSync(file, 0o644);
    writeFileSync(file, 'not json');
    const {rmSync} = await import('node:fs');
    rmSync(rig.path('.stage'), {recursive: true});
    const rebuilt = await rig.build();
    expect(rebuilt.ran).toEqual(['copy']);
    expect(existsSync(file)).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({target: 'copy'});
  });
});
