import {describe, expect, it} from 'vitest';
import {parseArgv} from '../../src/cli/options.js';
import {expandCommand} from '../../src/execute/local.js';
import {shellQuote} from '../../src/util/shell.js';
import {canonicalJson} from '../../src/fingerprint/canonical.js';
import {explainChange} from '../../src/fingerprint/explain.js';
import {KEY_SCHEMA, type KeyComponents} from '../../src/fingerprint/key.js';
import {findCycle} from '../../src/graph/cycles.js';
import type {ContentHash} from '../../src/ids.js';
import {parseSize} from '../../src/store/maintenance.js';
import {MaxHeap} from '../../src/util/heap.js';
import {closest} from '../../src/util/suggest.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops undefined members', () => {
    expect(canonicalJson({b: 1, a: {d: [1, {z: 0, y: undefined, x: 'q'}], c: null}})).toBe('{"a":{"c":null,"d":[1,{"x":"q","z":0}]},"b":1}');
  });
  it('gives equal values equal text whatever their field order', () => {
    expect(canonicalJson({temperature: 0.9, model: 'm'})).toBe(canonicalJson({model: 'm', temperature: 0.9}));
  });
  it('refuses non-finite numbers rather than hashing them as null', () => {
    expect(() => canonicalJson({x: Infinity})).toThrow(/non-finite/);
  });
});

describe('findCycle', () => {
  it('orders dependencies before dependents', () => {
    const r = findCycle([{deps: [1]}, {deps: [2]}, {deps: []}]);
    expect(r).toEqual({kind: 'order', order: [2, 1, 0]});
  });
  it('returns the whole cycle', () => {
    const r = findCycle([{deps: []}, {deps: [2]}, {deps: [3]}, {deps: [1]}]);
    expect(r).toEqual({kind: 'cycle', path: [1, 2, 3]});
  });
  it('handles chains deeper than the call stack', () => {
    const nodes = Array.from({length: 200_000}, (_, i) => ({deps: i === 0 ? [] : [i - 1]}));
    const r = findCycle(nodes);
    expect(r.kind).toBe('order');
  });
});

describe('parseArgv', () => {
  it.each([
    [['build', 'gold/A', '-j', '4'], {command: 'build', targets: ['gold/A'], flags: {jobs: 4}}],
    [['gold/A'], {command: 'build', targets: ['gold/A'], flags: {}}],
    [[], {command: 'build', targets: [], flags: {}}],
    [['plan', '--json', 'x'], {command: 'plan', targets: ['x'], flags: {json: true}}],
    [['cache', 'gc', '--max-size=5G'], {command: 'cache-gc', targets: [], flags: {'max-size': '5G'}}],
    [['build', '--reporter', 'json', '-k'], {command: 'build', targets: [], flags: {reporter: 'json', 'keep-going': true}}],
    [['graph', '--format', 'mermaid'], {command: 'graph', targets: [], flags: {format: 'mermaid'}}],
  ] as const)('%j', (argv, expected) => {
    expect(parseArgv(argv)).toEqual({ok: true, value: expected});
  });
  it.each([
    [['build', '--jobs', '0'], '--jobs needs a whole number'],
    [['build', '--frobnicate'], 'unknown option --frobnicate'],
    [['graph', '--format', 'png'], '--format must be one of dot, mermaid'],
    [['why'], 'needs exactly one target'],
    [['cache', 'verify', 'x'], 'takes no targets'],
    [['cache', 'nuke'], 'unknown cache command'],
  ] as const)('refuses %j', (argv, message) => {
    const r = parseArgv(argv);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain(message);
  });
});

