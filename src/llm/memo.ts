import {closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeSync} from 'node:fs';
import {hostname} from 'node:os';
import {join} from 'node:path';
import {canonicalJson} from '../fingerprint/canonical.js';
import {hashText} from '../fingerprint/hasher.js';
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
 */
export class CallMemo {
  readonly #dir: string;
  #index: Map<string, MemoEntry> | undefined;
  #fd: number | undefined;
  readonly #segment: string;
  /** Lines skipped on load because they were torn or failed their checksum. */
  damaged = 0;

  constructor(storeDir: string) {
    this.#dir = join(storeDir, 'v1', 'memo');
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
      mkdirSync(this.#dir, {recursive: true});
      this.#fd = openSync(join(this.#dir, this.#segment), 'a', 0o644);
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

  #load(): Map<string, MemoEntry> {
    if (this.#index) return this.#index;
    const index = new Map<string, MemoEntry>();
    let files: string[] = [];
    try {
      files = readdirSync(this.#dir).filter((f) => f.endsWith('.ndjson')).sort();
    } catch {
      // No memo yet.
    }
    for (const f of files) {
      const text = readFileSync(join(this.#dir, f), 'utf8');
      for (const line of text.split('\n')) {
        if (line === '') continue;
        const parsed = parseLine(line);
        if (parsed) index.set(parsed.k, parsed.v);
        else this.damaged++;
      }
    }
    this.#index = index;
    return index;
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
