import {readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterEach, beforeEach, describe, expect} from 'vitest';
import {startOpenAIServer, type OpenAIServer} from '../util/openai-server.js';
import {test, waitFor, type Rig} from '../util/rig.js';

const SENTINEL = 'sk-sentinel-7f3a9c-DO-NOT-LEAK';

/**
 * An API target: item i asks the writer role about i, using prompts/a.md for the first half and
 * prompts/b.md for the second, so a prompt edit changes exactly half of the rendered requests.
 */
function stagefile(n: number, opts: {maxFailures?: number; concurrency?: string} = {}): string {
  return `import {readFileSync, writeFileSync} from 'node:fs';
import {llmRule, model, target} from 'stage';

model('writer', {provider: 'openai-compatible', model: 'test-model-1'});

const write = llmRule<{n: number; temperature: number}>('write', {
  roles: ['writer'],
  requests: ({params, inputs}) => {
    const [a, b] = inputs.map((f) => readFileSync(f, 'utf8'));
    return Array.from({length: params.n}, (_, i) => ({
      id: \`item-\${i}\`, role: 'writer',
      messages: [{role: 'user' as const, content: \`\${i < params.n / 2 ? a : b} Item \${i}.\`}],
      params: {temperature: params.temperature, max_tokens: 16},
    }));
  },
  assemble: ({out}, results) => writeFileSync(out, results.map((r) => JSON.stringify({id: r.id, text: r.ok ? r.content : null, why: r.ok ? null : r.reason})).join('\\n') + '\\n'),
  estimate: (p) => ({calls: p.n, promptTokens: 20, completionTokens: 16, role: 'writer'}),
  ${opts.maxFailures !== undefined ? `maxFailures: ${opts.maxFailures},` : ''}
});

target('answers', {inputs: ['prompts/a.md', 'prompts/b.md'], params: {n: ${n}, temperature: 0}, out: 'out/answers.jsonl', run: write});
`;
}

let server: OpenAIServer;
beforeEach(async () => {
  server = await startOpenAIServer({apiKeys: [SENTINEL]});
});
afterEach(async () => {
  await server.close();
});

function configure(rig: Rig, extra: Record<string, unknown> = {}, endpoint: Record<string, unknown> = {}): Record<string, string> {
  const config = join(rig.dir, '..', 'config.json');
  writeFileSync(config, JSON.stringify({endpoints: {writer: {baseURL: server.baseURL, apiKeyEnv: 'TEST_WRITER_KEY', ...endpoint}}, ...extra}));
  return {STAGE_CONFIG: config, TEST_WRITER_KEY: SENTINEL};
}

function setUp(rig: Rig, n: number, opts?: Parameters<typeof stagefile>[1]): void {
  rig.write({'Stagefile.ts': stagefile(n, opts), 'prompts/a.md': 'Answer briefly.', 'prompts/b.md': 'Answer at length.'});
}

const chatCalls = (): number => server.count('POST /v1/chat/completions');

