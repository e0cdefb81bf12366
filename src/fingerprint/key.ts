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
  return actionKey(hashText(canonicalJson(c)));
}

/** The digest of a target's outputs: what its dependents see of it. */
export function digestOf(files: readonly (readonly [string, ContentHash, ...unknown[]])[]): ContentHash {
  return contentHash(hashText(canonicalJson(files.map((f) => [f[0], f[1]]))));
}
