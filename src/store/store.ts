import {chmodSync, copyFileSync, constants, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync} from 'node:fs';
import {hostname, userInfo} from 'node:os';
import {dirname, join} from 'node:path';
import {hashFile} from '../fingerprint/hasher.js';
import {hexOf, type ActionKey, type ContentHash} from '../ids.js';
import {errnoCode, tempPathFor, writeFileAtomic} from '../util/fs.js';
import type {KeyComponents} from '../fingerprint/key.js';

/** Who produced an entry, so a shared cache can say where a bad entry came from. */
export interface Producer {
  readonly user: string;
  readonly host: string;
  readonly time: string;
  readonly stage: string;
}

/** What later executors record about the price of an action (API dollars, GPU-hours). */
export interface CostRecord {
  readonly dollars?: number;
  /** Model calls paid for by this run. */
  readonly calls?: number;
  /** Model calls answered from the memo. */
  readonly memoized?: number;
  readonly gpuHours?: number;
}

/** One action index entry: a key and the outputs it produced. */
export interface ActionEntry {
  readonly version: 1;
  readonly key: ActionKey;
  readonly target: string;
  /** [path relative to the workspace, content hash, size] for every output file. */
  readonly files: readonly (readonly [string, ContentHash, number])[];
  readonly digest: ContentHash;
  readonly producer: Producer;
  readonly durationMs: number;
  readonly cost: CostRecord | null;
  /** The key's parts, kept so `stage why` can say what changed. */
  readonly components: KeyComponents;
  /** Lines the rule reported (`ctx.report`), shown again when the result is reused. */
  readonly reports?: readonly string[];
}

/**
 * The content-addressed store: immutable blobs named by their hash, and an action index from key
 * to output manifest. Every write is temp file + rename, so a crash leaves either nothing or a
 * whole file; every blob is re-hashed when restored, so a damaged one is never served.
 *
 *   <dir>/v1/blobs/ab/abcdef…        read-only blob
 *   <dir>/v1/actions/ab/abcdef….json action entry
 *   <dir>/v1/tmp/                    in-progress writes
 */
export class Store {
  readonly dir: string;
  readonly #blobs: string;
  readonly #actions: string;
  readonly #tmp: string;

  constructor(dir: string) {
    this.dir = dir;
    const v = join(dir, 'v1');
    this.#blobs = join(v, 'blobs');
    this.#actions = join(v, 'actions');
    this.#tmp = join(v, 'tmp');
  }

  blobPath(hash: ContentHash): string {
    const hex = hexOf(hash);
    return join(this.#blobs, hex.slice(0, 2), hex);
  }

  actionPath(key: ActionKey): string {
    const hex = hexOf(key);
    return join(this.#actions, hex.slice(0, 2), `${hex}.json`);
  }

  /** The entry for a key, or why it is unusable. Marks it used (for LRU collection). */
  readAction(key: ActionKey): {kind: 'hit'; entry: ActionEntry} | {kind: 'miss'} | {kind: 'corrupt'; problem: string} {
    const path = this.actionPath(key);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return {kind: 'miss'};
      return {kind: 'corrupt', problem: String(e)};
    }
    let entry: ActionEntry;
    try {
      entry = JSON.parse(text) as ActionEntry;
    } catch {
      return {kind: 'corrupt', problem: `action entry ${path} is not valid JSON`};
    }
    if (entry.version !== 1 || entry.key !== key || !Array.isArray(entry.files)) {
      return {kind: 'corrupt', problem: `action entry ${path} does not describe key ${key}`};
    }
    touch(path);
    return {kind: 'hit', entry};
  }

  writeAction(entry: ActionEntry): void {
    writeFileAtomic(this.actionPath(entry.key), JSON.stringify(entry), 0o444);
  }

  removeAction(key: ActionKey): void {
    rmSync(this.actionPath(key), {force: true});
  }

  /**
   * Moves a finished output file into the store under its hash and returns the hash. The file is
   * renamed when it can be (same filesystem), otherwise copied; an existing blob is kept.
   */
  putFile(src: string): {hash: ContentHash; size: number} {
    const hash = hashFile(src);
    const size = statSync(src).size;
    const dest = this.blobPath(hash);
    const existing = statSync(dest, {throwIfNoEntry: false});
    if (existing && existing.size === size) return {hash, size};
    mkdirSync(dirname(dest), {recursive: true});
    mkdirSync(this.#tmp, {recursive: true});
    const tmp = tempPathFor(join(this.#tmp, hexOf(hash)));
    try {
      renameSync(src, tmp);
    } catch (e) {
      if (errnoCode(e) !== 'EXDEV') throw e;
      copyFileSync(src, tmp);
    }
    chmodSync(tmp, 0o444);
    renameSync(tmp, dest);
    return {hash, size};
  }

  /** Re-hashes a blob. A damaged blob is deleted so it is rebuilt, never served. */
  verifyBlob(hash: ContentHash): 'ok' | 'missing' | 'corrupt' {
    const path = this.blobPath(hash);
    let actual: ContentHash;
    try {
      actual = hashFile(path);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return 'missing';
      throw e;
    }
    if (actual === hash) return 'ok';
    rmSync(path, {force: true});
    return 'corrupt';
  }

  /**
   * Puts a blob at a workspace path, read-only: a hard link when the filesystem and permissions
   * allow, else a copy. Whatever was at the path before is replaced.
   */
  materialize(hash: ContentHash, dest: string): void {
    mkdirSync(dirname(dest), {recursive: true});
    try {
      unlinkSync(dest);
    } catch (e) {
      if (errnoCode(e) === 'EISDIR' || errnoCode(e) === 'EPERM') rmSync(dest, {recursive: true, force: true});
      else if (errnoCode(e) !== 'ENOENT') throw e;
    }
    const src = this.blobPath(hash);
    try {
      linkSync(src, dest);
      return;
    } catch {
      // Another filesystem, or a blob owned by someone else (protected_hardlinks): copy instead.
    }
    const tmp = tempPathFor(dest);
    copyFileSync(src, tmp, constants.COPYFILE_FICLONE);
    chmodSync(tmp, 0o444);
    renameSync(tmp, dest);
  }

  /** Every action entry path, for verify and gc. */
  *actionFiles(): Generator<string> {
    yield* walk(this.#actions);
  }

  *blobFiles(): Generator<string> {
    yield* walk(this.#blobs);
  }
}

export function producer(version: string): Producer {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (containers): the uid is still in the file's owner.
  }
  return {user, host: hostname(), time: new Date().toISOString(), stage: version};
}

/** Stamps last use on the entry's mtime (atime is unreliable on noatime mounts). */
function touch(path: string): void {
  const now = new Date();
  try {
    utimesSync(path, now, now);
  } catch {
    // A read-only or foreign entry: last-use is best effort.
  }
}

function* walk(dir: string): Generator<string> {
  let shards: string[];
  try {
    shards = readdirSync(dir);
  } catch {
    return;
  }
  for (const s of shards) {
    let names: string[];
    try {
      names = readdirSync(join(dir, s));
    } catch {
      continue;
    }
    for (const n of names) yield join(dir, s, n);
  }
}
