import {chmodSync, copyFileSync, constants, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync} from 'node:fs';
import {hostname} from 'node:os';
import {currentUser} from '../util/process.js';
import {dirname, join} from 'node:path';
import {hashFile} from '../fingerprint/hasher.js';
import {hexOf, type ActionKey, type ContentHash} from '../ids.js';
import {errnoCode, listDir, tempPathFor, writeFileAtomic} from '../util/fs.js';
import type {KeyComponents} from '../fingerprint/key.js';
import {Leases, type LeaseTimings} from './lease.js';
import {mkdirShared, sharedDir, type SharedDir} from './shared-dir.js';
import {describeProducer, entryProblem} from './trust.js';

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

/** How a store is opened: alone, or over a read-only upstream (a lab cache used as a consumer). */
export interface StoreOptions {
  /** A store that is read but never written: not its entries, blobs, memo, leases or use stamps. */
  readonly upstream?: string | undefined;
  readonly leases?: LeaseTimings | undefined;
}

export type ActionRead = {kind: 'hit'; entry: ActionEntry} | {kind: 'miss'} | {kind: 'corrupt'; problem: string};

/**
 * The content-addressed store: immutable blobs named by their hash, and an action index from key
 * to output manifest. Every write is temp file + rename, so a crash leaves either nothing or a
 * whole file; every blob is re-hashed when restored, so a damaged one is never served. The same
 * layout serves one user or a lab (see `shared-dir.ts` for the permissions of a group store).
 *
 *   <dir>/v1/blobs/ab/abcdef…        read-only blob
 *   <dir>/v1/actions/ab/abcdef….json action entry (read-only)
 *   <dir>/v1/used/ab/abcdef…         last use of an entry owned by someone else
 *   <dir>/v1/leases/<name>/          who is producing what right now
 *   <dir>/v1/tmp/                    in-progress writes
 */
export class Store {
  readonly dir: string;
  readonly shared: SharedDir;
  readonly leases: Leases;
  /** The read-only store consulted after this one, if any. */
  readonly upstream: Store | undefined;
  readonly #v: string;

