/**
 * Tests of the OpenAI-compatible test server, driven through the real `openai` client so that
 * whatever the model-call layer will see (error classes, headers, batch flow) is what these
 * tests pin down.
 */
import OpenAI, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  RateLimitError,
  toFile,
} from 'openai';
import {afterEach, describe, expect, it} from 'vitest';

import {
  canonicalHash,
  defaultResponder,
  formatGoDuration,
  parseGoDuration,
  startOpenAIServer,
  tokenize,
  type BatchOutputLine,
  type FaultKind,
  type OpenAIServer,
  type OpenAIServerOptions,
} from '../util/openai-server.js';

let servers: OpenAIServer[] = [];

async function start(options: OpenAIServerOptions = {}): Promise<{server: OpenAIServer; client: OpenAI}> {
  const server = await startOpenAIServer(options);
  servers.push(server);
  return {server, client: new OpenAI({apiKey: 'sk-test', baseURL: server.baseURL, maxRetries: 0})};
}

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/** Awaits a promise that must reject and returns the rejection. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

/** A manual clock, so rate-limit windows pass without waiting. */
function manualClock(start = 1_800_000_000_000) {
  let t = start;
  return {now: () => t, advance: (ms: number) => void (t += ms)};
}

const messages = [
  {role: 'system' as const, content: 'You are terse.'},
  {role: 'user' as const, content: 'Name three colours.'},
];

function expectedReply(body: {model: string; messages: typeof messages; seed?: number}): string | null {
  const reply = defaultResponder({
    endpoint: 'chat',
    source: 'sync',
    model: body.model,
    messages: body.messages,
    prompt: null,
    choiceIndex: 0,
    n: 1,
    maxTokens: null,
    temperature: null,
    seed: body.seed ?? null,
    body,
  });
  return reply instanceof Promise ? null : reply.content;
}

