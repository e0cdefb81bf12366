import {chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {execFileSync, spawn} from 'node:child_process';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import {sameCallsStagefile} from '../util/same-calls.js';
import {startOpenAIServer} from '../util/openai-server.js';
import {parseEvents} from '../util/rig.js';

/**
 * Two Unix users in one group build the same targets at the same time against one setgid cache
 * directory, the way two lab members share a cache on a cluster's filesystem. CI creates the
 * users (ci/users/setup.sh) and sets STAGE_TEST_USERS; elsewhere this is skipped.
 */
const USERS = (process.env['STAGE_TEST_USERS'] ?? '').split(',').filter((u) => u !== '');
const GROUP = process.env['STAGE_TEST_GROUP'] ?? 'stage-lab';
const CLI = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'bin', 'stage.js');

interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

function account(name: string): Account {
  const id = (flag: string): number => Number(execFileSync('id', [flag, name]).toString().trim());
  return {name, uid: id('-u'), gid: id('-g')};
}

const STAGEFILE = `import {sh, target} from 'stage';
const parts = Array.from({length: 6}, (_, i) =>
  target(\`part/\${i}\`, {inputs: ['src/input.txt', 'work.sh'], out: \`out/part\${i}.txt\`, run: sh(\`sh work.sh \${i} $out\`)}));
target('all', {deps: parts, out: 'out/all.txt', run: sh('cat $in > $out')});
`;


let lab: string;
let cache: string;
let groupId: number;
let accounts: Account[];

function workScript(): string {
  // Each execution leaves a line: which part, and who ran it. The pause lets the other builder
  // arrive while it runs.
  return `echo "$1 $(id -un)" >> '${lab}/executions.log'
sleep 0.3
echo "part $1 of $(cat src/input.txt)" > "$2"
`;
}

function setUpWorkspace(a: Account): string {
  const ws = join(lab, a.name);
  mkdirSync(join(ws, 'src'), {recursive: true});
  writeFileSync(join(ws, 'Stagefile.ts'), STAGEFILE);
  writeFileSync(join(ws, 'work.sh'), workScript());
  writeFileSync(join(ws, 'src', 'input.txt'), 'one\n');
  execFileSync('chown', ['-R', `${a.uid}:${a.gid}`, ws]);
  return ws;
}

