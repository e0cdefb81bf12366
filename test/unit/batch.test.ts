import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, test} from 'vitest';
import {BATCH_LIMITS, decideLine, joinResults, pollDelayMs, requestLine, splitIntoFiles, type LineDecision} from '../../src/llm/batch/jsonl.js';
import {BatchState, parseState} from '../../src/llm/batch/state.js';

const MB = 1024 * 1024;

describe('request lines', () => {
  test('one JSON object per line, custom_id first, POST to chat completions', () => {
    const line = requestLine('xxh64:abc', {model: 'gpt-4', messages: [{role: 'user', content: 'hi'}], max_tokens: 5});
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({custom_id: 'xxh64:abc', method: 'POST', url: '/v1/chat/completions', body: {model: 'gpt-4', messages: [{role: 'user', content: 'hi'}], max_tokens: 5}});
  });

  test('the real limits are 50,000 requests and 200 MB', () => {
    expect(BATCH_LIMITS).toEqual({maxRequests: 50_000, maxBytes: 200 * MB});
  });
});

describe('splitting into files', () => {
  const cases: {name: string; sizes: number[]; limits?: {maxRequests: number; maxBytes: number}; files: [number, number][]}[] = [
    {name: 'nothing', sizes: [], files: []},
    {name: 'one small file', sizes: [10, 20, 30], files: [[0, 3]]},
    {name: '50,000 requests fit in one file', sizes: Array<number>(50_000).fill(100), files: [[0, 50_000]]},
    {name: '50,001 requests need two', sizes: Array<number>(50_001).fill(100), files: [[0, 50_000], [50_000, 50_001]]},
    {name: '120,000 requests need three', sizes: Array<number>(120_000).fill(100), files: [[0, 50_000], [50_000, 100_000], [100_000, 120_000]]},
    {name: 'exactly 200 MB fits', sizes: [100 * MB, 100 * MB], files: [[0, 2]]},
    {name: 'one byte over 200 MB splits', sizes: [100 * MB, 100 * MB, 1], files: [[0, 2], [2, 3]]},
    {name: 'bytes split before count', sizes: [150 * MB, 60 * MB, 60 * MB, 60 * MB, 30 * MB], files: [[0, 1], [1, 4], [4, 5]]},
    {name: 'a single line at the byte limit', sizes: [200 * MB, 1], files: [[0, 1], [1, 2]]},
    {name: 'custom limits: count', sizes: [1, 1, 1, 1, 1], limits: {maxRequests: 2, maxBytes: 100}, files: [[0, 2], [2, 4], [4, 5]]},
    {name: 'custom limits: bytes', sizes: [6, 5, 4, 7], limits: {maxRequests: 10, maxBytes: 10}, files: [[0, 1], [1, 3], [3, 4]]},
  ];
  test.each(cases)('$name', ({sizes, limits, files}) => {
    expect(splitIntoFiles(sizes, limits)).toEqual(files);
  });

  test('every file respects both limits and every line is in exactly one file', () => {
    const sizes = Array.from({length: 130_000}, (_, i) => 1000 + ((i * 7919) % 5000));
    const files = splitIntoFiles(sizes);
    let next = 0;
    for (const [start, end] of files) {
      expect(start).toBe(next);
      expect(end - start).toBeLessThanOrEqual(50_000);
      expect(sizes.slice(start, end).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(200 * MB);
      next = end;
    }
    expect(next).toBe(sizes.length);
  });

  test('a line larger than a file may be is an error, not a silent drop', () => {
    expect(() => splitIntoFiles([10, 200 * MB + 1])).toThrow(/request 1 is .* bytes/);
  });
});

const ok = (content: string | null, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'test-model-1', choices: [{index: 0, message: {role: 'assistant', content, ...extra}, finish_reason: 'stop'}], usage: {prompt_tokens: 5, completion_tokens: 3},
});
const out = (body: unknown, status = 200): string => JSON.stringify({id: 'r1', custom_id: 'k1', response: {status_code: status, request_id: 'q', body}, error: null});
const httpError = (status: number, code: string | null, message = 'no'): string => out({error: {message, type: 'invalid_request_error', code}}, status);
const lineError = (code: string): string => JSON.stringify({id: 'r1', custom_id: 'k1', response: null, error: {code, message: 'x'}});

describe('reading result lines', () => {
  const cases: {name: string; line: string; expected: LineDecision | undefined}[] = [
    {name: 'an answer', line: out(ok('hello')), expected: {kind: 'answer', response: ok('hello') as never}},
    {name: 'a refusal is final', line: out(ok(null, {refusal: 'I cannot'})), expected: {kind: 'final', reason: 'refusal', message: 'I cannot'}},
    {name: 'a filtered completion is final', line: out({...ok('x'), choices: [{index: 0, message: {content: ''}, finish_reason: 'content_filter'}]}), expected: {kind: 'final', reason: 'content-filter', message: 'the completion was filtered'}},
    {name: 'no choices falls back', line: out({...ok('x'), choices: []}), expected: {kind: 'fallback', why: 'response had no choices'}},
    {name: 'a content-filter error is final', line: httpError(400, 'content_filter', 'filtered'), expected: {kind: 'final', reason: 'content-filter', message: 'filtered'}},
    {name: 'context too long is final', line: httpError(400, 'context_length_exceeded', 'too long'), expected: {kind: 'final', reason: 'context-length', message: 'too long'}},
    {name: 'a 500 falls back', line: httpError(500, null), expected: {kind: 'fallback', why: 'server error (500)'}},
    {name: 'a 429 falls back', line: httpError(429, null), expected: {kind: 'fallback', why: 'rate limited (429)'}},
    {name: 'a 401 falls back (the real-time call reports it)', line: httpError(401, null), expected: {kind: 'fallback', why: 'the endpoint rejected the API key (401): no'}},
    {name: 'an expired request falls back', line: lineError('batch_expired'), expected: {kind: 'fallback', why: 'batch_expired'}},
    {name: 'a cancelled request falls back', line: lineError('batch_cancelled'), expected: {kind: 'fallback', why: 'batch_cancelled'}},
    {name: 'not JSON', line: '{"custom_id": "k1", ', expected: undefined},
    {name: 'no custom_id', line: '{"response": null}', expected: undefined},
  ];
  test.each(cases)('$name', ({line, expected}) => {
    const d = decideLine(line);
    expect(d?.decision).toEqual(expected);
    if (expected) expect(d?.customId).toBe('k1');
  });
});

