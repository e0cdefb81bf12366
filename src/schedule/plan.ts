import type {ContentHash} from '../ids.js';
import type {BuildContext} from './context.js';
import {decide} from './decide.js';

/** One line of a plan: what a build would do for a target, and why. */
export interface PlanEntry {
  readonly target: string;
  /**
   * fresh: nothing to do · restore: outputs come from the store · run: the rule runs ·
   * pending: depends on a target that runs, so its key is known only after that
   * (it runs unless that output comes out byte-identical) · error: it cannot build.
   */
  readonly action: 'fresh' | 'restore' | 'run' | 'pending' | 'error';
  readonly key?: string;
  readonly reasons: readonly string[];
}

/**
 * The plan walks the same decisions as a build (`decide`), in the same order, but runs nothing.
 * A restored target's digest is known from the store, so planning continues past it; a target
 * that must run hides its dependents' keys, which are reported as pending with the cause.
 */
export function plan(ctx: BuildContext, selected: readonly number[], onCacheInfo: (m: string) => void = () => {}): PlanEntry[] {
  const {graph} = ctx;
  const inClosure = new Uint8Array(graph.nodes.length);
  for (const i of selected) inClosure[i] = 1;
  const digests = new Map<number, ContentHash>();
  const blockedBy = new Map<number, string>();
  const entries: PlanEntry[] = [];
  for (const i of graph.order) {
    if (!inClosure[i]) continue;
    const node = graph.nodes[i]!;
    const waiting = node.deps.filter((d) => !digests.has(d)).map((d) => graph.nodes[d]!.id);
    if (waiting.length > 0) {
      const failed = node.deps.map((d) => blockedBy.get(d)).find((r) => r !== undefined);
      if (failed) {
        blockedBy.set(i, failed);
        entries.push({target: node.id, action: 'error', reasons: [failed]});
      } else entries.push({target: node.id, action: 'pending', reasons: waiting.map((w) => `dependency ${w} will run first`)});
      continue;
    }
    const d = decide(ctx, node, (x) => digests.get(x)!, onCacheInfo);
    switch (d.kind) {
      case 'fresh':
        digests.set(i, d.digest);
        entries.push({target: node.id, action: 'fresh', key: d.key, reasons: []});
        break;
      case 'restore':
        digests.set(i, d.entry.digest);
        entries.push({target: node.id, action: 'restore', key: d.key, reasons: ['outputs are in the store']});
        break;
      case 'run':
        entries.push({target: node.id, action: 'run', key: d.key, reasons: d.reasons});
        break;
      case 'missing-input':
        blockedBy.set(i, `input ${d.path} of ${node.id} does not exist`);
        entries.push({target: node.id, action: 'error', reasons: [`input ${d.path} does not exist`]});
        break;
    }
  }
  return entries;
}
