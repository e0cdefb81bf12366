import {existsSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterEach, beforeEach, describe, expect} from 'vitest';
import type {Event} from '../../src/event.js';
import {startOpenAIServer, type OpenAIServer} from '../util/openai-server.js';
import {test, waitFor, type Rig} from '../util/rig.js';

const KEY = 'sk-batch-test';

/** An API target of `n` calls to the writer role; `batchable` marks the rule for the Batch API. */
function stagefile(n: number, opts: {batchable: boolean; maxFailures?: number; suffix?: string}): string {
  return `import {writeFileSync} from 'node:fs';
import {llmRule, model, target} from 'stage';

model('writer', {provider: 'openai-compatible', model: 'test-model-1'});

const write = llmRule<{n: number}>('write', {
  roles: ['writer'],
  requests: ({params}) => Array.from({length: params.n}, (_, i) => ({
    id: \`item-\${i}\`, role: 'writer',
    messages: [{role: 'user' as const, content: \`Say something about \${i}.\`}],
    params: {temperature: 0, max_tokens: 16},
  })),
  assemble: ({out}, results) => writeFileSync(out, results.map((r) => JSON.stringify({id: r.id, text: r.ok ? r.content : null, why: r.ok ? null : r.reason})).join('\\n') + '${opts.suffix ?? '\\n'}'),
  batchable: ${opts.batchable},
  ${opts.maxFailures !== undefined ? `maxFailures: ${opts.maxFailures},` : ''}
});

target('answers', {params: {n: ${n}}, out: 'out/answers.jsonl', run: write});
`;
}

let server: OpenAIServer;
beforeEach(async () => {
  server = await startOpenAIServer({apiKeys: [KEY]});
});
afterEach(async () => {
  await server.close();
});

/** The user config: the writer role on the loopback server, and fast batch polling. */
function setUp(rig: Rig, n: number, opts: Parameters<typeof stagefile>[1], extra: Record<string, unknown> = {}): Record<string, string> {
  rig.write({'Stagefile.ts': stagefile(n, opts)});
  const config = join(rig.dir, '..', 'config.json');
  writeFileSync(config, JSON.stringify({endpoints: {writer: {baseURL: server.baseURL, apiKeyEnv: 'TEST_WRITER_KEY'}}, batch: {pollMs: 50}, ...extra}));
  return {STAGE_CONFIG: config, TEST_WRITER_KEY: KEY};
}

const chatCalls = (): number => server.count('POST /v1/chat/completions');

/** The persisted batch state files of the store: {file: custom_ids of each batch}. */
function stateFiles(rig: Rig): {id: string; customIds: string[]}[][] {
  const dir = join(rig.cacheDir, 'v1', 'batches');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as {batches: {id: string; customIds: string[]}[]}).batches);
}

function memoEntries(rig: Rig): {k: string; v: {via: string; dollars: number; response: {usage: {prompt_tokens: number; completion_tokens: number}}}}[] {
  const dir = join(rig.cacheDir, 'v1', 'memo');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as never));
}

function answers(rig: Rig): {id: string; text: string | null; why: string | null}[] {
  return rig.read('out/answers.jsonl').trim().split('\n').map((l) => JSON.parse(l) as never);
}

const ofType = <T extends Event['type']>(events: readonly Event[], type: T): Extract<Event, {type: T}>[] => events.filter((e): e is Extract<Event, {type: T}> => e.type === type);

/** Starts a build, waits until its batch is submitted and persisted (the server holds it), and returns the run. */
async function submittedAndHeld(rig: Rig, env: Record<string, string>, args: string[] = []): Promise<{run: ReturnType<Rig['spawn']>; customIds: string[]}> {
  server.setBatchBehaviour({hold: true});
  const run = rig.spawn(['build', '--reporter', 'json', ...args], env);
  await waitFor(() => stateFiles(rig).length === 1 && server.batches().length === 1, 'the batch to be created and persisted');
  const [batches] = stateFiles(rig);
  expect(batches).toHaveLength(1);
  expect(batches![0]!.id).toBe(server.batches()[0]!.id);
  return {run, customIds: batches![0]!.customIds};
}