describe('chat completions', () => {
  it('round-trips through the openai client with an OpenAI-shaped response', async () => {
    const {server, client} = await start();
    const body = {model: 'gpt-4o-mini', messages};
    const res = await client.chat.completions.create(body);

    expect(res.object).toBe('chat.completion');
    expect(res.id).toMatch(/^chatcmpl-/);
    expect(res.model).toBe('gpt-4o-mini');
    expect(typeof res.created).toBe('number');
    expect(res.system_fingerprint).toMatch(/^fp_/);
    expect(res.choices).toHaveLength(1);
    const choice = res.choices[0]!;
    expect(choice.index).toBe(0);
    expect(choice.finish_reason).toBe('stop');
    expect(choice.logprobs).toBeNull();
    expect(choice.message.role).toBe('assistant');
    expect(choice.message.content).toBe(expectedReply(body));

    const promptChars = messages.reduce((n, m) => n + m.content.length, 0);
    expect(res.usage?.prompt_tokens).toBe(Math.ceil(promptChars / 4));
    expect(res.usage?.completion_tokens).toBe(Math.ceil((choice.message.content ?? '').length / 4));
    expect(res.usage?.total_tokens).toBe((res.usage?.prompt_tokens ?? 0) + (res.usage?.completion_tokens ?? 0));

    expect(server.count('POST /v1/chat/completions')).toBe(1);
    expect(server.authorizations).toEqual(['Bearer sk-test']);
    const entry = server.requests[0]!;
    expect(entry.bodyHash).toBe(canonicalHash(body));
    expect(entry.status).toBe(200);
    expect(entry.outcome).toBe('ok');
    expect(server.completedHashes.get(canonicalHash(body))).toBe(1);
  });

  it('is deterministic: same request, same reply, across requests and servers', async () => {
    const {server, client} = await start();
    const body = {model: 'gpt-4o-mini', messages, seed: 7};
    const a = await client.chat.completions.create(body);
    const b = await client.chat.completions.create(body);
    expect(b.choices[0]!.message.content).toBe(a.choices[0]!.message.content);
    expect(b.id).not.toBe(a.id);

    const other = await start();
    const c = await other.client.chat.completions.create(body);
    expect(c.choices[0]!.message.content).toBe(a.choices[0]!.message.content);

    const different = await client.chat.completions.create({...body, seed: 8});
    expect(different.choices[0]!.message.content).not.toBe(a.choices[0]!.message.content);

    // The same body answered twice is visible to tests that forbid paying twice.
    expect(server.completedHashes.get(canonicalHash(body))).toBe(2);
    expect(server.duplicateCompletions()).toEqual([canonicalHash(body)]);
    expect(other.server.duplicateCompletions()).toEqual([]);
  });

  it('supports n, temperature, max_tokens truncation and logprobs/top_logprobs', async () => {
    const {client} = await start();
    const sampled = await client.chat.completions.create({model: 'm', messages, n: 3, temperature: 1});
    expect(sampled.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(new Set(sampled.choices.map((c) => c.message.content)).size).toBe(3);

    const greedy = await client.chat.completions.create({model: 'm', messages, n: 2, temperature: 0});
    expect(greedy.choices[0]!.message.content).toBe(greedy.choices[1]!.message.content);

    const short = await client.chat.completions.create({model: 'm', messages, max_completion_tokens: 2});
    expect(short.choices[0]!.finish_reason).toBe('length');
    expect(short.choices[0]!.message.content).toHaveLength(8);
    expect(short.usage?.completion_tokens).toBe(2);

    const withLogprobs = await client.chat.completions.create({model: 'm', messages, logprobs: true, top_logprobs: 3});
    const lp = withLogprobs.choices[0]!.logprobs!;
    const content = withLogprobs.choices[0]!.message.content ?? '';
    expect(lp.content!.map((t) => t.token).join('')).toBe(content);
    for (const t of lp.content!) {
      expect(t.logprob).toBeLessThan(0);
      expect(t.bytes).toEqual([...Buffer.from(t.token)]);
      expect(t.top_logprobs).toHaveLength(3);
      expect(t.top_logprobs[0]).toEqual({token: t.token, logprob: t.logprob, bytes: t.bytes});
    }
  });

  it('rejects invalid parameters the way OpenAI does', async () => {
    const {server, client} = await start();
    const err = await rejection(client.chat.completions.create({model: 'm', messages, top_logprobs: 2}));
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).param).toBe('top_logprobs');
    const missing = await rejection(client.chat.completions.create({model: 'm', messages: []}));
    expect(missing).toBeInstanceOf(BadRequestError);
    expect(server.completedHashes.size).toBe(0);
  });

  it('uses a pluggable responder, replaceable at run time', async () => {
    const {server, client} = await start({
      responder: (req) => ({content: `echo: ${String(req.messages.at(-1)?.content)}`, usage: {prompt_tokens: 11, completion_tokens: 3}}),
    });
    const res = await client.chat.completions.create({model: 'm', messages});
    expect(res.choices[0]!.message.content).toBe('echo: Name three colours.');
    expect(res.usage).toMatchObject({prompt_tokens: 11, completion_tokens: 3, total_tokens: 14});

    server.setResponder(async () => ({content: null, refusal: 'No.'}));
    const refused = await client.chat.completions.create({model: 'm', messages});
    expect(refused.choices[0]!.message).toMatchObject({content: null, refusal: 'No.'});

    server.setResponder();
    const back = await client.chat.completions.create({model: 'm', messages});
    expect(back.choices[0]!.message.content).toBe(expectedReply({model: 'm', messages}));
  });
});

