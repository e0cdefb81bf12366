import {readFileSync, rmSync, statSync} from 'node:fs';
import {basename, join} from 'node:path';
import {hashFile} from '../fingerprint/hasher.js';
import {actionKey, contentHash, type ActionKey} from '../ids.js';
import {memoDir} from '../llm/memo.js';
import {errnoCode, listDir} from '../util/fs.js';
import {describeProducer, entryProblem} from './trust.js';
import type {ActionEntry, Store} from './store.js';

export interface VerifyReport {
  blobs: number;
  actions: number;
  /** Human-readable problems found, each already repaired by removal. */
  problems: string[];
}

/**
 * Re-hashes every blob and checks every action entry (`entryProblem`: shape, digest, key parts,
 * paths). A damaged blob is removed (it would be rebuilt anyway, never served); an entry that is
 * unusable or points at a missing blob is removed too, so the next build re-runs that action
 * instead of failing on it. Each problem names the entry's producer, so a lab can tell whose
 * machine wrote it. What this user may not remove (someone else's file in a directory not
 * writable to them) is reported and left.
 */
export function verifyStore(store: Store): VerifyReport {
  const report: VerifyReport = {blobs: 0, actions: 0, problems: []};
  const remove = (path: string): string => {
    try {
      rmSync(path, {force: true});
      return 'removed';
    } catch (e) {
      return `left in place (${errnoCode(e) ?? String(e)}: not yours to remove; ask its owner or the store's admin)`;
    }
  };
  const good = new Set<string>();
  for (const path of store.blobFiles()) {
    if (path.includes('.tmp-')) continue;
    report.blobs++;
    const name = basename(path);
    let actual: string;
    try {
      actual = hashFile(path);
    } catch (e) {
      report.problems.push(`blob ${name} cannot be read: ${String(e)}`);
      continue;
    }
    if (actual !== contentHash(name)) report.problems.push(`blob ${name} is damaged (its contents hash to ${actual}); ${remove(path)}`);
    else good.add(name);
  }
  for (const path of store.actionFiles()) {
    if (path.includes('.tmp-')) continue;
    report.actions++;
    const key = actionKey(basename(path, '.json'));
    const text = readText(path);
    let entry: unknown;
    try {
      entry = JSON.parse(text ?? '');
    } catch {
      report.problems.push(`action entry ${basename(path)} is unreadable; ${remove(path)}`);
      continue;
    }
    const problem = entryProblem(entry, key);
    if (problem) {
      report.problems.push(`action entry ${basename(path)} (${describeProducer(entry)}) ${problem}; ${remove(path)}`);
      continue;
    }
    const e = entry as ActionEntry;
    const missing = e.files.find(([, h]) => !good.has(h.slice(h.indexOf(':') + 1)));
    if (missing) report.problems.push(`action entry for ${e.target} (${describeProducer(e)}) references a missing or damaged output ${missing[0]}; ${remove(path)} (the target will rebuild)`);
  }
  return report;
}

export interface GcReport {
  before: number;
  after: number;
  evictedActions: number;
  removedBlobs: number;
  keptLive: number;
  /** What the evicted entries cost to make: dollars of model calls and GPU-hours. */
  evictedDollars: number;
  evictedGpuHours: number;
  /** Bytes of the model-call memo, which is never evicted. */
  memoBytes: number;
}

/** Dollars of a GPU-hour and of a CPU-hour, to weigh eviction; rough, but the ratio is what counts. */
const GPU_HOUR_DOLLARS = 2;
const CPU_HOUR_DOLLARS = 0.05;
/** Unreferenced blobs younger than this may belong to a commit in progress on another machine. */
const BLOB_GRACE_MS = 3_600_000;

/** What re-making an entry would cost, in dollars. */
export function recreateCost(entry: ActionEntry): number {
  const c = entry.cost;
  return (c?.dollars ?? 0) + GPU_HOUR_DOLLARS * (c?.gpuHours ?? 0) + CPU_HOUR_DOLLARS * (entry.durationMs / 3_600_000);
}

/**
 * Evicts action entries until the blobs they alone reference are gone and the store fits in
 * `maxBytes`. Order: least recently used first, with an entry's idle time divided by what it
 * would cost to recreate, so a cheap `cat` goes before a $40 batch of API calls of the same age.
 * Entries in `live` (what the current Stagefile's targets use) stay unless `includeLive`. The
 * per-call memo is never evicted: it is small and it is what was paid for. Only this store is
 * collected, never a read-only upstream.
 */
