import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {initHasher} from '../../src/fingerprint/hasher.js';
import {digestOf, KEY_SCHEMA, keyOf, type KeyComponents} from '../../src/fingerprint/key.js';
import type {ActionKey, ContentHash} from '../../src/ids.js';
import {collectGarbage} from '../../src/store/maintenance.js';
import {producer, Store, type ActionEntry, type CostRecord} from '../../src/store/store.js';

let top: string;
let store: Store;
const HOUR = 3_600_000;
const NOW = Date.parse('2026-11-26T12:00:00Z');

beforeAll(async () => {
  await initHasher();
});
beforeEach(() => {
  top = mkdtempSync(join(tmpdir(), 'stage-gc-'));
  store = new Store(join(top, 'cache'));
});
afterEach(() => {
  rmSync(top, {recursive: true, force: true});
});

/** Stores a 1000-byte output for `name`, last used `idleHours` ago, that cost `cost` to make. */
function put(name: string, idleHours: number, cost: CostRecord | null): ActionKey {
  const components: KeyComponents = {schema: KEY_SCHEMA, rule: {kind: 'command', text: name}, params: '{}', inputs: {}, deps: {}, outputs: ['out.txt']};
  const key = keyOf(components);
  const src = join(top, `${name}.out`);
  writeFileSync(src, name.padEnd(1000, '.'));
  const {hash, size} = store.putFile(src);
  const files = [['out.txt', hash, size] as const];
  const entry: ActionEntry = {version: 1, key, target: name, files, digest: digestOf(files), producer: producer('test'), durationMs: 1000, cost, components};
  store.writeAction(entry);
  const when = new Date(NOW - idleHours * HOUR);
  utimesSync(store.actionPath(key), when, when);
  return key;
}

const kept = (key: ActionKey): boolean => store.readAction(key).kind === 'hit';

describe('collectGarbage', () => {
  it('evicts a cheap entry before an expensive one that has been idle longer', () => {
    const paid = put('gold', 10, {dollars: 40, calls: 500});
    const gpu = put('sft', 10, {gpuHours: 8});
    const cheap = put('cat', 2, null);
    const r = collectGarbage(store, 2000, new Set(), false, NOW);
    expect(r.evictedActions).toBe(1);
    expect([kept(paid), kept(gpu), kept(cheap)]).toEqual([true, true, false]);
    // Down to one entry: the GPU job (≈$16 to redo) goes before the $40 of model calls.
    const r2 = collectGarbage(store, 1000, new Set(), false, NOW);
    expect(r2.evictedGpuHours).toBe(8);
    expect([kept(paid), kept(gpu)]).toEqual([true, false]);
  });

  it('counts a use stamp written by another user as a use', () => {
    const a = put('a', 50, null);
    const b = put('b', 40, null);
    // Someone else used `a` a minute ago: they could not touch the entry, so they stamped it.
    const stamp = store.usedPath(a);
    mkdirSync(join(stamp, '..'), {recursive: true});
    writeFileSync(stamp, '');
    utimesSync(stamp, new Date(NOW - 60_000), new Date(NOW - 60_000));
    collectGarbage(store, 1000, new Set(), false, NOW);
    expect([kept(a), kept(b)]).toEqual([true, false]);
  });

  it('keeps what the current Stagefile uses unless asked, and never the memo', () => {
    const live = put('live', 100, null);
    const dead = put('dead', 1, null);
    mkdirSync(join(store.dir, 'v1', 'memo'), {recursive: true});
    writeFileSync(join(store.dir, 'v1', 'memo', 'seg.ndjson'), 'x'.repeat(500));
    const r = collectGarbage(store, 0, new Set([live]), false, NOW);
    expect([kept(live), kept(dead)]).toEqual([true, false]);
    expect(r.keptLive).toBe(1);
    expect(r.memoBytes).toBe(500);
    collectGarbage(store, 0, new Set([live]), true, NOW);
    expect(kept(live)).toBe(false);
    expect(existsSync(join(store.dir, 'v1', 'memo', 'seg.ndjson'))).toBe(true);
  });

  it('leaves young unreferenced blobs alone: they may belong to a commit in progress elsewhere', () => {
    const young = join(top, 'young');
    writeFileSync(young, 'young blob');
    const {hash: youngHash} = store.putFile(young);
    const old = join(top, 'old');
    writeFileSync(old, 'old blob');
    const {hash: oldHash} = store.putFile(old);
    const past = new Date(NOW - 2 * HOUR);
    utimesSync(store.blobPath(oldHash), past, past);
    utimesSync(store.blobPath(youngHash), new Date(NOW - 60_000), new Date(NOW - 60_000));
    collectGarbage(store, 10 ** 9, new Set(), false, NOW);
    expect(existsSync(store.blobPath(youngHash as ContentHash))).toBe(true);
    expect(existsSync(store.blobPath(oldHash))).toBe(false);
  });
});

describe('compactMemo', () => {
  it('merges the segments of exited writers into one and keeps every answer', async () => {
    const {CallMemo, compactMemo} = await import('../../src/llm/memo.js');
    const {hostname} = await import('node:os');
    const answer = (text: string) => ({response: {choices: [{message: {role: 'assistant', content: text}}]}, dollars: 0.01, time: '2026-11-26T00:00:00Z', via: 'realtime' as const});
    // Two writers that have exited (pids that cannot exist), and this live one.
    for (const [pid, keys] of [[2 ** 22 + 1, ['a', 'b']], [2 ** 22 + 2, ['b', 'c']]] as const) {
      const seg = join(store.dir, 'v1', 'memo', `${hostname()}-${pid}-zz.ndjson`);
      mkdirSync(join(seg, '..'), {recursive: true});
      const memo = new CallMemo(join(top, `w${pid}`));
      for (const k of keys) memo.put(k as never, answer(k) as never);
      memo.close();
      const written = readdirSync(join(top, `w${pid}`, 'v1', 'memo'))[0]!;
      writeFileSync(seg, readFileSync(join(top, `w${pid}`, 'v1', 'memo', written), 'utf8') + 'torn line without a newline');
    }
    const live = new CallMemo(store.dir);
    live.put('d' as never, answer('d') as never);
    const r = compactMemo(store.dir);
    expect(r).toEqual({merged: 2, answers: 3});
    expect(readdirSync(join(store.dir, 'v1', 'memo'))).toHaveLength(2);
    live.close();
    const reread = new CallMemo(store.dir);
    expect(['a', 'b', 'c', 'd'].map((k) => (reread.get(k as never)?.response as {choices: {message: {content: string}}[]} | undefined)?.choices[0]!.message.content)).toEqual(['a', 'b', 'c', 'd']);
    expect(reread.damaged).toBe(0);
    // Nothing left to merge: the merged segment alone is not rewritten.
    expect(compactMemo(store.dir)).toEqual({merged: 0, answers: 0});
  });
});
