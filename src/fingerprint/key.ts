import {actionKey, contentHash, type ActionKey, type ContentHash} from '../ids.js';
import {canonicalJson} from './canonical.js';
import {hashText} from './hasher.js';

/**
 * Bumped whenever the meaning of a key changes, so the change shows up as one announced
 * invalidation ("key schema 1 → 2") instead of silent misses or, worse, false hits.
 */
export const KEY_SCHEMA = 1;

/**
 * Everything that determines a target's outputs. Never in here: API keys, concurrency, rate
 * limits, cluster placement, cache location, time.
 */
export interface KeyComponents {
  readonly schema: number;
  /** A TypeScript rule (id and the hash of its code closure) or a command's text. */
  readonly rule: {readonly kind: 'rule' | 'llm'; readonly id: string; readonly code: string} | {readonly kind: 'command'; readonly text: string};
  /** Canonical JSON of the parameters. */
  readonly params: string;
  /** Input path → content hash. */
  readonly inputs: Readonly<Record<string, ContentHash>>;
  /** Dependency name → digest of its outputs (not its key: this is what gives early cutoff). */
  readonly deps: Readonly<Record<string, ContentHash>>;
  /** Declared outputs; moving an output is a different action. */
  readonly outputs: readonly string[];
  /** For LLM rules: role → model identity (provider family and dated snapshot). */
  readonly models?: Readonly<Record<string, string>>;
  /** How many shards the work is split into, when more than one. */
  readonly shards?: number;
  /** The command of the model server a job starts: which model answers is part of the result. */
  readonly server?: readonly string[];
}

export function keyOf(c: KeyComponents): ActionKey {
  return actionKey(hashText(keyText(c)));
}

/**
 * `canonicalJson(c)`, written out field by field: keys are computed for every target on every
 * build, and the generic serializer's sorting and recursion was the largest cost of a no-op
 * build. A unit test holds the two byte-identical.
 */
export function keyText(c: KeyComponents): string {
  let s = `{"deps":${record(c.deps)},"inputs":${record(c.inputs)}`;
  if (c.models !== undefined) s += `,"models":${record(c.models)}`;
  s += `,"outputs":${strings(c.outputs)},"params":${JSON.stringify(c.params)},"rule":`;
  s += c.rule.kind === 'command'
    ? `{"kind":"command","text":${JSON.stringify(c.rule.text)}}`
    : `{"code":${JSON.stringify(c.rule.code)},"id":${JSON.stringify(c.rule.id)},"kind":${JSON.stringify(c.rule.kind)}}`;
  s += `,"schema":${c.schema}`;
  if (c.server !== undefined) s += `,"server":${strings(c.server)}`;
  if (c.shards !== undefined) s += `,"shards":${c.shards}`;
  return `${s}}`;
}

function record(r: Readonly<Record<string, string>>): string {
  const keys = Object.keys(r);
  if (keys.length > 1) keys.sort();
  let s = '{';
  for (let i = 0; i < keys.length; i++) s += `${i > 0 ? ',' : ''}${JSON.stringify(keys[i])}:${JSON.stringify(r[keys[i]!])}`;
  return `${s}}`;
}

function strings(xs: readonly string[]): string {
  let s = '[';
  for (let i = 0; i < xs.length; i++) s += `${i > 0 ? ',' : ''}${JSON.stringify(xs[i])}`;
  return `${s}]`;
}

/** The digest of a target's outputs: what its dependents see of it. */
export function digestOf(files: readonly (readonly [string, ContentHash, ...unknown[]])[]): ContentHash {
  return contentHash(hashText(canonicalJson(files.map((f) => [f[0], f[1]]))));
}