export function collectGarbage(store: Store, maxBytes: number, live: ReadonlySet<ActionKey>, includeLive: boolean, now = Date.now()): GcReport {
  const blobs = new Map<string, {size: number; mtimeMs: number}>();
  for (const path of store.blobFiles()) {
    if (path.includes('.tmp-')) continue;
    const st = statSync(path, {throwIfNoEntry: false});
    if (st) blobs.set(basename(path), {size: st.size, mtimeMs: st.mtimeMs});
  }
  const entries: {path: string; entry: ActionEntry; score: number}[] = [];
  for (const path of store.actionFiles()) {
    if (path.includes('.tmp-')) continue;
    const entry = readEntry(path);
    const st = statSync(path, {throwIfNoEntry: false});
    if (!entry || !st) continue;
    const idleHours = Math.max(0, now - store.lastUsed(entry.key, st.mtimeMs)) / 3_600_000;
    entries.push({path, entry, score: idleHours / (1 + recreateCost(entry))});
  }
  const refs = new Map<string, number>();
  const hexes = (e: ActionEntry): string[] => e.files.map(([, h]) => h.slice(h.indexOf(':') + 1));
  for (const {entry} of entries) for (const h of hexes(entry)) refs.set(h, (refs.get(h) ?? 0) + 1);
  let total = 0;
  for (const b of blobs.values()) total += b.size;
  const report: GcReport = {before: total, after: total, evictedActions: 0, removedBlobs: 0, keptLive: 0, evictedDollars: 0, evictedGpuHours: 0, memoBytes: 0};
  const removeBlob = (hex: string): void => {
    const b = blobs.get(hex);
    if (b === undefined) return;
    rmSync(store.blobPath(contentHash(hex)), {force: true});
    blobs.delete(hex);
    total -= b.size;
    report.removedBlobs++;
  };
  // Blobs no entry references (left by an interrupted commit) go first, once they are old enough
  // not to be part of a commit still in progress.
  for (const [hex, b] of [...blobs]) if (!refs.has(hex) && now - b.mtimeMs > BLOB_GRACE_MS) removeBlob(hex);
  entries.sort((a, b) => b.score - a.score);
  for (const {path, entry} of entries) {
    if (total <= maxBytes) break;
    if (live.has(entry.key) && !includeLive) {
      report.keptLive++;
      continue;
    }
    rmSync(path, {force: true});
    rmSync(store.usedPath(entry.key), {force: true});
    report.evictedActions++;
    report.evictedDollars += entry.cost?.dollars ?? 0;
    report.evictedGpuHours += entry.cost?.gpuHours ?? 0;
    for (const h of hexes(entry)) {
      const left = (refs.get(h) ?? 1) - 1;
      refs.set(h, left);
      if (left === 0) removeBlob(h);
    }
  }
  report.after = total;
  report.memoBytes = dirBytes(memoDir(store.dir));
  removeLeftovers(store, now);
  return report;
}

/** Temp files and lease debris of processes that died mid-write, once clearly abandoned. */
function removeLeftovers(store: Store, now: number): void {
  const old = (path: string, ms: number): boolean => {
    const st = statSync(path, {throwIfNoEntry: false});
    return st !== undefined && now - st.mtimeMs > ms;
  };
  for (const [dir, pattern] of [['tmp', /\.tmp-/], ['leases', /\.(new|dead)-/]] as const) {
    const abs = join(store.dir, 'v1', dir);
    for (const name of listDir(abs)) {
      const p = join(abs, name);
      if (pattern.test(name) && old(p, Math.max(BLOB_GRACE_MS, store.leases.timings.staleMs))) rmSync(p, {recursive: true, force: true});
    }
  }
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of listDir(dir)) n += statSync(join(dir, f), {throwIfNoEntry: false})?.size ?? 0;
  return n;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Parses `500M`, `20G`, `1.5T` or a plain byte count. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = {'': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4}[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * unit);
}

function readEntry(path: string): ActionEntry | undefined {
  try {
    const e = JSON.parse(readFileSync(path, 'utf8')) as ActionEntry;
    return e.version === 1 && Array.isArray(e.files) ? e : undefined;
  } catch {
    return undefined;
  }
}
