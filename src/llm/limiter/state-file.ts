import {createHash} from 'node:crypto';
import {readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs';
import {errnoCode, tempPathFor} from '../../util/fs.js';
import type {Entry, WindowState} from './window.js';

/**
 * The file name for an endpoint identity: readable for the usual ids ("openai:gpt-4-0613" becomes
 * "openai%3Agpt-4-0613"), safe on every file system, and short enough whatever the id.
 */
export function fileStemFor(id: string): string {
  const encoded = id.replace(/[^A-Za-z0-9._-]/g, (c) => [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
  if (encoded.length <= 120 && !encoded.startsWith('.')) return encoded;
  return `${encoded.slice(0, 80).replace(/^\./, '%2E')}~${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}

/**
 * Ids name endpoints ("openai:gpt-4-0613"), and they end up in file names and in the state, so
 * anything that looks like a credential is refused rather than written to disk.
 */
export function checkEndpointId(id: string): string | undefined {
  if (id.length === 0) return 'the limiter id is empty';
  if (/\bsk-[A-Za-z0-9_-]{12,}/.test(id)) return 'the limiter id looks like an API key; use the endpoint identity, e.g. "openai:gpt-4-0613"';
  if (/\/\/[^/@\s]*:[^/@\s]*@/.test(id)) return 'the limiter id contains URL credentials; use the endpoint identity, e.g. "openai:gpt-4-0613"';
  return undefined;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isEntry(v: unknown): v is Entry {
  return Array.isArray(v) && v.length === 3 && isTime(v[0]) && isCount(v[1]) && isCount(v[2]);
}

/**
 * Reads state text, or undefined when it is not a state this version understands. Checked field
 * by field: a state from another stage version must be started afresh, not misread.
 */
export function decodeState(text: string): WindowState | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as Record<string, unknown>;
  const ok = s['version'] === 1
    && isCount(s['bucketMs']) && (s['bucketMs'] as number) > 0
    && isCount(s['epoch']) && isCount(s['horizonMs'])
    && Array.isArray(s['entries']) && (s['entries'] as unknown[]).every(isEntry)
    && isTime(s['pausedUntil']) && isTime(s['paceRequests']) && isTime(s['paceTokens'])
    && (s['observedRpm'] === null || isCount(s['observedRpm']))
    && (s['observedTpm'] === null || isCount(s['observedTpm']));
  return ok ? (v as WindowState) : undefined;
}

export function encodeState(state: WindowState): string {
  return JSON.stringify(state);
}

/** The state in `path`; undefined when there is none yet (or it is from another version). */
export function readStateFile(path: string): WindowState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  return decodeState(text);
}

/**
 * Replaces the state: temp file + rename, so a reader sees the old state or the new, never half
 * of one. Unlike writeFileAtomic there is no fsync: the state is only meaningful while the
 * processes that share it run (it lives in a runtime directory, cleared at boot), so surviving
 * a power cut buys nothing, and an fsync costs about a millisecond per call on a disk-backed /tmp.
 * The caller holds the lock and has created the directory.
 */
export function writeStateFile(path: string, state: WindowState): void {
  const tmp = tempPathFor(path);
  try {
    writeFileSync(tmp, encodeState(state), {mode: 0o600});
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, {force: true});
    throw e;
  }
}
