/**
 * Moving a job's outputs from its job directory into the target's staging, and its logs into
 * the target's log: what makes a SLURM run look like a local one to the commit that follows.
 */
import {appendFileSync, closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync} from 'node:fs';
import {dirname, join} from 'node:path';
import type {Failure} from '../../event.js';
import type {OutputDecl} from '../../graph/graph.js';
import {errnoCode} from '../../util/fs.js';
import {mergeShards, shardStaging} from '../shards.js';

/** Moves a file or directory, replacing an empty directory at the destination; copies across filesystems. */
export function moveInto(src: string, dest: string): void {
  mkdirSync(dirname(dest), {recursive: true});
  const there = statSync(dest, {throwIfNoEntry: false});
  if (there?.isDirectory()) rmSync(dest, {recursive: true, force: true});
  try {
    renameSync(src, dest);
  } catch (e) {
    if (errnoCode(e) !== 'EXDEV') throw e;
    cpSync(src, dest, {recursive: true});
    rmSync(src, {recursive: true, force: true});
  }
}

/**
 * Leaves the outputs in `staging` exactly as a local run would: each shard's files under
 * `staging/.shards/<i>/`, merged in shard order by `mergeShards`; or the plain outputs in place.
 * What a job did not write stays missing, for the caller's usual missing-output check.
 */
export function collectOutputs(jobStaging: string, staging: string, outputs: readonly OutputDecl[], shards: number): Failure | undefined {
  if (shards > 1) {
    for (let i = 0; i < shards; i++) {
      for (const o of outputs) {
        const src = join(shardStaging(jobStaging, i), o.path);
        if (existsSync(src)) moveInto(src, join(shardStaging(staging, i), o.path));
      }
    }
    const missing = mergeShards(staging, outputs.map((o) => o.path), shards);
    return missing ? {kind: 'missing-output', path: missing} : undefined;
  }
  for (const o of outputs) {
    const src = join(jobStaging, o.path);
    if (existsSync(src)) moveInto(src, join(staging, o.path));
  }
  return undefined;
}

/** The most of one job log copied into the target's log; a model server can log gigabytes. */
const LOG_COPY_LIMIT = 1 << 20;

/**
 * Appends the job logs whose names start with one of `prefixes` (job ids, "server") to the
 * target's log, each under a header line, so `.stage/logs/<target>.log` tells the whole story.
 */
export function appendJobLogs(logDir: string, prefixes: readonly string[], targetLog: string): void {
  let names: string[];
  try {
    names = readdirSync(logDir).sort(byJobThenTask);
  } catch {
    return;
  }
  for (const name of names) {
    if (!prefixes.some((p) => name.startsWith(`${p}.`) || name.startsWith(`${p}_`))) continue;
    const path = join(logDir, name);
    const size = statSync(path, {throwIfNoEntry: false})?.size ?? 0;
    const skip = Math.max(0, size - LOG_COPY_LIMIT);
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(size - skip);
      const n = readSync(fd, buf, 0, buf.length, skip);
      appendFileSync(targetLog, `==> ${path}${skip > 0 ? ` (last ${LOG_COPY_LIMIT} bytes)` : ''} <==\n`);
      appendFileSync(targetLog, buf.subarray(0, n));
      if (n > 0 && buf[n - 1] !== 0x0a) appendFileSync(targetLog, '\n');
    } finally {
      closeSync(fd);
    }
  }
}

/** "12_3.out" before "12_10.out" before "13.out": numeric parts compared as numbers. */
function byJobThenTask(a: string, b: string): number {
  return a.localeCompare(b, 'en', {numeric: true});
}