function runAs(a: Account, args: readonly string[], env: Record<string, string> = {}, ws = join(lab, a.name)): Promise<{code: number | null; stdout: string; stderr: string}> {
  const child = spawn('setpriv', [`--reuid=${a.uid}`, `--regid=${a.gid}`, '--init-groups', process.execPath, CLI, ...args], {
    cwd: ws,
    env: {PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: ws, STAGE_CACHE_DIR: cache, STAGE_CONFIG: join(lab, 'config.json'), FORCE_COLOR: '0', ...env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((res) => child.on('close', (code) => res({code, stdout, stderr})));
}

function executions(): string[] {
  return readFileSync(join(lab, 'executions.log'), 'utf8').split('\n').filter((l) => l !== '');
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    yield p;
    if (lstatSync(p).isDirectory()) yield* walk(p);
  }
}

describe.skipIf(USERS.length < 2)('two users in one group share a setgid cache', () => {
  beforeAll(() => {
    accounts = USERS.slice(0, 2).map(account);
    groupId = Number(execFileSync('getent', ['group', GROUP]).toString().split(':')[2]);
    lab = mkdtempSync(join(tmpdir(), 'stage-users-'));
    chmodSync(lab, 0o755);
    cache = join(lab, 'cache');
    mkdirSync(cache);
    chownSync(cache, 0, groupId);
    chmodSync(cache, 0o2775);
    writeFileSync(join(lab, 'executions.log'), '');
    chmodSync(join(lab, 'executions.log'), 0o666);
    writeFileSync(join(lab, 'config.json'), JSON.stringify({leases: {heartbeatMs: 200, staleMs: 60_000, pollMs: 10}}));
    chmodSync(join(lab, 'config.json'), 0o644);
    for (const a of accounts) setUpWorkspace(a);
  });

  afterAll(() => {
    rmSync(lab, {recursive: true, force: true});
  });

  it('builds concurrently with each action executed once, no permission errors, and group modes throughout', async () => {
    const [alice, bob] = accounts as [Account, Account];
    const both = await Promise.all([runAs(alice, ['build', '-j', '2', '--reporter', 'json']), runAs(bob, ['build', '-j', '2', '--reporter', 'json'])]);
    for (const r of both) {
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/EPERM|EACCES|permission denied/i);
    }
    // Each of the six parts and `all` ran once in all, whoever ran it.
    const ran = executions();
    expect(ran.map((l) => l.split(' ')[0]).sort()).toEqual(['0', '1', '2', '3', '4', '5']);
    const events = both.map((r) => parseEvents(r.stdout));
    const succeeded = events.flatMap((e) => e.filter((x) => x.type === 'target-succeeded').map((x) => (x as {target: string}).target));
    expect(succeeded.sort()).toEqual(['all', 'part/0', 'part/1', 'part/2', 'part/3', 'part/4', 'part/5']);
    for (const a of accounts) expect(readFileSync(join(lab, a.name, 'out', 'all.txt'), 'utf8')).toBe(Array.from({length: 6}, (_, i) => `part ${i} of one\n`).join(''));

    // Whoever restored the other's result stamped its use beside it (only owners may set times).
    const stamps = [...walk(join(cache, 'v1', 'used'))].filter((p) => lstatSync(p).isFile());
    expect(stamps).toHaveLength(7);

    // Each edits their input and rebuilds alone, writing into directories the other created.
    for (const [a, text] of [[bob, 'three'], [alice, 'two']] as const) {
      writeFileSync(join(lab, a.name, 'src', 'input.txt'), `${text}\n`);
      chownSync(join(lab, a.name, 'src', 'input.txt'), a.uid, a.gid);
      const again = await runAs(a, ['build', '--reporter', 'json']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout + again.stderr).not.toMatch(/EPERM|EACCES|permission denied/i);
    }
    // Bob checks the whole cache and collects it, files of Alice's included.
    const verify = await runAs(bob, ['cache', 'verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/: 0 problems/);

    const modes: string[] = [];
    for (const p of walk(cache)) {
      const st = lstatSync(p);
      const rel = p.slice(cache.length + 1);
      if (st.gid !== groupId) modes.push(`${rel}: group ${st.gid}, not ${GROUP}`);
      if (st.isDirectory() && (st.mode & 0o7777) !== 0o2775) modes.push(`${rel}: directory mode ${(st.mode & 0o7777).toString(8)}`);
      if (st.isFile() && /^v1\/(blobs|actions|used)\//.test(rel) && (st.mode & 0o777) !== 0o444) modes.push(`${rel}: file mode ${(st.mode & 0o777).toString(8)}`);
    }
    expect(modes).toEqual([]);
    // Both users own files in it: the test really mixed them.
    const owners = new Set([...walk(join(cache, 'v1', 'actions'))].filter((p) => p.endsWith('.json')).map((p) => lstatSync(p).uid));
    expect(owners.size).toBe(2);
    // Nothing is left leased.
    expect(readdirSync(join(cache, 'v1', 'leases'))).toEqual([]);

    const gc = await runAs(bob, ['cache', 'gc', '--max-size', '0', '--include-live']);
    expect(gc.code, gc.stdout + gc.stderr).toBe(0);
    expect(gc.stdout + gc.stderr).not.toMatch(/EPERM|EACCES/);
    expect([...walk(join(cache, 'v1', 'blobs'))].filter((p) => lstatSync(p).isFile())).toEqual([]);
  }, 300_000);

  it('shares the model-call memo: the same calls made by both users at once are paid once', async () => {
    const server = await startOpenAIServer({apiKeys: ['sk-lab'], faults: [{kind: 'slow', delayMs: 100, times: Infinity}]});
    try {
      const config = join(lab, 'api-config.json');
      writeFileSync(config, JSON.stringify({endpoints: {writer: {baseURL: server.baseURL, apiKeyEnv: 'LAB_KEY', concurrency: 4}}, leases: {pollMs: 10}}));
      chmodSync(config, 0o644);
      const runs = accounts.map((a, i) => {
        const ws = join(lab, `${a.name}-api`);
        mkdirSync(ws);
        writeFileSync(join(ws, 'Stagefile.ts'), sameCallsStagefile(`by-${i}`, 12));
        execFileSync('chown', ['-R', `${a.uid}:${a.gid}`, ws]);
        return runAs(a, ['build', '--reporter', 'json'], {STAGE_CONFIG: config, LAB_KEY: 'sk-lab'}, ws);
      });
      for (const r of await Promise.all(runs)) expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(server.count('POST /v1/chat/completions')).toBe(12);
      expect(server.duplicateCompletions()).toEqual([]);
      const memo = join(cache, 'v1', 'memo');
      expect(lstatSync(memo).mode & 0o7777).toBe(0o2775);
      for (const f of readdirSync(memo)) {
        const st = lstatSync(join(memo, f));
        expect(st.gid).toBe(groupId);
        expect(st.mode & 0o040).toBe(0o040);
      }
    } finally {
      await server.close();
    }
  }, 300_000);
});