describe('the Batch API serves batchable targets', () => {
  test('one batch answers every call at half price; later builds make no request', async ({rig}) => {
    const env = setUp(rig, 12, {batchable: true}, {prices: {'test-model-1': {input: 10, output: 30}}});
    const first = await rig.run(['build'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(server.batches()).toHaveLength(1);
    expect(server.batches()[0]).toMatchObject({status: 'completed', request_counts: {total: 12, completed: 12, failed: 0}});
    expect(chatCalls()).toBe(0);
    expect(answers(rig).every((a) => a.text !== null)).toBe(true);
    expect(ofType(first.events, 'batch-submitted')).toEqual([{type: 'batch-submitted', target: 'answers', batchId: server.batches()[0]!.id, requests: 12}]);
    expect(ofType(first.events, 'batch-state').at(-1)).toMatchObject({status: 'completed', completed: 12, failed: 0, total: 12});
    expect(ofType(first.events, 'llm-progress').at(-1)).toMatchObject({done: 12, total: 12, memoized: 0, inFlight: 0});
    const memo = memoEntries(rig);
    expect(memo).toHaveLength(12);
    for (const {v} of memo) {
      expect(v.via).toBe('batch');
      expect(v.dollars).toBeCloseTo((v.response.usage.prompt_tokens * 10 + v.response.usage.completion_tokens * 30) / 1e6 / 2, 12);
    }
    expect(stateFiles(rig)).toEqual([]);

    const requests = server.stats.totalRequests;
    expect((await rig.run(['build'], env)).code).toBe(0);
    // The assembly changes, the calls do not: the target runs again, every answer from the memo.
    rig.write({'Stagefile.ts': stagefile(12, {batchable: true, suffix: '\\n\\n'})});
    const third = await rig.run(['build'], env);
    expect(third.code, third.stderr).toBe(0);
    expect(ofType(third.events, 'target-succeeded')).toHaveLength(1);
    expect(ofType(third.events, 'llm-progress').at(-1)).toMatchObject({done: 12, memoized: 12});
    expect(server.stats.totalRequests).toBe(requests);
    expect(server.duplicateCompletions()).toEqual([]);
  });

  test('kill -9 while the batch runs: the restarted build reattaches to it instead of submitting another', async ({rig}) => {
    const env = setUp(rig, 8, {batchable: true});
    const {run, customIds} = await submittedAndHeld(rig, env);
    expect(customIds).toHaveLength(8);
    run.child.kill('SIGKILL');
    await run.done;

    const lastSeq = server.requests.at(-1)!.seq;
    const resumed = rig.spawn(['build', '--reporter', 'json'], env);
    await server.waitForRequest((e) => e.seq > lastSeq && e.route === 'GET /v1/batches/:id');
    expect(stateFiles(rig)).toHaveLength(1);
    await server.completeBatches();
    const r = await resumed.done;
    expect(r.code, r.stderr).toBe(0);
    expect(server.batches()).toHaveLength(1);
    expect(server.count('POST /v1/batches')).toBe(1);
    expect(ofType(r.events, 'batch-submitted')).toEqual([]);
    expect(ofType(r.events, 'batch-state').at(-1)).toMatchObject({batchId: server.batches()[0]!.id, status: 'completed', completed: 8});
    expect(chatCalls()).toBe(0);
    expect(answers(rig)).toHaveLength(8);
    expect(memoEntries(rig).map((e) => e.k).sort()).toEqual([...customIds].sort());
    expect(stateFiles(rig)).toEqual([]);
    expect(server.duplicateCompletions()).toEqual([]);
  });

  test('a build killed between creating a batch and recording it: the next build adopts the batch', async ({rig}) => {
    const env = setUp(rig, 5, {batchable: true});
    const {run} = await submittedAndHeld(rig, env);
    run.child.kill('SIGKILL');
    await run.done;
    // As if the driver had died just before persisting the id.
    rmSync(join(rig.cacheDir, 'v1', 'batches'), {recursive: true, force: true});
    const resumed = rig.spawn(['build', '--reporter', 'json'], env);
    await waitFor(() => stateFiles(rig).length === 1, 'the adopted batch to be recorded');
    await server.completeBatches();
    const r = await resumed.done;
    expect(r.code, r.stderr).toBe(0);
    expect(server.count('POST /v1/batches')).toBe(1);
    expect(ofType(r.events, 'warning').some((w) => /adopting batch/.test(w.message))).toBe(true);
    expect(chatCalls()).toBe(0);
    expect(answers(rig)).toHaveLength(5);
    expect(server.duplicateCompletions()).toEqual([]);
  });

  test('failed items fall back to real-time calls; a content filter is final, as in real time', async ({rig}) => {
    const env = setUp(rig, 6, {batchable: true, maxFailures: 1});
    const {run, customIds} = await submittedAndHeld(rig, env);
    server.failBatchRequests([customIds[1]!, customIds[4]!]);
    server.failBatchRequests([customIds[2]!], {statusCode: 400, code: 'content_filter', message: 'filtered'});
    await server.completeBatches();
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(chatCalls()).toBe(2);
    const out = answers(rig);
    expect(out.filter((a) => a.why === 'content-filter')).toHaveLength(1);
    expect(out.filter((a) => a.text !== null)).toHaveLength(5);
    expect(ofType(r.events, 'warning').some((w) => /2 of 6 calls go real-time/.test(w.message))).toBe(true);
    const via = memoEntries(rig).map((e) => e.v.via).sort();
    expect(via).toEqual(['batch', 'batch', 'batch', 'realtime', 'realtime']);
    expect(server.duplicateCompletions()).toEqual([]);
  });

  test('an expired batch: what finished is kept, the rest is called in real time', async ({rig}) => {
    const env = setUp(rig, 10, {batchable: true});
    const {run} = await submittedAndHeld(rig, env);
    await server.expireBatches({completeFirst: 4});
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(ofType(r.events, 'batch-state').at(-1)).toMatchObject({status: 'expired'});
    expect(chatCalls()).toBe(6);
    expect(server.stats.batchLinesCompleted).toBe(4);
    expect(answers(rig).every((a) => a.text !== null)).toBe(true);
    expect(stateFiles(rig)).toEqual([]);
    expect(server.duplicateCompletions()).toEqual([]);
  });

  test('--batch sends a target that is not batchable through the Batch API', async ({rig}) => {
    const env = setUp(rig, 5, {batchable: false});
    const r = await rig.run(['build', '--batch'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(server.batches()).toHaveLength(1);
    expect(chatCalls()).toBe(0);
    expect(answers(rig)).toHaveLength(5);
  });

  test('a batch that could pass --budget is not submitted', async ({rig}) => {
    const env = setUp(rig, 10, {batchable: true}, {prices: {'test-model-1': {input: 1000, output: 1000}}});
    const r = await rig.run(['build', '--budget', '0.10'], env);
    expect(r.code).toBe(1);
    expect(ofType(r.events, 'target-failed')[0]).toMatchObject({failure: {kind: 'budget', limit: 0.1, unanswered: 10}});
    expect(server.count('POST /v1/files')).toBe(0);
    expect(server.batches()).toEqual([]);
    expect(chatCalls()).toBe(0);
  });
});