describe('completions with echo (prompt log-probs)', () => {
  const prompt = 'User: hi, there!\nAssistant: hello world.';

  it('returns prompt tokens with token_logprobs[0] = null and exact text offsets', async () => {
    const {client} = await start();
    const res = await client.completions.create({model: 'scorer', prompt, echo: true, logprobs: 1, max_tokens: 0});
    expect(res.object).toBe('text_completion');
    const choice = res.choices[0]!;
    expect(choice.text).toBe(prompt);
    const lp = choice.logprobs!;
    const tokens = tokenize(prompt);
    expect(lp.tokens).toEqual(tokens);
    expect(lp.tokens!.join('')).toBe(prompt);
    expect(lp.token_logprobs![0]).toBeNull();
    expect(lp.top_logprobs![0]).toBeNull();
    expect(lp.token_logprobs!.slice(1).every((v) => typeof v === 'number' && v < 0)).toBe(true);
    lp.text_offset!.forEach((offset, i) => expect(prompt.slice(offset, offset + tokens[i]!.length)).toBe(tokens[i]));
    expect(lp.top_logprobs![1]).toEqual({[tokens[1]!]: lp.token_logprobs![1]});
    expect(res.usage).toMatchObject({prompt_tokens: tokens.length, completion_tokens: 0});
  });

  it('appends generated tokens after the prompt when max_tokens > 0, and uses the scorer', async () => {
    const {client} = await start({scorer: ({token}) => -token.trim().length / 10});
    const res = await client.completions.create({model: 'scorer', prompt, echo: true, logprobs: 2, max_tokens: 2});
    const choice = res.choices[0]!;
    const lp = choice.logprobs!;
    const promptTokens = tokenize(prompt);
    expect(lp.tokens).toHaveLength(promptTokens.length + 2);
    expect(choice.text.startsWith(prompt)).toBe(true);
    expect(lp.tokens!.join('')).toBe(choice.text);
    expect(lp.text_offset![promptTokens.length]).toBe(prompt.length);
    expect(lp.token_logprobs![1]).toBeCloseTo(-tokenize(prompt)[1]!.trim().length / 10);
    expect(Object.keys(lp.top_logprobs![1]!)).toHaveLength(2);
    expect(choice.finish_reason).toBe('length');
    expect(res.usage?.completion_tokens).toBe(2);

    // Summing the response span, as a scoring step would.
    const spanStart = prompt.indexOf('Assistant:') + 'Assistant:'.length;
    const span = lp.text_offset!.map((o, i) => (o >= spanStart && o < prompt.length ? lp.token_logprobs![i]! : 0)).reduce((a, b) => a + b, 0);
    expect(span).toBeCloseTo(-(5 + 5 + 1) / 10);
  });
});

