import {chmodSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterEach, beforeEach, describe, expect} from 'vitest';
import {sameCallsStagefile} from '../util/same-calls.js';
import {startOpenAIServer, type OpenAIServer} from '../util/openai-server.js';
import {Rig, test} from '../util/rig.js';

/** A second builder's workspace on the first one's store, removed with it. */
function sharing(rig: Rig): Rig {
  const other = new Rig({cacheDir: rig.cacheDir});
  others.push(other);
  return other;
}
const others: Rig[] = [];
afterEach(() => {
  for (const o of others.splice(0)) o.cleanup();
});

const COPY = `import {sh, target} from 'stage';
target('upper', {inputs: ['src/in.txt'], out: 'out/upper.txt', run: sh('tr a-z A-Z < $in > $out')});
target('count', {deps: ['upper'], out: 'out/count.txt', run: sh('wc -c < $in > $out')});
`;

/** Every file under a directory with its size and mtime: what "untouched" means for a store. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, {withFileTypes: true})) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        out.push(`${p} ${st.size} ${st.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out.sort();
}

describe('a consumer reads a lab cache without writing it', () => {
  test('--cache-read-only restores from the lab cache and builds what is new into the workspace', async ({rig}) => {
    rig.write({'Stagefile.ts': COPY, 'src/in.txt': 'hello\n'});
    expect((await rig.build()).ran).toEqual(['count', 'upper']);
    const before = snapshot(rig.cacheDir);

    const reader = sharing(rig);
    reader.write({'Stagefile.ts': COPY, 'src/in.txt': 'hello\n'});
    const restored = await reader.build(['--cache-read-only']);
    expect(restored.result.code).toBe(0);
    expect(restored.restored).toEqual(['count', 'upper']);
    expect(reader.read('out/upper.txt')).toBe('HELLO\n');

    reader.write({'src/in.txt': 'other\n'});
    const built = await reader.run(['build', '--reporter', 'json'], {STAGE_CACHE_READ_ONLY: '1'});
    expect(built.code).toBe(0);
    expect(reader.read('out/upper.txt')).toBe('OTHER\n');
    // The lab cache is exactly as it was: no entry, blob, use stamp, lease or memo line.
    expect(snapshot(rig.cacheDir)).toEqual(before);
    expect(readdirSync(reader.path('.stage/cache/v1/actions')).length).toBeGreaterThan(0);
    // And what the consumer built is reused from its own store.
    reader.write({'src/in.txt': 'hello\n'});
    expect((await reader.build(['--cache-read-only'])).ran).toEqual([]);
  });
});

describe('checkouts in different places share results', () => {
  test('a target with a model server has the same key wherever the workspace and this stage are', async ({rig}) => {
    // The server command names this node, this stage and a script inside the workspace by
    // absolute path, as the demo profile does: none of that is what the server answers.
    const stagefile = `import {resolve} from 'node:path';
import {sh, target} from 'stage';
target('served', {
  out: 'out/served.txt',
  server: {command: [process.execPath, process.argv[1]!, 'world', 'serve', '--port', '{port}', '--policy', resolve('ckpt/policy.json')], urlEnv: 'URL'},
  run: sh('echo served > $out'),
});
`;
    const other = sharing(rig);
    for (const r of [rig, other]) r.write({'Stagefile.ts': stagefile});
    const keyIn = async (r: Rig): Promise<string> => {
      const planned = await r.run(['plan', '--json']);
      expect(planned.code, planned.stderr).toBe(0);
      return (JSON.parse(planned.stdout) as {targets: {key: string}[]}).targets[0]!.key;
    };
    expect(rig.dir).not.toBe(other.dir);
    expect(await keyIn(rig)).toBe(await keyIn(other));
  });
});

describe('entries are checked before they are believed', () => {
  test('an entry that would write outside the workspace is ignored, reported with its producer, and rebuilt', async ({rig}) => {
    rig.write({'Stagefile.ts': COPY, 'src/in.txt': 'hello\n'});
    await rig.build(['upper']);
    const shard = readdirSync(join(rig.cacheDir, 'v1', 'actions'))[0]!;
    const file = join(rig.cacheDir, 'v1', 'actions', shard, readdirSync(join(rig.cacheDir, 'v1', 'actions', shard))[0]!);
    const entry = JSON.parse(readFileSync(file, 'utf8')) as {files: [string, string, number][]};
    entry.files[0]![0] = '../escaped.txt';
    chmodSync(file, 0o644);
    writeFileSync(file, JSON.stringify(entry));

    const victim = sharing(rig);
    victim.write({'Stagefile.ts': COPY, 'src/in.txt': 'hello\n'});
    const r = await victim.run(['build', 'upper', '--reporter', 'json']);
    expect(r.code).toBe(0);
    const info = r.events.find((e) => e.type === 'cache-info');
    expect(info).toBeDefined();
    expect((info as {message: string}).message).toMatch(/written by [^@]+@\S+ at .* with stage .*names a file outside the workspace \(\.\.\/escaped\.txt\).*upper will be rebuilt/);
    expect(r.events.some((e) => e.type === 'target-succeeded' && e.target === 'upper')).toBe(true);
    expect(victim.exists('../escaped.txt')).toBe(false);
    expect(victim.read('out/upper.txt')).toBe('HELLO\n');
    // The rebuilt entry replaced the bad one.
    expect((await rig.run(['cache', 'verify'])).code).toBe(0);
  });
});


describe('model calls are paid once across builders', () => {
  let server: OpenAIServer;
  beforeEach(async () => {
    // Slow answers, so the two builders' calls overlap.
    server = await startOpenAIServer({apiKeys: ['sk-test'], faults: [{kind: 'slow', delayMs: 150, times: Infinity}]});
  });
  afterEach(async () => {
    await server.close();
  });

  test('two builders making the same calls at once pay for each call once', async ({rig}) => {
    const config = join(rig.dir, '..', 'config.json');
    writeFileSync(config, JSON.stringify({endpoints: {writer: {baseURL: server.baseURL, apiKeyEnv: 'TEST_KEY', concurrency: 4}}, leases: {pollMs: 10}}));
    const env = {STAGE_CONFIG: config, TEST_KEY: 'sk-test'};
    const second = sharing(rig);
    rig.write({'Stagefile.ts': sameCallsStagefile('first', 20)});
    second.write({'Stagefile.ts': sameCallsStagefile('second', 20)});
    const [a, b] = await Promise.all([rig.run(['build', '--reporter', 'json'], env), second.run(['build', '--reporter', 'json'], env)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    // Different targets (their keys differ), the same 20 requests: each paid for once in all.
    expect(server.count('POST /v1/chat/completions')).toBe(20);
    expect(server.duplicateCompletions()).toEqual([]);
    expect(rig.read('out/answers.txt').slice('first '.length)).toBe(second.read('out/answers.txt').slice('second '.length));
    const status = await rig.run(['cache', 'status', '--json'], env);
    expect(JSON.parse(status.stdout)).toMatchObject({entries: 2, memo: {answers: 20}, leases: []});
  });
});
