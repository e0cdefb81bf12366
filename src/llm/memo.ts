import {closeSync, fstatSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync} from 'node:fs';
import {listDir, writeFileAtomic} from '../util/fs.js';
import {processAlive} from '../util/process.js';
import {hostname} from 'node:os';
import {join} from 'node:path';
import {canonicalJson} from '../fingerprint/canonical.js';
import {hashText} from '../fingerprint/hasher.js';
import {mkdirShared} from '../store/shared-dir.js';
import {listOf} from '../util/list.js';
import type {CallKey} from './request.js';
import type {ChatResponse} from './types.js';

/** One memoized answer: what the model returned and what it cost. */
export interface MemoEntry {
  readonly response: ChatResponse;
  readonly dollars: number;
  readonly time: string;
  /** `batch` when it came from the Batch API (half price), else `realtime`. */
  readonly via: 'realtime' | 'batch';
}

/**
 * The per-call memo: every successful model answer, keyed by its rendered request, appended to a
 * journal the moment it returns. Each process appends to its own segment file, so concurrent
 * writers never interleave; each line carries a checksum, so a line torn by a crash is skipped on
 * read and the call is simply made again. Failures, refusals and sentinels never get here.
 *
 *   <store>/v1/memo/<host>-<pid>-<rand>.ndjson    {"k": key, "s": checksum, "v": entry}
 *
 * Several stores may be read (a workspace's own, then a read-only lab cache); only the first is
 * written. Other builders' segments grow while this one runs: `refresh` reads what they appended
 * since, so a call someone else just paid for is not paid again.
 */
export class CallMemo {
  readonly #dirs: readonly string[];
  #index: Map<string, MemoEntry> | undefined;
  /** Bytes of each segment already read, up to its last whole line. */
  readonly #read = new Map<string, number>();
  #fd: number | undefined;
  readonly #segment: string;
  /** Lines skipped on load because they were torn or failed their checksum. */
  damaged = 0;

  constructor(storeDirs: string | readonly string[]) {
    const dirs = listOf(storeDirs);
    this.#dirs = dirs.map(memoDir);
    this.#segment = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.ndjson`;
  }

  get(key: CallKey): MemoEntry | undefined {
    return this.#load().get(key);
  }

  has(key: CallKey): boolean {
    return this.#load().has(key);
  }

  /** Appends an answer. The write reaches the kernel before this returns: a SIGKILL loses nothing. */
  put(key: CallKey, entry: MemoEntry): void {
    const index = this.#load();
    if (this.#fd === undefined) {
      mkdirShared(this.#dirs[0]!);
      this.#fd = openSync(join(this.#dirs[0]!, this.#segment), 'a', 0o644);
      // Our own appends are in the index already; never read them back as news.
      this.#read.set(join(this.#dirs[0]!, this.#segment), Number.MAX_SAFE_INTEGER);
    }
    const line = `${JSON.stringify({k: key, s: checksum(entry), v: entry})}\n`;
    writeSync(this.#fd, line);
    index.set(key, entry);
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  get size(): number {
    return this.#load().size;
  }

  /** Every memoized answer, for totals. */
  entries(): IterableIterator<MemoEntry> {
    return this.#load().values();
  }

  /** Reads whatever other builders appended since the last look. */
  refresh(): void {
    if (this.#index) this.#scan(this.#index);
  }

  #load(): Map<string, MemoEntry> {
    if (this.#index) return this.#index;
    const index = new Map<string, MemoEntry>();
    this.#scan(index);
    this.#index = index;
    return index;
  }

  /** Reads the new whole lines of every segment; a store's own answers win over an upstream's. */
  #scan(index: Map<string, MemoEntry>): void {
    for (const dir of [...this.#dirs].reverse()) {
      for (const f of memoSegments(dir)) this.#readNew(join(dir, f), index);
    }
  }

  #readNew(path: string, index: Map<string, MemoEntry>): void {
    const from = this.#read.get(path) ?? 0;
    if ((statSync(path, {throwIfNoEntry: false})?.size ?? 0) <= from) return;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return;
    }
    try {
      const size = fstatSync(fd).size;
      if (size <= from) return;
      const buf = Buffer.alloc(size - from);
      let got = 0;
      while (got < buf.length) {
        const n = readSync(fd, buf, got, buf.length - got, from + got);
        if (n === 0) break;
        got += n;
      }
      // A line still being written (no newline yet) is left for the next look.
      const end = buf.lastIndexOf(0x0a, got - 1) + 1;
      for (const line of buf.subarray(0, end).toString('utf8').split('\n')) {
        if (line === '') continue;
        const parsed = parseLine(line);
        if (parsed) index.set(parsed.k, parsed.v);
        else this.damaged++;
      }
      this.#read.set(path, from + end);
    } finally {
      closeSync(fd);
    }
  }
}

function checksum(entry: MemoEntry): string {
  return hashText(canonicalJson(entry));
}

function parseLine(line: string): {k: string; v: MemoEntry} | undefined {
  try {
    const o = JSON.parse(line) as {k?: unknown; s?: unknown; v?: MemoEntry};
    if (typeof o.k !== 'string' || !o.v || o.s !== checksum(o.v)) return undefined;
    return {k: o.k, v: o.v};
  } catch {
    return undefined;
  }
}

/** Where a store keeps its memo segments. */
export function memoDir(storeDir: string): string {
  return join(storeDir, 'v1', 'memo');
}

/** The segment files of a memo directory, in the order they are read. */
export function memoSegments(dir: string): string[] {
  return listDir(dir).filter((f) => f.endsWith('.ndjson')).sort();
}

export interface CompactReport {
  /** Segments merged (their writers have exited), and answers in the segment that replaced them. */
  readonly merged: number;
  readonly answers: number;
}

/** A segment older than this is closed even when its writer ran on another host. */
const CLOSED_AFTER_MS = 24 * 3_600_000;

/**
 * Merges the memo segments no process writes any more into one, so a long-lived lab cache is not
 * thousands of small files to list on every look. A segment is closed when its writer on this
 * host has exited, or it has not grown for a day (a writer on another host). The merged segment
 * is written whole (temp + rename) before the old ones go, so a crash leaves answers twice, never
 * none; damaged lines are dropped, as a load would skip them.
 */
export function compactMemo(storeDir: string, now = Date.now()): CompactReport {
  const dir = memoDir(storeDir);
  const names = memoSegments(dir);
  const here = hostname();
  const closed = names.filter((name) => {
    const st = statSync(join(dir, name), {throwIfNoEntry: false});
    if (!st) return false;
    const m = /^(.*)-(\d+)-[a-z0-9]+\.ndjson$/.exec(name);
    if (m && m[1] === here && !processAlive(Number(m[2]))) return true;
    return now - st.mtimeMs > CLOSED_AFTER_MS;
  });
  if (closed.length < 2) return {merged: 0, answers: 0};
  const lines = new Map<string, string>();
  for (const name of closed) {
    let text: string;
    try {
      text = readFileSync(join(dir, name), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const parsed = line === '' ? undefined : parseLine(line);
      if (parsed) lines.set(parsed.k, line);
    }
  }
  // Named like a segment of a writer that has exited, so a later compaction merges it too.
  const merged = join(dir, `${here}-0-${Math.random().toString(36).slice(2, 8)}.ndjson`);
  writeFileAtomic(merged, [...lines.values()].map((l) => `${l}\n`).join(''), 0o644);
  for (const name of closed) rmSync(join(dir, name), {force: true});
  return {merged: closed.length, answers: lines.size};
}