describe('rate limits', () => {
  it('answers 429 with retry-after headers once rpm is used up, and recovers after the window', async () => {
    const clock = manualClock();
    const {server, client} = await start({rpm: 2, tpm: 10_000, windowMs: 60_000, now: clock.now});

    const {response} = await client.chat.completions.create({model: 'm', messages, max_tokens: 10}).withResponse();
    expect(response.headers.get('x-ratelimit-limit-requests')).toBe('2');
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('1');
    expect(response.headers.get('x-ratelimit-reset-requests')).toBe('1m0s');
    expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('10000');
    const cost = Math.ceil(messages.reduce((n, m) => n + m.content.length, 0) / 4) + 10;
    expect(response.headers.get('x-ratelimit-remaining-tokens')).toBe(String(10_000 - cost));

    clock.advance(1_500);
    await client.chat.completions.create({model: 'm', messages, max_tokens: 10});
    clock.advance(500);
    const err = await rejection(client.chat.completions.create({model: 'm', messages, max_tokens: 10}));
    expect(err).toBeInstanceOf(RateLimitError);
    const rle = err as RateLimitError;
    expect(rle.status).toBe(429);
    expect(rle.code).toBe('rate_limit_exceeded');
    expect(rle.type).toBe('requests');
    // The first admission leaves the window 60 s after it was made: 58 s from now.
    expect(rle.headers.get('retry-after-ms')).toBe('58000');
    expect(rle.headers.get('retry-after')).toBe('58');
    expect(rle.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(parseGoDuration(rle.headers.get('x-ratelimit-reset-requests') ?? '')).toBe(59_500);
    expect(server.stats.rateLimited).toBe(1);

    clock.advance(58_000);
    await client.chat.completions.create({model: 'm', messages, max_tokens: 10});
    expect(server.stats.maxAdmittedInWindow).toBe(2);
    expect(server.stats.maxArrivedInWindow).toBe(3);
  });

  it('admits no more than rpm requests in a window under a concurrent burst', async () => {
    const {server, client} = await start({rpm: 3, windowMs: 60_000, now: manualClock().now});
    const results = await Promise.allSettled(
      Array.from({length: 10}, (_, i) => client.chat.completions.create({model: 'm', messages: [{role: 'user', content: `q${i}`}]})),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(7);
    for (const r of rejected) expect(r.reason).toBeInstanceOf(RateLimitError);
    expect(server.stats).toMatchObject({rateLimited: 7, maxAdmittedInWindow: 3, maxArrivedInWindow: 10});
  });

  it('without limits, admits everything, sends no rate-limit headers, and still records the peak', async () => {
    const {server, client} = await start({windowMs: 60_000, now: manualClock().now});
    const calls = Array.from({length: 4}, (_, i) => client.chat.completions.create({model: 'm', messages: [{role: 'user', content: `p${i}`}]}).withResponse());
    const responses = await Promise.all(calls);
    expect(responses[0]!.response.headers.get('x-ratelimit-limit-requests')).toBeNull();
    expect(server.stats).toMatchObject({rateLimited: 0, maxAdmittedInWindow: 4, maxArrivedInWindow: 4});
    expect(server.stats.maxInFlight).toBeGreaterThanOrEqual(1);
  });

  it('limits tokens with type "tokens" and counts prompt chars / 4 + n * max_tokens', async () => {
    const {server, client} = await start({tpm: 100, windowMs: 60_000, now: manualClock().now});
    await client.chat.completions.create({model: 'm', messages: [{role: 'user', content: 'x'.repeat(40)}], max_tokens: 20, n: 2}); // 10 + 40
    const err = await rejection(client.chat.completions.create({model: 'm', messages: [{role: 'user', content: 'x'.repeat(40)}], max_tokens: 21, n: 2}));
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).type).toBe('tokens');
    expect(server.stats.maxTokensInWindow).toBe(50);
  });

  it('lets the SDK wait out a short window using retry-after-ms', async () => {
    const {server} = await start({rpm: 2, windowMs: 150});
    const client = new OpenAI({apiKey: 'sk-test', baseURL: server.baseURL, maxRetries: 4});
    const replies = await Promise.all(
      Array.from({length: 4}, (_, i) => client.chat.completions.create({model: 'm', messages: [{role: 'user', content: `r${i}`}]})),
    );
    expect(replies).toHaveLength(4);
    expect(server.stats.rateLimited).toBeGreaterThan(0);
    expect(server.stats.maxAdmittedInWindow).toBeLessThanOrEqual(2);
    expect(server.completedHashes.size).toBe(4);
    expect(server.duplicateCompletions()).toEqual([]);
  });
});

