import {digestOf, keyOf} from '../fingerprint/key.js';
import type {ActionKey} from '../ids.js';
import type {ActionEntry} from './store.js';

const HASH = /^xxh64:[0-9a-f]{16}$/;

/**
 * Why an action entry read from the store must not be used, or undefined when it may. A shared
 * cache is written by many people and machines, so an entry is checked before anything in it is
 * believed: its shape, that its manifest hashes to its digest, that its recorded key parts hash
 * to the key it is filed under, and that every file it names stays inside the target's declared
 * outputs (a poisoned entry must not write `../../.bashrc`). Blob contents are re-hashed
 * separately, when they are restored.
 */
export function entryProblem(entry: unknown, key: ActionKey, outputs?: readonly string[]): string | undefined {
  if (typeof entry !== 'object' || entry === null) return 'is not an object';
  const e = entry as Partial<ActionEntry>;
  if (e.version !== 1) return `has version ${String(e.version)}, not 1`;
  if (e.key !== key) return `is filed under ${key} but describes ${String(e.key)}`;
  if (typeof e.target !== 'string') return 'names no target';
  if (!Array.isArray(e.files)) return 'has no file list';
  for (const f of e.files as unknown[]) {
    if (!Array.isArray(f) || typeof f[0] !== 'string' || typeof f[1] !== 'string' || !HASH.test(f[1]) || typeof f[2] !== 'number') return 'has a malformed file record';
    if (!safeRelative(f[0])) return `names a file outside the workspace (${f[0]})`;
    if (outputs && !outputs.some((o) => (o.endsWith('/') ? f[0].startsWith(o) : f[0] === o))) return `names ${f[0]}, which is not one of the target's outputs`;
  }
  if (e.digest !== digestOf(e.files)) return 'has a digest that does not match its file list';
  if (!e.producer || typeof e.producer.user !== 'string' || typeof e.producer.host !== 'string') return 'does not say who produced it';
  if (!e.components || typeof e.components !== 'object') return 'has no key parts';
  try {
    if (keyOf(e.components) !== key) return 'has key parts that do not hash to its key';
  } catch {
    return 'has malformed key parts';
  }
  return undefined;
}

/** `user@host, <time>, stage <version>`: who to ask about an entry. */
export function describeProducer(entry: unknown): string {
  const p = (entry as Partial<ActionEntry> | null)?.producer;
  if (!p || typeof p !== 'object') return 'unknown producer';
  return `written by ${String(p.user)}@${String(p.host)} at ${String(p.time)} with stage ${String(p.stage)}`;
}

function safeRelative(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.includes('\\')) return false;
  return p.split('/').every((part) => part !== '..' && part !== '' && part !== '.');
}