describe('joining results with the calls a batch covered', () => {
  const line = (id: string, r: 'ok' | 'fail'): string =>
    JSON.stringify({id: `r-${id}`, custom_id: id, response: r === 'ok' ? {status_code: 200, request_id: 'q', body: ok(`answer ${id}`)} : {status_code: 500, request_id: 'q', body: {error: {message: 'boom', code: null}}}, error: null});
  const kinds = (m: Map<string, LineDecision>): Record<string, string> => Object.fromEntries([...m].map(([k, d]) => [k, d.kind]));

  const cases: {name: string; ids: string[]; output: string[]; errors: string[]; expected: Record<string, string>}[] = [
    {name: 'every call answered, in any order', ids: ['a', 'b', 'c'], output: [line('c', 'ok'), line('a', 'ok'), line('b', 'ok')], errors: [], expected: {a: 'answer', b: 'answer', c: 'answer'}},
    {name: 'errors fall back', ids: ['a', 'b'], output: [line('a', 'ok')], errors: [line('b', 'fail')], expected: {a: 'answer', b: 'fallback'}},
    {name: 'missing calls fall back', ids: ['a', 'b', 'c'], output: [line('b', 'ok')], errors: [], expected: {a: 'fallback', b: 'answer', c: 'fallback'}},
    {name: 'an answer wins over an error for the same call', ids: ['a'], output: [line('a', 'ok')], errors: [line('a', 'fail')], expected: {a: 'answer'}},
    {name: 'lines for calls not covered are ignored', ids: ['a'], output: [line('a', 'ok'), line('zzz', 'ok')], errors: [], expected: {a: 'answer'}},
    {name: 'a torn last line is ignored', ids: ['a', 'b'], output: [line('a', 'ok'), line('b', 'ok').slice(0, 30)], errors: [], expected: {a: 'answer', b: 'fallback'}},
    {name: 'no files at all (a failed batch)', ids: ['a', 'b'], output: [], errors: [], expected: {a: 'fallback', b: 'fallback'}},
  ];
  test.each(cases)('$name', ({ids, output, errors, expected}) => {
    const joined = joinResults(ids, [output.join('\n'), errors.join('\n')]);
    expect(kinds(joined)).toEqual(expected);
  });

  test('a missing call says why', () => {
    expect(joinResults(['a'], ['', ''])).toEqual(new Map([['a', {kind: 'fallback', why: 'missing from the batch output'}]]));
  });
});

describe('polling backoff', () => {
  const cases: {name: string; settings?: {pollMs?: number; maxPollMs?: number}; delays: number[]}[] = [
    {name: 'real use: 30 s growing to 5 min', delays: [30_000, 45_000, 67_500, 101_250, 151_875, 227_813, 300_000, 300_000]},
    {name: 'tests: 50 ms growing to 500 ms', settings: {pollMs: 50}, delays: [50, 75, 113, 169, 253, 380, 500, 500]},
    {name: 'an explicit cap', settings: {pollMs: 1000, maxPollMs: 2000}, delays: [1000, 1500, 2000, 2000, 2000, 2000, 2000, 2000]},
  ];
  test.each(cases)('$name', ({settings, delays}) => {
    expect(delays.map((_, i) => pollDelayMs(i, settings))).toEqual(delays);
  });
});

describe('the batch state file', () => {
  const record = {id: 'batch_1', inputFileId: 'file-1', role: 'writer', customIds: ['xxh64:a', 'xxh64:b']};
  const cases: {name: string; text: string; expected: unknown[]}[] = [
    {name: 'a valid file', text: JSON.stringify({v: 1, target: 't', batches: [record]}), expected: [record]},
    {name: 'not JSON', text: '{"v": 1, "batc', expected: []},
    {name: 'another version', text: JSON.stringify({v: 2, batches: [record]}), expected: []},
    {name: 'a malformed record is dropped', text: JSON.stringify({v: 1, batches: [record, {id: 'b2', role: 'writer', customIds: [3]}]}), expected: [record]},
  ];
  test.each(cases)('$name', ({text, expected}) => {
    expect(parseState(text)).toEqual(expected);
  });

  test('each batch is persisted as it is added; the file goes when the last is removed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stage-batch-'));
    try {
      const state = BatchState.load(dir, 'xxh64:0123abcd', 'answers');
      expect(state.batches).toEqual([]);
      expect(state.path).toBe(join(dir, 'xxh64_0123abcd.json'));
      state.add(record);
      state.add({...record, id: 'batch_2'});
      expect(parseState(readFileSync(state.path, 'utf8')).map((b) => b.id)).toEqual(['batch_1', 'batch_2']);
      expect(BatchState.load(dir, 'xxh64:0123abcd', 'answers').batches).toHaveLength(2);
      state.remove('batch_1');
      expect(BatchState.load(dir, 'xxh64:0123abcd', 'answers').batches.map((b) => b.id)).toEqual(['batch_2']);
      state.remove('batch_2');
      expect(existsSync(state.path)).toBe(false);
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });
});