  constructor(dir: string, opts: StoreOptions = {}) {
    this.dir = dir;
    this.#v = join(dir, 'v1');
    this.shared = sharedDir(dir);
    this.leases = new Leases(join(this.#v, 'leases'), opts.leases);
    this.upstream = opts.upstream === undefined ? undefined : new Store(opts.upstream, {leases: opts.leases});
  }

  /** The stores whose memo and entries a build reads: this one, then the upstream. */
  get dirs(): readonly string[] {
    return this.upstream ? [this.dir, ...this.upstream.dirs] : [this.dir];
  }

  /** Where a blob is: in this store if it has it, else in the upstream's, else where it would go. */
  blobPath(hash: ContentHash): string {
    const own = this.#blobPath(hash);
    if (!this.upstream || statSync(own, {throwIfNoEntry: false})) return own;
    const up = this.upstream.blobPath(hash);
    return statSync(up, {throwIfNoEntry: false}) ? up : own;
  }

  #blobPath(hash: ContentHash): string {
    const hex = hexOf(hash);
    return join(this.#v, 'blobs', hex.slice(0, 2), hex);
  }

  actionPath(key: ActionKey): string {
    const hex = hexOf(key);
    return join(this.#v, 'actions', hex.slice(0, 2), `${hex}.json`);
  }

  usedPath(key: ActionKey): string {
    const hex = hexOf(key);
    return join(this.#v, 'used', hex.slice(0, 2), hex);
  }

  /**
   * The entry for a key, or why it is unusable (checked by `entryProblem`; `outputs` are the
   * target's declared outputs). Marks it used, for least-recently-used collection.
   */
  readAction(key: ActionKey, outputs?: readonly string[]): ActionRead {
    const own = this.#readOwn(key, outputs);
    if (own.kind !== 'miss' || !this.upstream) return own;
    return this.upstream.#readOwn(key, outputs, false);
  }

  #readOwn(key: ActionKey, outputs: readonly string[] | undefined, stamp = true): ActionRead {
    const path = this.actionPath(key);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return {kind: 'miss'};
      return {kind: 'corrupt', problem: `action entry ${path} cannot be read (${errnoCode(e) ?? String(e)})`};
    }
    let entry: unknown;
    try {
      entry = JSON.parse(text);
    } catch {
      return {kind: 'corrupt', problem: `action entry ${path} is not valid JSON`};
    }
    const problem = entryProblem(entry, key, outputs);
    if (problem) return {kind: 'corrupt', problem: `action entry ${path} (${describeProducer(entry)}) ${problem}`};
    if (stamp) this.#markUsed(key, path);
    return {kind: 'hit', entry: entry as ActionEntry};
  }

  /**
   * Stamps last use on the entry's mtime (atime is unreliable on noatime mounts). Only the owner
   * may set a file's times, so for someone else's entry the stamp is a small file of its own,
   * replaced by rename, which needs no ownership.
   */
  #markUsed(key: ActionKey, path: string): void {
    const now = new Date();
    try {
      utimesSync(path, now, now);
      return;
    } catch {
      // Not ours: stamp beside it.
    }
    try {
      const used = this.usedPath(key);
      mkdirShared(dirname(used));
      writeFileAtomic(used, '', 0o444);
    } catch {
      // Last use is best effort; a store we cannot write is read-only to us.
    }
  }

  /** When an entry was last used: its own mtime or its use stamp, whichever is later. */
  lastUsed(key: ActionKey, entryMtimeMs: number): number {
    const stamp = statSync(this.usedPath(key), {throwIfNoEntry: false});
    return Math.max(entryMtimeMs, stamp?.mtimeMs ?? 0);
  }

  writeAction(entry: ActionEntry): void {
    const path = this.actionPath(entry.key);
    mkdirShared(dirname(path));
    writeFileAtomic(path, JSON.stringify(entry), 0o444);
  }

  /** Drops an unusable entry. Never fails: in a store we may not write, the entry is just ignored. */
  removeAction(key: ActionKey): void {
    try {
      rmSync(this.actionPath(key), {force: true});
      rmSync(this.usedPath(key), {force: true});
    } catch {
      // Someone else's entry in a directory we cannot write: reported by the caller, left alone.
    }
  }

  /**
   * Moves a finished output file into the store under its hash and returns the hash. The file is
   * renamed when it can be (same filesystem), otherwise copied; an existing blob is kept.
   */
  putFile(src: string): {hash: ContentHash; size: number} {
    const hash = hashFile(src);
    const size = statSync(src).size;
    const dest = this.#blobPath(hash);
    const existing = statSync(dest, {throwIfNoEntry: false});
    if (existing && existing.size === size) return {hash, size};
    const tmpDir = join(this.#v, 'tmp');
    mkdirShared(dirname(dest));
    mkdirShared(tmpDir);
    const tmp = tempPathFor(join(tmpDir, hexOf(hash)));
    try {
      renameSync(src, tmp);
      this.shared.adopt(tmp);
    } catch (e) {
      if (errnoCode(e) !== 'EXDEV') throw e;
      copyFileSync(src, tmp);
    }
    chmodSync(tmp, 0o444);
    renameSync(tmp, dest);
    return {hash, size};
  }

  /**
   * Re-hashes a blob. A damaged blob is deleted so it is rebuilt, never served (if we may: one
   * in a read-only upstream is only reported, and the target is rebuilt into this store).
   */
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
    if (path === this.#blobPath(hash)) {
      try {
        rmSync(path, {force: true});
      } catch {
        // Not ours to remove; it is never served either way.
      }
    }
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
    yield* walk(join(this.#v, 'actions'));
  }

  *blobFiles(): Generator<string> {
    yield* walk(join(this.#v, 'blobs'));
  }
}

export function producer(version: string): Producer {
  return {user: currentUser(), host: hostname(), time: new Date().toISOString(), stage: version};
}

function* walk(dir: string): Generator<string> {
  for (const s of listDir(dir)) for (const n of listDir(join(dir, s))) yield join(dir, s, n);
}