describe('model calls go through the memo', () => {
  test('each call is paid once; a prompt edit re-pays only the requests it changed', async ({rig}) => {
    setUp(rig, 20);
    const env = configure(rig);
    const first = await rig.run(['build'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(chatCalls()).toBe(20);
    expect(rig.read('out/answers.jsonl').trim().split('\n')).toHaveLength(20);
    const succeeded = first.events.find((e) => e.type === 'target-succeeded');
    expect(succeeded).toMatchObject({target: 'answers'});
    expect(first.events.some((e) => e.type === 'llm-progress' && e.done === 20 && e.total === 20)).toBe(true);

    expect((await rig.run(['build'], env)).code).toBe(0);
    expect(chatCalls()).toBe(20);

    rig.write({'prompts/b.md': 'Answer at great length.'});
    const edited = await rig.run(['build'], env);
    expect(edited.code).toBe(0);
    expect(chatCalls()).toBe(30);
    expect(edited.events.find((e) => e.type === 'llm-progress' && e.done === 20)).toMatchObject({memoized: 10});
    expect(server.duplicateCompletions()).toEqual([]);
  });

  test('kill -9 in the middle of a 2,000-call target: the resumed build re-sends no completed call', async ({rig}) => {
    setUp(rig, 2000);
    const env = configure(rig);
    // After 700 answers the server holds every further request, so nothing is in transit
    // when the driver dies: each answer sent is either journaled or never arrived.
    server.setFaultPredicate(() => (server.stats.completed >= 700 ? 'timeout' : undefined));
    const {child, done} = rig.spawn(['build', '--reporter', 'json'], env);
    const journaled = (): number => memoLines(rig);
    await waitFor(() => server.stats.completed >= 700 && journaled() >= 700, '700 journaled answers', 120_000);
    child.kill('SIGKILL');
    await done;
    expect(journaled()).toBe(700);
    server.setFaultPredicate(undefined);
    const resumed = await rig.run(['build'], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(server.stats.completed).toBe(2000);
    expect(server.duplicateCompletions()).toEqual([]);
    expect(resumed.events.find((e) => e.type === 'llm-progress' && e.done === 2000)).toMatchObject({memoized: 700});
  });

  test('--budget stops before the call that would pass it; the next build continues without re-paying', async ({rig}) => {
    setUp(rig, 10);
    // $1 per 1k tokens makes each call cost about 4 cents.
    const env = configure(rig, {prices: {'test-model-1': {input: 1000, output: 1000}}}, {concurrency: 1});
    const r = await rig.run(['build', '--budget', '0.15'], env);
    expect(r.code).toBe(1);
    const failed = r.events.find((e) => e.type === 'target-failed');
    expect(failed).toMatchObject({failure: {kind: 'budget', limit: 0.15}});
    const paid = chatCalls();
    expect(paid).toBeGreaterThan(0);
    expect(paid).toBeLessThan(10);
    const finished = r.events.find((e) => e.type === 'build-finished') as {dollars: number};
    expect(finished.dollars).toBeLessThanOrEqual(0.15);
    const more = await rig.run(['build', '--budget', '5'], env);
    expect(more.code).toBe(0);
    expect(chatCalls()).toBe(10);
    expect(server.duplicateCompletions()).toEqual([]);
  });
});

describe('plan shows what model calls would cost before anything is spent', () => {
  test('calls in all, memoized, to pay, tokens and dollars, real-time and batch', async ({rig}) => {
    setUp(rig, 20);
    const env = configure(rig, {prices: {'test-model-1': {input: 10, output: 30}}});
    const before = await rig.run(['plan', '--json'], env);
    const api = (JSON.parse(before.stdout) as {targets: {api?: Record<string, unknown>}[]}).targets[0]!.api!;
    expect(api).toMatchObject({calls: 20, memoized: 0, toPay: 20, completionTokens: 320, exact: true});
    expect(api['dollars']).toBeGreaterThan(0);
    expect(api['batchDollars']).toBeCloseTo((api['dollars'] as number) / 2, 10);
    expect(server.stats.totalRequests).toBe(0);
    await rig.run(['build'], env);
    rig.write({'prompts/a.md': 'Answer in one word.'});
    const text = await rig.run(['plan'], env);
    expect(text.stdout).toMatch(/calls: 20 \(10 memoized, 10 to pay\)/);
    expect(text.stdout).toMatch(/model calls: 20 in all, 10 memoized, 10 to pay; .* ~\$\d+\.\d\d real-time, ~\$\d+\.\d\d with the Batch API/);
    const why = await rig.run(['why', 'answers'], env);
    expect(why.stdout).toContain('input prompts/a.md changed');
    expect(why.stdout).toMatch(/calls: 20 \(10 memoized, 10 to pay\)/);
  });

  test('a build above the confirmation threshold asks first, and --yes goes ahead', async ({rig}) => {
    setUp(rig, 10);
    const env = configure(rig, {prices: {'test-model-1': {input: 1000, output: 1000}}, confirmAbove: 0.05});
    const refused = await rig.run(['build'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/may spend up to ~\$0\.\d\d on model calls, above your confirmAbove of \$0\.05/);
    expect(server.stats.totalRequests).toBe(0);
    const within = await rig.run(['build', '--budget', '0.04'], env);
    expect(within.code).toBe(1);
    const yes = await rig.run(['build', '--yes'], env);
    expect(yes.code).toBe(0);
  });
});

describe('rate limits', () => {
  test('two stage processes sharing one limit never exceed it, and no call fails', async ({rig}) => {
    server.setLimits({rpm: 10, windowMs: 2000});
    const other = new (await import('../util/rig.js')).Rig();
    try {
      for (const r of [rig, other]) {
        r.write({'Stagefile.ts': stagefile(15), 'prompts/a.md': `Workspace ${r === rig ? 1 : 2}.`, 'prompts/b.md': 'Answer at length.'});
      }
      const limitsDir = join(rig.dir, '..', 'limits');
      const env = (r: Rig): Record<string, string> => configure(r, {limitsDir}, {rpm: 10, windowMs: 2000});
      const [a, b] = await Promise.all([rig.run(['build'], env(rig)), other.run(['build'], env(other))]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      expect(server.stats.completed).toBe(30);
      expect(server.stats.rateLimited).toBe(0);
      expect(server.stats.maxAdmittedInWindow).toBeLessThanOrEqual(10);
    } finally {
      other.cleanup();
    }
  }, 120_000);
});

describe('failures are classified', () => {
  test('retryable faults are retried until answered', async ({rig}) => {
    setUp(rig, 6);
    const env = configure(rig, {}, {timeoutMs: 2000});
    server.injectFault('500', '503', 'reset', 'malformed', {kind: 'timeout'});
    const r = await rig.run(['build'], env);
    expect(r.code, r.stderr).toBe(0);
    const retries = r.events.filter((e) => e.type === 'llm-retry').map((e) => (e as {why: string}).why);
    expect(retries).toEqual(expect.arrayContaining(['server error (500)', 'server error (503)', 'connection error', 'malformed response body', 'timeout']));
    expect(readFileSync(rig.path('out/answers.jsonl'), 'utf8')).not.toContain('"text":null');
  }, 180_000);

  test('a 429 storm is ridden out with retry-after', async ({rig}) => {
    setUp(rig, 12);
    server.setLimits({rpm: 4, windowMs: 1000});
    const r = await rig.run(['build'], configure(rig));
    expect(r.code, r.stderr).toBe(0);
    expect(r.events.some((e) => e.type === 'llm-retry' && e.why === 'rate limited (429)')).toBe(true);
    expect(server.stats.completed).toBe(12);
  });

  test('a content filter fails the item, by id; the rule may allow such items', async ({rig}) => {
    setUp(rig, 4);
    const env = configure(rig);
    server.injectFault({kind: 'content-filter', match: (req: {body: unknown}) => JSON.stringify(req.body).includes('Item 2.')});
    const strict = await rig.run(['build', '--reporter', 'human'], env);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain('1 of 4 items got no answer (the rule allows 0)');
    expect(strict.stderr).toContain('item-2: content-filter');
    setUp(rig, 4, {maxFailures: 1});
    server.injectFault({kind: 'content-filter', match: (req: {body: unknown}) => JSON.stringify(req.body).includes('Item 2.')});
    const lenient = await rig.run(['build'], env);
    expect(lenient.code).toBe(0);
    expect(rig.read('out/answers.jsonl')).toContain('{"id":"item-2","text":null,"why":"content-filter"}');
    // The three answered items were paid once; the filtered one was asked twice, never answered.
    expect(server.duplicateCompletions()).toEqual([]);
  });

  test('a refusal is never memoized as an answer', async ({rig}) => {
    setUp(rig, 2, {maxFailures: 2});
    const env = configure(rig);
    server.injectFault('refusal');
    await rig.run(['build'], env);
    expect(rig.read('out/answers.jsonl')).toMatch(/"why":"refusal"/);
    rig.write({'Stagefile.ts': stagefile(2, {maxFailures: 0})});
    const again = await rig.run(['build'], env);
    expect(again.code).toBe(0);
    expect(rig.read('out/answers.jsonl')).not.toMatch(/refusal/);
  });

  test('a rejected key stops the build with the role named', async ({rig}) => {
    setUp(rig, 3);
    const env = {...configure(rig), TEST_WRITER_KEY: 'sk-wrong'};
    const r = await rig.run(['build', '--reporter', 'human'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('model role "writer"');
    expect(r.stderr).toContain('rejected the API key (401)');
    expect(chatCalls()).toBe(0);
  });

  test('insufficient quota is fatal', async ({rig}) => {
    setUp(rig, 3);
    server.injectFault({kind: 'insufficient_quota', times: Infinity});
    const r = await rig.run(['build'], configure(rig, {}, {concurrency: 1}));
    expect(r.events.find((e) => e.type === 'target-failed')).toMatchObject({failure: {kind: 'api-fatal'}});
    expect(chatCalls()).toBe(1);
  });

  test('a missing key or an unreachable endpoint fails before anything is sent', async ({rig}) => {
    setUp(rig, 3);
    const env = configure(rig);
    const noKey = await rig.run(['build', '--reporter', 'human'], {...env, TEST_WRITER_KEY: ''});
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain('model role "writer" (openai-compatible test-model-1) needs an API key: set TEST_WRITER_KEY');
    const down = await startOpenAIServer();
    const deadURL = down.baseURL;
    await down.close();
    const unreachable = await rig.run(['build', '--reporter', 'human'], configure(rig, {}, {baseURL: deadURL}));
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`model role "writer": cannot reach ${deadURL}`);
    expect(unreachable.stderr).toContain('endpoints.writer.baseURL');
    expect(server.stats.totalRequests).toBe(0);
  });
});

describe('secrets', () => {
  test('the API key never reaches the memo, the store, logs, plans or keys', async ({rig}) => {
    setUp(rig, 5);
    const env = configure(rig);
    const outputs = [await rig.run(['build'], env), await rig.run(['plan', '--json'], env), await rig.run(['why', 'answers'], env), await rig.run(['build', '--reporter', 'human'], env)];
    for (const o of outputs) expect(o.stdout + o.stderr).not.toContain(SENTINEL);
    for (const file of walk(join(rig.dir, '..'))) {
      if (file.endsWith('config.json')) continue;
      expect(readFileSync(file).includes(SENTINEL), file).toBe(false);
    }
    expect(server.authorizations.every((a) => a === `Bearer ${SENTINEL}`)).toBe(true);
  });
});

function memoLines(rig: Rig): number {
  const dir = join(rig.cacheDir, 'v1', 'memo');
  let n = 0;
  try {
    for (const f of readdirSync(dir)) n += readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l.endsWith('}')).length;
  } catch {
    return 0;
  }
  return n;
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else yield p;
  }
}

