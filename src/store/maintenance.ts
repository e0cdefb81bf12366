import {readFileSync, rmSync, statSync} from 'node:fs';
import {basename} from 'node:path';
import {hashFile} from '../fingerprint/hasher.js';
import {contentHash, type ActionKey} from '../ids.js';
import type {ActionEntry, Store} from './store.js';

export interface VerifyReport {
  blobs: number;
  actions: number;
  /** Human-readable problems found, each already repaired by removal. */
  problems: string[];
}

/**
 * Re-hashes every blob and checks every action entry. A damaged blob is removed (it would be
 * rebuilt anyway, never served); an entry that is unreadable or points at a missing blob is
 * removed too, so the next build re-runs that action instead of failing on it.
 */
export function verifyStore(store: Store): VerifyReport {
  const report: VerifyReport = {blobs: 0, actions: 0, problems: []};
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
    if (actual !== contentHash(name)) {
      rmSync(path, {force: true});
      report.problems.push(`blob ${name} is damaged (its contents hash to ${actual}); removed`);
    } else good.add(name);
  }
  for (const path of store.actionFiles()) {
    if (path.includes('.tmp-')) continue;
    report.actions++;
    const entry = readEntry(path);
    if (!entry) {
      rmSync(path, {force: true});
      report.problems.push(`action entry ${basename(path)} is unreadable; removed`);
      continue;
    }
    const missing = entry.files.find(([, h]) => !good.has(h.slice(h.indexOf(':') + 1)));
    if (missing) {
      rmSync(path, {force: true});
      report.problems.push(`action entry for ${entry.target} references a missing or damaged output ${missing[0]}; removed (the target will rebuild)`);
    }
  }
  return report;
}

export interface GcReport {
  before: number;
  after: number;
  evictedActions: number;
  removedBlobs: number;
  keptLive: number;
}

/**
 * Evicts action entries, least recently used first, until the blobs they alone reference are
 * gone and the store fits in `maxBytes`. An entry's age is divided by what it would cost to
 * recreate (dollars, GPU-hours), so a cheap `cat` goes before a $40 batch of API calls of the
 * same age. Entries in `live` (what the workspace's targets use now) stay unless `includeLive`.
 */
export function collectGarbage(store: Store, maxBytes: number, live: ReadonlySet<ActionKey>, includeLive: boolean, now = Date.now()): GcReport {
  const blobs = new Map<string, number>();
  for (const path of store.blobFiles()) blobs.set(basename(path), statSync(path).size);
  const entries: {path: string; entry: ActionEntry; score: number}[] = [];
  for (const path of store.actionFiles()) {
    const entry = readEntry(path);
    if (!entry) continue;
    const ageHours = Math.max(0, now - statSync(path).mtimeMs) / 3_600_000;
    const cost = (entry.cost?.dollars ?? 0) + 10 * (entry.cost?.gpuHours ?? 0);
    entries.push({path, entry, score: ageHours / (1 + cost)});
  }
  const refs = new Map<string, number>();
  const hexes = (e: ActionEntry): string[] => e.files.map(([, h]) => h.slice(h.indexOf(':') + 1));
  for (const {entry} of entries) for (const h of hexes(entry)) refs.set(h, (refs.get(h) ?? 0) + 1);
  let total = 0;
  for (const size of blobs.values()) total += size;
  const report: GcReport = {before: total, after: total, evictedActions: 0, removedBlobs: 0, keptLive: 0};
  const removeBlob = (hex: string): void => {
    const size = blobs.get(hex);
    if (size === undefined) return;
    rmSync(store.blobPath(contentHash(hex)), {force: true});
    blobs.delete(hex);
    total -= size;
    report.removedBlobs++;
  };
  // Blobs no entry references (left by an interrupted commit) go first.
  for (const hex of [...blobs.keys()]) if (!refs.has(hex)) removeBlob(hex);
  entries.sort((a, b) => b.score - a.score);
  for (const {path, entry} of entries) {
    if (total <= maxBytes) break;
    if (live.has(entry.key) && !includeLive) {
      report.keptLive++;
      continue;
    }
    rmSync(path, {force: true});
    report.evictedActions++;
    for (const h of hexes(entry)) {
      const left = (refs.get(h) ?? 1) - 1;
      refs.set(h, left);
      if (left === 0) removeBlob(h);
    }
  }
  report.after = total;
  return report;
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
