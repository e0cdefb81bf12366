import {closeSync, fstatSync, mkdirSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeSync} from 'node:fs';
import {dirname} from 'node:path';
import {errnoCode} from '../../util/fs.js';
import {processAlive} from '../../util/process.js';

export interface LockOptions {
  /** A lock at least this old whose holder process is gone is taken over. */
  readonly staleMs: number;
  /** A lock older than this is taken over whoever holds it (a hung holder, or a reused pid). */
  readonly hardTimeoutMs: number;
  /** Give up acquiring after this long. */
  readonly timeoutMs: number;
}

export const DEFAULT_LOCK_OPTIONS: LockOptions = {staleMs: 250, hardTimeoutMs: 10_000, timeoutMs: 60_000};

/** The lock could not be had in time; names the file so the user can look at it. */
export class LockTimeoutError extends Error {
  constructor(readonly path: string, waitedMs: number) {
    super(`could not lock ${path} within ${waitedMs} ms; if no stage process is running, delete that file`);
  }
}

/**
 * Whether a lock file should be taken over: it must be older than `staleMs` (so a lock that was
 * just created and has no pid written yet is left alone) and either its holder is gone or it is
 * older than the hard timeout. Pure, so the rule is table-tested.
 */
export function isStale(ageMs: number, holderPid: number | undefined, alive: (pid: number) => boolean, options: Pick<LockOptions, 'staleMs' | 'hardTimeoutMs'>): boolean {
  if (ageMs < options.staleMs) return false;
  if (ageMs >= options.hardTimeoutMs) return true;
  return holderPid === undefined || !alive(holderPid);
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Blocks for a fraction of a millisecond: the lock is held for about 0.1 ms, a timer is 1 ms+. */
function pause(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * A lock between processes that needs no POSIX locks (which NFS and some container file systems
 * get wrong): the lock is a file created with O_EXCL, holding the holder's pid. Holders keep it
 * for one read-modify-write of a small file, so waiters spin briefly before falling back to
 * timers. A holder killed with -9 leaves the file behind; see `isStale` for when it is taken over.
 *
 * Taking over is serialized by a second O_EXCL file (`<lock>.break`): without it, two waiters
 * that both judged the same lock stale could each delete it, the second deleting the lock the
 * first had just created. With it, the second finds a different file (another inode) and leaves
 * it alone.
 */
export class FileLock {
  readonly path: string;
  readonly #options: LockOptions;
  readonly #alive: (pid: number) => boolean;
  #held = false;
  /** Identity of the lock file we created (inodes are reused, so with its mtime), so release never deletes a lock someone took over. */
  #mine = {ino: 0, mtimeMs: 0};

  constructor(path: string, options: Partial<LockOptions> = {}, alive: (pid: number) => boolean = processAlive) {
    this.path = path;
    this.#options = {...DEFAULT_LOCK_OPTIONS, ...options};
    this.#alive = alive;
  }

  get held(): boolean {
    return this.#held;
  }

  /** One attempt, taking over a stale lock if there is one. */
  tryAcquire(): boolean {
    if (this.#held) throw new Error(`Internal error: ${this.path} is already held by this process`);
    if (this.#create()) return true;
    return this.#breakIfStale() && this.#create();
  }

  /** Waits for the lock: a short spin, then timers with backoff, up to `timeoutMs`. */
  async acquire(signal?: AbortSignal): Promise<void> {
    if (this.tryAcquire()) return;
    for (const us of [20, 50, 100, 200, 400]) {
      pause(us / 1000);
      if (this.#create()) return;
    }
    const start = Date.now();
    let delay = 1;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      signal?.throwIfAborted();
      if (this.tryAcquire()) return;
      if (Date.now() - start > this.#options.timeoutMs) throw new LockTimeoutError(this.path, Date.now() - start);
      delay = Math.min(delay * 2, 20);
    }
  }

  /**
   * Lets go. A holder that stalled past the hard timeout may have been taken over; then the file
   * is someone else's lock and is left alone.
   */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    const st = statSync(this.path, {throwIfNoEntry: false});
    if (st && st.ino === this.#mine.ino && st.mtimeMs === this.#mine.mtimeMs) rmSync(this.path, {force: true});
  }

  #create(): boolean {
    let fd: number;
    try {
      fd = openSync(this.path, 'wx', 0o600);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EEXIST') return false;
      if (code !== 'ENOENT') throw e;
      mkdirSync(dirname(this.path), {recursive: true, mode: 0o700});
      fd = openSync(this.path, 'wx', 0o600);
    }
    try {
      writeSync(fd, `${process.pid}\n`);
      const st = fstatSync(fd);
      this.#mine = {ino: st.ino, mtimeMs: st.mtimeMs};
    } finally {
      closeSync(fd);
    }
    this.#held = true;
    return true;
  }

  /** Removes the lock file if it is stale; true when the caller should try again at once. */
  #breakIfStale(): boolean {
    const seen = statSync(this.path, {throwIfNoEntry: false});
    if (!seen) return true;
    if (!isStale(Date.now() - seen.mtimeMs, readPid(this.path), this.#alive, this.#options)) return false;
    const breaker = `${this.path}.break`;
    let fd: number;
    try {
      fd = openSync(breaker, 'wx', 0o600);
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
      // Someone else is taking over; a breaker left by a holder killed mid-takeover expires too.
      const b = statSync(breaker, {throwIfNoEntry: false});
      if (b && Date.now() - b.mtimeMs >= this.#options.hardTimeoutMs) rmSync(breaker, {force: true});
      return false;
    }
    try {
      const now = statSync(this.path, {throwIfNoEntry: false});
      if (now && now.ino === seen.ino && now.mtimeMs === seen.mtimeMs) unlinkSync(this.path);
    } finally {
      closeSync(fd);
      rmSync(breaker, {force: true});
    }
    return true;
  }
}

/** The pid written in a lock file, or undefined when it is empty or unreadable. */
function readPid(path: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
