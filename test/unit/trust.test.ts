import {beforeAll, describe, expect, it} from 'vitest';
import {initHasher} from '../../src/fingerprint/hasher.js';
import {digestOf, KEY_SCHEMA, keyOf, type KeyComponents} from '../../src/fingerprint/key.js';
import type {ContentHash} from '../../src/ids.js';
import {recreateCost} from '../../src/store/maintenance.js';
import type {ActionEntry} from '../../src/store/store.js';
import {describeProducer, entryProblem} from '../../src/store/trust.js';

const components: KeyComponents = {
  schema: KEY_SCHEMA, rule: {kind: 'command', text: 'cp a b'}, params: '{}', inputs: {a: 'xxh64:0000000000000001' as ContentHash},
  deps: {}, outputs: ['out/b.txt', 'out/dir/'], models: undefined, shards: undefined, server: undefined,
};

function entry(files: [string, string, number][] = [['out/b.txt', 'xxh64:00000000000000aa', 3]]): ActionEntry {
  const typed = files as unknown as [string, ContentHash, number][];
  // A JSON round trip, as the entry is read from disk.
  return JSON.parse(JSON.stringify({
    version: 1, key: keyOf(components), target: 'b', files: typed, digest: digestOf(typed),
    producer: {user: 'alice', host: 'node3', time: '2026-11-26T10:00:00Z', stage: '0.1.0'},
    durationMs: 5, cost: null, components,
  })) as ActionEntry;
}

beforeAll(async () => {
  await initHasher();
});

describe('entryProblem', () => {
  let key: ReturnType<typeof keyOf>;
  beforeAll(() => {
    key = keyOf(components);
  });
  const outputs = ['out/b.txt', 'out/dir/'];
  it('accepts a well-formed entry read back from disk', () => {
    expect(entryProblem(entry(), key, outputs)).toBeUndefined();
    expect(entryProblem(entry([['out/dir/x/y.json', 'xxh64:00000000000000ab', 1]]), key, outputs)).toBeUndefined();
  });
  it('rejects an entry filed under another key', () => {
    expect(entryProblem(entry(), 'xxh64:ffffffffffffffff' as never, outputs)).toMatch(/filed under/);
  });
  it('rejects files outside the workspace or the target\'s outputs', () => {
    expect(entryProblem(entry([['../../.bashrc', 'xxh64:00000000000000aa', 3]]), key, outputs)).toMatch(/outside the workspace/);
    expect(entryProblem(entry([['/etc/passwd', 'xxh64:00000000000000aa', 3]]), key, outputs)).toMatch(/outside the workspace/);
    expect(entryProblem(entry([['out/other.txt', 'xxh64:00000000000000aa', 3]]), key, outputs)).toMatch(/not one of the target's outputs/);
  });
  it('rejects a manifest whose digest does not match, and key parts that do not hash to the key', () => {
    const e = entry();
    expect(entryProblem({...e, digest: 'xxh64:0000000000000000'}, key, outputs)).toMatch(/digest/);
    expect(entryProblem({...e, components: {...e.components, params: '{"x":1}'}}, key, outputs)).toMatch(/key parts/);
  });
  it('rejects malformed records and entries without a producer', () => {
    expect(entryProblem(entry([['out/b.txt', 'md5:zz', 3]]), key, outputs)).toMatch(/malformed file record/);
    const {producer: _p, ...anonymous} = entry();
    expect(entryProblem(anonymous, key, outputs)).toMatch(/who produced/);
    expect(entryProblem(null, key)).toMatch(/not an object/);
  });
  it('names the producer for messages', () => {
    expect(describeProducer(entry())).toBe('written by alice@node3 at 2026-11-26T10:00:00Z with stage 0.1.0');
  });
});

describe('recreateCost', () => {
  it('weighs dollars of calls above GPU-hours above CPU time', () => {
    const e = entry();
    const cheap = recreateCost({...e, durationMs: 1_000});
    const gpu = recreateCost({...e, cost: {gpuHours: 4}});
    const api = recreateCost({...e, cost: {dollars: 40}});
    expect(cheap).toBeLessThan(0.01);
    expect(gpu).toBeCloseTo(8, 6);
    expect(api).toBeCloseTo(40, 6);
    expect(api).toBeGreaterThan(gpu);
  });
});
