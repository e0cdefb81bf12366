import {mkdirSync, readdirSync, rmSync, statSync} from 'node:fs';
import {join, relative} from 'node:path';
import type {ActionKey, ContentHash} from '../ids.js';
import {digestOf, type KeyComponents} from '../fingerprint/key.js';
import type {Node} from '../graph/graph.js';
import {producer, type ActionEntry, type CostRecord} from '../store/store.js';
import {STAGE_VERSION} from '../version.js';
import type {BuildContext} from './context.js';

/** Output file paths a rule wrote into its staging directory, relative to the workspace. */
export function stagedFiles(node: Node, staging: string): {files: string[]} | {missing: string} {
  const files: string[] = [];
  for (const o of node.outputs) {
    const abs = join(staging, o.path);
    const st = statSync(abs, {throwIfNoEntry: false});
    if (!st || (o.dir ? !st.isDirectory() : !st.isFile())) return {missing: o.dir ? `${o.path}/` : o.path};
    if (o.dir) for (const f of walkFiles(abs)) files.push(relative(staging, f));
    else files.push(o.path);
  }
  return {files: files.sort()};
}

function* walkFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, {withFileTypes: true})) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walkFiles(p);
    else if (e.isFile()) yield p;
  }
}

/**
 * Inputs that changed on disk while the rule ran. A result computed from a file that was being
 * edited must not be stored under the key of the file's old contents.
 */
export function driftedInput(ctx: BuildContext, inputs: readonly string[]): string | undefined {
  for (const rel of inputs) {
    const before = ctx.state.statOf(rel);
    const st = statSync(join(ctx.graph.root, rel), {throwIfNoEntry: false});
    if (!before || !st || st.size !== before[0] || st.mtimeMs !== before[1] || st.ino !== before[2]) return rel;
  }
  return undefined;
}

/**
 * Moves a successful run's outputs into the store, writes the action entry, then materializes
 * them in the workspace. The action entry is written only after every blob is in place, so an
 * interrupted commit leaves at worst unreferenced blobs, never an entry that points at nothing.
 */
export function commitRun(ctx: BuildContext, node: Node, key: ActionKey, components: KeyComponents, staging: string, files: readonly string[], durationMs: number, cost: CostRecord | null, reports: readonly string[] = []): ActionEntry {
  const stored = files.map((rel) => {
    const {hash, size} = ctx.store.putFile(join(staging, rel));
    return [rel, hash, size] as const;
  });
  const entry: ActionEntry = {
    version: 1, key, target: node.id, files: stored, digest: digestOf(stored),
    producer: producer(STAGE_VERSION), durationMs, cost, components, ...(reports.length > 0 ? {reports} : {}),
  };
  ctx.store.writeAction(entry);
  materialize(ctx, node, entry);
  return entry;
}

/** Re-hashes every blob of an entry; the first damaged one is reported and the entry dropped. */
export function verifyEntry(ctx: BuildContext, entry: ActionEntry): {path: string; problem: 'missing' | 'corrupt'} | undefined {
  for (const [path, hash] of entry.files) {
    const v = ctx.store.verifyBlob(hash);
    if (v !== 'ok') {
      ctx.store.removeAction(entry.key);
      return {path, problem: v};
    }
  }
  return undefined;
}

/** Puts an entry's outputs in the workspace (read-only) and records them as the target's. */
export function materialize(ctx: BuildContext, node: Node, entry: ActionEntry): void {
  const root = ctx.graph.root;
  for (const o of node.outputs) if (o.dir) rmSync(join(root, o.path), {recursive: true, force: true});
  for (const [rel, hash] of entry.files) {
    const abs = join(root, rel);
    ctx.store.materialize(hash, abs);
    ctx.state.remember(rel, statSync(abs), hash);
  }
  for (const o of node.outputs) if (o.dir) mkdirSync(join(root, o.path), {recursive: true});
  ctx.state.setTarget(node.id, {
    key: entry.key, digest: entry.digest, durationMs: entry.durationMs,
    files: entry.files.map(([p, h]) => [p, h] as const satisfies readonly [string, ContentHash]),
  });
}