describe('explainChange', () => {
  const h = (s: string): ContentHash => `xxh64:${s}` as ContentHash;
  const base: KeyComponents = {
    schema: KEY_SCHEMA, rule: {kind: 'rule', id: 'oracle', code: 'c1'}, params: '{"temperature":0}',
    inputs: {'prompts/judge.md': h('1')}, deps: {'personas/A': h('p')}, outputs: ['out/x'],
  };
  it('says nothing when nothing changed', () => {
    expect(explainChange(base, base)).toEqual([]);
  });
  it('names each changed part', () => {
    const cur: KeyComponents = {
      ...base, rule: {kind: 'rule', id: 'oracle', code: 'c2'}, params: '{"temperature":0.7}',
      inputs: {'prompts/judge.md': h('2'), 'prompts/new.md': h('3')}, deps: {'personas/A': h('q')},
    };
    expect(explainChange(base, cur)).toEqual([
      'code of rule oracle changed (its module or a local import)',
      'parameter temperature changed: 0 -> 0.7',
      'input prompts/judge.md changed',
      'input prompts/new.md was added',
      'output of dependency personas/A changed',
    ]);
  });
  it('announces a key-schema change', () => {
    expect(explainChange({...base, schema: 0}, base)[0]).toMatch(/key schema changed \(0 -> 1\)/);
  });
});

describe('commands', () => {
  it('expands $in, $out and $outs with quoting, relative to the root', () => {
    const c = expandCommand({kind: 'command', shell: 'cat $in > $out; ls ${outs}'}, '/w', ['/w/a b.txt', '/w/c.txt'], ['/w/.stage/tmp/1/o1', '/w/.stage/tmp/1/o2']);
    expect(c.text).toBe("cat 'a b.txt' c.txt > .stage/tmp/1/o1; ls .stage/tmp/1/o1 .stage/tmp/1/o2");
  });
  it('leaves other shell variables alone', () => {
    expect(expandCommand({kind: 'command', shell: 'echo $input $HOME'}, '/w', ['/w/a'], ['/w/o']).text).toBe('echo $input $HOME');
  });
  it('expands argv placeholders into separate arguments', () => {
    const c = expandCommand({kind: 'command', argv: ['cat', '$in']}, '/w', ['/w/a', '/w/b'], ['/w/o']);
    expect([c.file, ...c.args]).toEqual(['cat', 'a', 'b']);
  });
  it('quotes for the shell', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('plain/path.txt')).toBe('plain/path.txt');
  });
});

describe('small utilities', () => {
  it('parses sizes', () => {
    expect(parseSize('500M')).toBe(500 * 1024 ** 2);
    expect(parseSize('1.5g')).toBe(1.5 * 1024 ** 3);
    expect(parseSize('123')).toBe(123);
    expect(parseSize('lots')).toBeUndefined();
  });
  it('pops the highest priority first, ties in insertion order', () => {
    const h = new MaxHeap<string>();
    for (const [v, p] of [['a', 1], ['b', 5], ['c', 5], ['d', 3]] as const) h.push(v, p);
    expect([h.pop(), h.pop(), h.pop(), h.pop(), h.pop()]).toEqual(['b', 'c', 'd', 'a', undefined]);
  });
  it('suggests close names only', () => {
    expect(closest('winrate', ['winrates', 'report'])).toBe('winrates');
    expect(closest('zzz', ['winrates', 'report'])).toBeUndefined();
  });
});

describe('keyText', () => {
  it('is byte-identical to the canonical JSON of the components', async () => {
    const {keyText} = await import('../../src/fingerprint/key.js');
    const h = (s: string): ContentHash => `xxh64:${s}` as ContentHash;
    const cases: KeyComponents[] = [
      {schema: KEY_SCHEMA, rule: {kind: 'command', text: 'cat $in > "$out"'}, params: 'null', inputs: {}, deps: {}, outputs: ['out/a']},
      {schema: KEY_SCHEMA, rule: {kind: 'rule', id: 'r', code: 'c'}, params: '{"b":[1,"x"],"a":null}', inputs: {'z.txt': h('1'), 'a b.txt': h('2')},
        deps: {'gold/B': h('3'), 'gold/A': h('4')}, outputs: ['o/1', 'o/dir/'], shards: 3, server: ['vllm', 'serve', '--port', '{port}']},
      {schema: KEY_SCHEMA, rule: {kind: 'llm', id: 'judge', code: 'q"uote'}, params: '{}', inputs: {'ü.md': h('5')}, deps: {}, outputs: ['x'], models: {judge: 'gpt-4-0613', a: 'm'}},
    ];
    for (const c of cases) expect(keyText(c)).toBe(canonicalJson(c));
  });
});
