import {readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs';
import {hostname} from 'node:os';
import {join} from 'node:path';
import {setTimeout as sleep} from 'node:timers/promises';
import {errnoCode} from '../util/fs.js';
import {currentUser, processAlive} from '../util/process.js';
import {mkdirShared} from './shared-dir.js';

/** Who holds a lease, as written in its `owner.json`. */
export interface Holder {
  readonly user: string;
  readonly host: string;
  readonly pid: number;
  /** Unique per acquisition: tells a lease apart from a newer one at the same path. */
  readonly token: string;
  readonly started: string;
  /** What the holder is doing, for the waiter's message. */
  readonly what: string;
}

export interface LeaseTimings {
  /** How often a holder refreshes its lease (default 2 s). */
  readonly heartbeatMs: number;
  /** A lease not refreshed for this long is taken over (default 30 s). */
  readonly staleMs: number;
  /** How often a waiter looks again (default 100 ms). */
  readonly pollMs: number;
}

export const DEFAULT_LEASE_TIMINGS: LeaseTimings = {heartbeatMs: 2_000, staleMs: 30_000, pollMs: 100};

/** A held lease. `release` is idempotent; `lost` turns true if another builder took it over. */
export interface Lease {
  readonly holder: Holder;
  release(): void;
  readonly lost: boolean;
}

export type Attempt = {kind: 'acquired'; lease: Lease} | {kind: 'held'; holder: Holder | undefined};

/**
 * Leases on units of work (an action key, a model call), shared by every builder that uses the
 * store, on any machine. Only `mkdir`, `rename` and `utimes` are used: they are atomic on NFS,
 * where POSIX locks are not to be trusted.
 *
 * A lease is a directory `<dir>/<name>` holding `owner.json`. It is created whole under a temp
 * name and renamed into place; renaming onto a non-empty directory fails, so exactly one builder
 * gets it. The holder touches `owner.json` every `heartbeatMs`. A lease is dead when its holder's
 * process is gone (same host: checked at once, so a builder killed with -9 is replaced in one
 * poll) or it has not been refreshed for `staleMs` (another host). A dead lease is moved aside
 * under a name only its remover uses, and its token checked: if what moved was a newer lease, it
 * is put back.
 */
export class Leases {
  readonly #dir: string;
  readonly timings: LeaseTimings;
  readonly #host = hostname();
  readonly #user = currentUser();
  #counter = 0;

  constructor(dir: string, timings: LeaseTimings = DEFAULT_LEASE_TIMINGS) {
    this.#dir = dir;
    this.timings = timings;
  }

  /** Who holds a lease now, if it is held by a live builder. */
  holder(name: string): Holder | undefined {
    const path = join(this.#dir, name);
    const h = readHolder(path);
    if (h === 'gone' || h === 'unreadable' || this.#dead(path, h)) return undefined;
    return h;
  }

  /** Takes the lease if it is free (or dead); never waits. */
  tryAcquire(name: string, what: string): Attempt {
    const path = join(this.#dir, name);
    for (let attempt = 0; attempt < 3; attempt++) {
      const holder: Holder = {
        user: this.#user, host: this.#host, pid: process.pid, started: new Date().toISOString(), what,
        token: `${this.#host}-${process.pid}-${++this.#counter}-${Math.random().toString(36).slice(2, 10)}`,
      };
      const fresh = `${path}.new-${holder.token}`;
      mkdirShared(fresh);
      writeFileSync(join(fresh, 'owner.json'), JSON.stringify(holder));
      try {
        renameSync(fresh, path);
        return {kind: 'acquired', lease: this.#hold(path, holder)};
      } catch (e) {
        rmSync(fresh, {recursive: true, force: true});
        const code = errnoCode(e);
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
      }
      const current = readHolder(path);
      if (current === 'gone') continue;
      if (!this.#dead(path, current)) return {kind: 'held', holder: current === 'unreadable' ? undefined : current};
      this.#remove(path, current === 'unreadable' ? undefined : current.token);
    }
    return {kind: 'held', holder: undefined};
  }

  /**
   * Takes the lease, waiting while another live builder holds it. `onWait` is told who holds it
   * (once per holder); `check` runs after each wait and may end the wait with a value instead
   * (the holder's result has appeared in the store).
   */
  async acquire<T>(name: string, what: string, signal: AbortSignal, onWait: (h: Holder | undefined) => void, check: () => T | undefined): Promise<{kind: 'acquired'; lease: Lease} | {kind: 'done'; value: T} | {kind: 'aborted'}> {
    let told: string | undefined;
    for (;;) {
      if (signal.aborted) return {kind: 'aborted'};
      const got = this.tryAcquire(name, what);
      if (got.kind === 'acquired') return got;
      const id = got.holder?.token ?? '?';
      if (told !== id) {
        told = id;
        onWait(got.holder);
      }
      // An abort ends the pause early; the loop then returns 'aborted'.
      await sleep(this.timings.pollMs, undefined, {signal}).catch(() => {});
      const value = check();
      if (value !== undefined) return {kind: 'done', value};
    }
  }

  #hold(path: string, holder: Holder): Lease {
    const owner = join(path, 'owner.json');
    HELD_HERE.add(holder.token);
    let released = false;
    let lost = false;
    const beat = setInterval(() => {
      const now = new Date();
      try {
        utimesSync(owner, now, now);
      } catch (e) {
        // Moved aside by a builder that thought it dead: it will be put back if it was ours, so
        // only a lease that stays gone (or now names another holder) is lost.
        if (errnoCode(e) !== 'ENOENT') return;
      }
      const current = readHolder(path);
      if (current !== 'gone' && current !== 'unreadable' && current.token !== holder.token) lost = true;
    }, this.timings.heartbeatMs);
    beat.unref();
    return {
      holder,
      get lost() {
        return lost;
      },
      release: () => {
        if (released) return;
        released = true;
        clearInterval(beat);
        HELD_HERE.delete(holder.token);
        const current = readHolder(path);
        if (current !== 'gone' && current !== 'unreadable' && current.token === holder.token) this.#remove(path, holder.token);
      },
    };
  }

  /**
   * A holder that is gone. On this host the process table is the truth: a live process keeps
   * its lease even when a long synchronous step delayed its heartbeat, a dead one loses it at
   * once, and our own pid on a lease we never took is an earlier process that had it. From
   * another host only the heartbeat can tell.
   */
  #dead(path: string, holder: Holder | 'unreadable'): boolean {
    if (holder !== 'unreadable' && holder.host === this.#host) {
      if (holder.pid === process.pid) return !HELD_HERE.has(holder.token);
      return !processAlive(holder.pid);
    }
    const st = statSync(join(path, holder === 'unreadable' ? '' : 'owner.json'), {throwIfNoEntry: false});
    if (!st) return false;
    return Date.now() - st.mtimeMs > this.timings.staleMs;
  }

  /**
   * Moves the lease at `path` aside and deletes it, if it is still the one with `token`. The move
   * is atomic, so of several builders removing the same dead lease one succeeds; the others find
   * nothing (ENOENT) or, rarely, move a newer lease, which they put back at once.
   */
  #remove(path: string, token: string | undefined): void {
    const aside = `${path}.dead-${this.#host}-${process.pid}-${++this.#counter}`;
    try {
      renameSync(path, aside);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw e;
    }
    const moved = readHolder(aside);
    const same = token === undefined ? moved === 'unreadable' : moved !== 'gone' && moved !== 'unreadable' && moved.token === token;
    if (!same) {
      try {
        renameSync(aside, path);
        return;
      } catch {
        // A third builder took the path meanwhile: the lease we moved is lost to its holder,
        // which notices on its next heartbeat; the work itself is content-addressed, so a
        // duplicate run stores the same result.
      }
    }
    rmSync(aside, {recursive: true, force: true});
  }
}

/** Tokens of the leases this process holds, whichever store they are in. */
const HELD_HERE = new Set<string>();

function readHolder(path: string): Holder | 'gone' | 'unreadable' {
  try {
    return JSON.parse(readFileSync(join(path, 'owner.json'), 'utf8')) as Holder;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' && !statSync(path, {throwIfNoEntry: false})) return 'gone';
    return 'unreadable';
  }
}
