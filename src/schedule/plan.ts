import {hexOf, type ContentHash} from '../ids.js';
import type {BuildContext} from './context.js';
import {decide} from './decide.js';
import {CallMemo} from '../llm/memo.js';
import {estimateApi, type ApiEstimate} from '../llm/estimate.js';
import {gpuEstimate, type GpuEstimate} from '../execute/slurm/resources.js';
import type {Node} from '../graph/graph.js';

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
  /** For API targets that would run: calls, what the memo already has, tokens and dollars. */
  readonly api?: ApiEstimate;
  /** For SLURM targets that would run (or are pending): what each job asks for, and GPU-hours at most. */
  readonly gpu?: GpuEstimate;
}

/**
 * The plan walks the same decisions as a build (`decide`), in the same order, but runs nothing.
 * A restored target's digest is known from the store, so planning continues past it; a target
 * that must run hides its dependents' keys, which are reported as pending with the cause.
 */
export async function plan(ctx: BuildContext, selected: readonly number[], onCacheInfo: (m: string) => void = () => {}): Promise<PlanEntry[]> {
  const {graph} = ctx;
  const inClosure = new Uint8Array(graph.nodes.length);
  for (const i of selected) inClosure[i] = 1;
  const digests = new Map<number, ContentHash>();
  const blockedBy = new Map<number, string>();
  const entries: PlanEntry[] = [];
  // Dependencies whose outputs are in the workspace now: an API target reading only those can
  // render its calls exactly; otherwise its own estimate stands in.
  const present = new Set<number>();
  let memo: CallMemo | undefined;
  const api = async (i: number, inputs: readonly string[] | undefined): Promise<ApiEstimate | undefined> => {
    const node = graph.nodes[i]!;
    if (node.run.kind !== 'llm') return undefined;
    memo ??= new CallMemo(ctx.store.dirs);
    const ready = inputs !== undefined && node.deps.every((d) => present.has(d));
    return estimateApi(ctx, node, node.run, memo, ready ? inputs : undefined);
  };
  for (const i of graph.order) {
    if (!inClosure[i]) continue;
    const node = graph.nodes[i]!;
    const waiting = node.deps.filter((d) => !digests.has(d)).map((d) => graph.nodes[d]!.id);
    if (waiting.length > 0) {
      const failed = node.deps.map((d) => blockedBy.get(d)).find((r) => r !== undefined);
      if (failed) {
        // It cannot build until the cause is fixed; what its calls would cost is still worth showing.
        blockedBy.set(i, failed);
        entries.push({target: node.id, action: 'error', reasons: [failed], ...withApi(await api(i, undefined)), ...withGpu(node)});
      } else entries.push({target: node.id, action: 'pending', reasons: waiting.map((w) => `dependency ${w} will run first`), ...withApi(await api(i, undefined)), ...withGpu(node)});
      continue;
    }
    const d = decide(ctx, node, (x) => digests.get(x)!, onCacheInfo);
    switch (d.kind) {
      case 'fresh':
        present.add(i);
        digests.set(i, d.digest);
        entries.push({target: node.id, action: 'fresh', key: d.key, reasons: []});
        break;
      case 'restore':
        digests.set(i, d.entry.digest);
        entries.push({target: node.id, action: 'restore', key: d.key, reasons: ['outputs are in the store']});
        break;
      case 'run': {
        // Someone sharing the store may be producing it right now: a build would wait for that.
        const h = ctx.store.leases.holder(hexOf(d.key));
        const busy = h ? [`${h.user}@${h.host} (pid ${h.pid}) is building it now; a build waits and restores their result`] : [];
        entries.push({target: node.id, action: 'run', key: d.key, reasons: [...busy, ...d.reasons], ...withApi(await api(i, d.inputs)), ...withGpu(node)});
        break;
      }
      case 'missing-input':
        blockedBy.set(i, `input ${d.path} of ${node.id} does not exist`);
        entries.push({target: node.id, action: 'error', reasons: [`input ${d.path} does not exist: provide it before building`], ...withApi(await api(i, undefined)), ...withGpu(node)});
        break;
    }
  }
  return entries;
}

function withApi(api: ApiEstimate | undefined): {api?: ApiEstimate} {
  return api ? {api} : {};
}

function withGpu(node: Node): {gpu?: GpuEstimate} {
  const spec = node.decl.spec;
  return spec.executor === 'slurm' ? {gpu: gpuEstimate(spec.slurm, spec.shards ?? 1)} : {};
}