describe('fault injection', () => {
  const cases: Array<[FaultKind, (err: unknown) => void]> = [
    ['500', (e) => {
      expect(e).toBeInstanceOf(InternalServerError);
      expect((e as APIError).status).toBe(500);
    }],
    ['503', (e) => {
      expect(e).toBeInstanceOf(InternalServerError);
      expect((e as APIError).status).toBe(503);
    }],
    ['reset', (e) => {
      expect(e).toBeInstanceOf(APIConnectionError);
      expect(e).not.toBeInstanceOf(APIConnectionTimeoutError);
    }],
    ['content-filter', (e) => {
      expect(e).toBeInstanceOf(BadRequestError);
      expect((e as APIError).code).toBe('content_filter');
    }],
    ['context-length', (e) => {
      expect(e).toBeInstanceOf(BadRequestError);
      expect((e as APIError).code).toBe('context_length_exceeded');
    }],
    ['401', (e) => {
      expect(e).toBeInstanceOf(AuthenticationError);
      expect((e as APIError).code).toBe('invalid_api_key');
      expect((e as APIError).message).not.toContain('sk-test');
    }],
    ['insufficient_quota', (e) => {
      expect(e).toBeInstanceOf(RateLimitError);
      expect((e as APIError).code).toBe('insufficient_quota');
      expect((e as RateLimitError).headers.get('retry-after')).toBeNull();
    }],
    ['malformed', (e) => {
      expect(e).toBeInstanceOf(SyntaxError);
    }],
  ];

  it.each(cases)('%s gives the matching client error, once', async (kind, check) => {
    const {server, client} = await start();
    server.injectFault(kind);
    check(await rejection(client.chat.completions.create({model: 'm', messages})));
    // The fault is used up: the next identical request succeeds, and only it counts as served.
    await client.chat.completions.create({model: 'm', messages});
    expect(server.stats.faults).toBe(1);
    expect(server.requests[0]!.fault).toBe(kind);
    expect([...server.completedHashes.values()]).toEqual([1]);
  });

  it('timeout: the request is held until the client gives up', async () => {
    const {server, client} = await start();
    server.injectFault('timeout');
    const err = await rejection(client.chat.completions.create({model: 'm', messages}, {timeout: 100}));
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    const entry = await server.waitForRequest((e) => e.outcome === 'dropped');
    expect(entry.fault).toBe('timeout');
    expect(server.completedHashes.size).toBe(0);
  });

  it('timeout: close() ends a held request', async () => {
    const {server, client} = await start();
    server.injectFault({kind: 'timeout', times: Infinity});
    const pending = rejection(client.chat.completions.create({model: 'm', messages}, {timeout: 60_000}));
    await server.waitForRequest((e) => e.fault === 'timeout');
    await server.close();
    const err = await pending;
    expect(err).toBeInstanceOf(APIConnectionError);
    expect(err).not.toBeInstanceOf(APIConnectionTimeoutError);
  });

  it('slow: answers normally after the delay, or times out a shorter client timeout', async () => {
    const {server, client} = await start();
    server.injectFault({kind: 'slow', delayMs: 30});
    const res = await client.chat.completions.create({model: 'm', messages});
    expect(res.choices[0]!.message.content).toBe(expectedReply({model: 'm', messages}));

    server.injectFault({kind: 'slow', delayMs: 5_000});
    const err = await rejection(client.chat.completions.create({model: 'm', messages}, {timeout: 50}));
    expect(err).toBeInstanceOf(APIConnectionTimeoutError);
    expect(server.completedHashes.get(canonicalHash({model: 'm', messages}))).toBe(1);
  });

  it('refusal: 200 with message.refusal and null content', async () => {
    const {server, client} = await start();
    server.injectFault('refusal');
    const res = await client.chat.completions.create({model: 'm', messages});
    expect(res.choices[0]!.message.content).toBeNull();
    expect(res.choices[0]!.message.refusal).toMatch(/can't help/);
    expect(server.requests[0]!.fault).toBe('refusal');
  });

  it('a predicate picks faults per request, and routes can target non-model endpoints', async () => {
    const {server, client} = await start();
    server.setFaultPredicate((req) => (JSON.stringify(req.body).includes('poison') ? '500' : undefined));
    await client.chat.completions.create({model: 'm', messages});
    const err = await rejection(client.chat.completions.create({model: 'm', messages: [{role: 'user', content: 'poison'}]}));
    expect((err as APIError).status).toBe(500);

    server.clearFaults();
    server.injectFault({kind: '503', routes: ['GET /v1/models']});
    await client.chat.completions.create({model: 'm', messages: [{role: 'user', content: 'poison'}]});
    expect(await rejection(client.models.list())).toBeInstanceOf(InternalServerError);
    expect(server.pendingFaults).toBe(0);
  });

  it('checks API keys when configured and records which key was sent', async () => {
    const {server} = await start({apiKeys: ['sk-good']});
    const bad = new OpenAI({apiKey: 'sk-bad-key-123', baseURL: server.baseURL, maxRetries: 0});
    const good = new OpenAI({apiKey: 'sk-good', baseURL: server.baseURL, maxRetries: 0});
    expect(await rejection(bad.chat.completions.create({model: 'm', messages}))).toBeInstanceOf(AuthenticationError);
    await good.chat.completions.create({model: 'm', messages});
    expect(server.authorizations).toEqual(['Bearer sk-bad-key-123', 'Bearer sk-good']);
  });
});

describe('files and batches', () => {
  const lines = ['a', 'b', 'c'].map((id) => ({
    custom_id: `req-${id}`,
    method: 'POST',
    url: '/v1/chat/completions',
    body: {model: 'gpt-4o-mini', messages: [{role: 'user' as const, content: `question ${id}`}], max_tokens: 50},
  }));
  const jsonl = lines.map((l) => JSON.stringify(l)).join('\n') + '\n';

  async function upload(client: OpenAI, text = jsonl) {
    return client.files.create({file: await toFile(Buffer.from(text), 'batch.jsonl'), purpose: 'batch'});
  }

  async function readJsonl(client: OpenAI, fileId: string): Promise<BatchOutputLine[]> {
    const text = await (await client.files.content(fileId)).text();
    return text.trim().split('\n').map((l) => JSON.parse(l) as BatchOutputLine);
  }

  it('runs a full batch: upload, create, hold, complete, download, join on custom_id', async () => {
    const {server, client} = await start({batch: {hold: true}});
    const file = await upload(client);
    expect(file).toMatchObject({object: 'file', purpose: 'batch', filename: 'batch.jsonl', bytes: Buffer.byteLength(jsonl)});
    expect((await client.files.retrieve(file.id)).id).toBe(file.id);
    expect(await (await client.files.content(file.id)).text()).toBe(jsonl);

    server.failBatchRequests(['req-b'], {statusCode: 400, code: 'invalid_prompt', message: 'bad prompt'});
    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: '/v1/chat/completions',
      completion_window: '24h',
      metadata: {stage: 'oracle'},
    });
    expect(created.status).toBe('validating');
    expect(created.metadata).toEqual({stage: 'oracle'});

    for (let i = 0; i < 3; i++) expect((await client.batches.retrieve(created.id)).status).toBe('in_progress');
    await server.completeBatches();
    const done = await client.batches.retrieve(created.id);
    expect(done.status).toBe('completed');
    expect(done.request_counts).toEqual({total: 3, completed: 2, failed: 1});
    expect(done.output_file_id).toBeTruthy();
    expect(done.error_file_id).toBeTruthy();

    const out = await readJsonl(client, done.output_file_id!);
    expect(out.map((l) => l.custom_id).sort()).toEqual(['req-a', 'req-c']);
    for (const line of out) {
      const input = lines.find((l) => l.custom_id === line.custom_id)!;
      expect(line.id).toMatch(/^batch_req_/);
      expect(line.error).toBeNull();
      expect(line.response?.status_code).toBe(200);
      expect(line.response?.request_id).toMatch(/^req_/);
      const body = line.response?.body as OpenAI.ChatCompletion;
      expect(body.object).toBe('chat.completion');
      expect(body.choices[0]!.message.content).toBe(expectedReply(input.body));
    }
    const errors = await readJsonl(client, done.error_file_id!);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({custom_id: 'req-b', error: null, response: {status_code: 400, body: {error: {code: 'invalid_prompt', message: 'bad prompt'}}}});

    // Batch answers count as served, so re-running one synchronously shows up as a duplicate.
    expect(server.stats.batchLinesCompleted).toBe(2);
    await client.chat.completions.create(lines[0]!.body);
    expect(server.duplicateCompletions()).toEqual([canonicalHash(lines[0]!.body)]);

    const listed = await client.batches.list();
    expect(listed.data.map((b) => b.id)).toEqual([created.id]);
  });

  it('completes after N polls when not held', async () => {
    const {server, client} = await start({batch: {completeAfterPolls: 2}});
    const batch = await client.batches.create({input_file_id: (await upload(client)).id, endpoint: '/v1/chat/completions', completion_window: '24h'});
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await client.batches.retrieve(batch.id)).status);
    expect(statuses).toEqual(['in_progress', 'in_progress', 'completed']);
    expect(server.count('GET /v1/batches/:id')).toBe(3);
  });

  it('expires a batch, returning what finished and batch_expired errors for the rest', async () => {
    const {server, client} = await start({batch: {hold: true}});
    const batch = await client.batches.create({input_file_id: (await upload(client)).id, endpoint: '/v1/chat/completions', completion_window: '24h'});
    await server.expireBatches({completeFirst: 1});
    const expired = await client.batches.retrieve(batch.id);
    expect(expired.status).toBe('expired');
    expect(expired.expired_at).toEqual(expect.any(Number));
    expect(expired.request_counts).toEqual({total: 3, completed: 1, failed: 2});
    expect((await readJsonl(client, expired.output_file_id!)).map((l) => l.custom_id)).toEqual(['req-a']);
    const errors = await readJsonl(client, expired.error_file_id!);
    expect(errors.map((l) => l.error?.code)).toEqual(['batch_expired', 'batch_expired']);
    expect(errors.every((l) => l.response === null)).toBe(true);
  });

  it('cancels a batch (cancelling, then cancelled) and fails invalid input files', async () => {
    const {client} = await start({batch: {hold: true}});
    const batch = await client.batches.create({input_file_id: (await upload(client)).id, endpoint: '/v1/chat/completions', completion_window: '24h'});
    expect((await client.batches.cancel(batch.id)).status).toBe('cancelling');
    expect((await client.batches.retrieve(batch.id)).status).toBe('cancelled');

    const wrongEndpoint = jsonl.replaceAll('/v1/chat/completions', '/v1/completions');
    const bad = await client.batches.create({input_file_id: (await upload(client, wrongEndpoint)).id, endpoint: '/v1/chat/completions', completion_window: '24h'});
    const failed = await client.batches.retrieve(bad.id);
    expect(failed.status).toBe('failed');
    expect(failed.errors?.data?.[0]).toMatchObject({code: 'mismatched_endpoint', line: 1});

    expect(await rejection(client.batches.retrieve('batch_missing'))).toMatchObject({status: 404});
  });
});

describe('misc', () => {
  it('serves /health and /v1/models', async () => {
    const {server, client} = await start({models: ['a', 'b']});
    const health = await fetch(`${server.origin}/health`);
    expect(health.status).toBe(200);
    expect((await client.models.list()).data.map((m) => m.id)).toEqual(['a', 'b']);
    expect(server.baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    expect(server.port).toBeGreaterThan(0);
  });

  it('formats durations like Go', () => {
    expect(formatGoDuration(0)).toBe('0s');
    expect(formatGoDuration(20)).toBe('20ms');
    expect(formatGoDuration(1_000)).toBe('1s');
    expect(formatGoDuration(360_000)).toBe('6m0s');
    expect(formatGoDuration(3_723_500)).toBe('1h2m3.5s');
    expect(parseGoDuration('1h2m3.5s')).toBe(3_723_500);
    expect(parseGoDuration('20ms')).toBe(20);
    expect(parseGoDuration('soon')).toBeNaN();
  });

  it('tokenizes losslessly', () => {
    const text = "  Hello,  world!\n\tIt's 3.5 o'clock  ";
    expect(tokenize(text).join('')).toBe(text);
    expect(tokenize('a b')).toEqual(['a', ' b']);
  });
});
