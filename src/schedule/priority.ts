import type {BuildContext} from './context.js';

/**
 * Critical-path priority: a target's own expected duration plus the longest chain of work that
 * waits on it, so the scheduler starts long chains first (ninja's approach). Durations come from
 * the last run; unknown ones count as one second.
 */
export function criticalPath(ctx: BuildContext, selected: readonly number[]): Float64Array {
  const {graph, state} = ctx;
  const inClosure = new Uint8Array(graph.nodes.length);
  for (const i of selected) inClosure[i] = 1;
  const cp = new Float64Array(graph.nodes.length);
  // graph.order lists dependencies first, so walking it backwards visits dependents first.
  for (let k = graph.order.length - 1; k >= 0; k--) {
    const i = graph.order[k]!;
    if (!inClosure[i]) continue;
    const node = graph.nodes[i]!;
    let longest = 0;
    for (const d of node.dependents) if (inClosure[d] && cp[d]! > longest) longest = cp[d]!;
    cp[i] = (state.target(node.id)?.durationMs ?? 1000) + longest;
  }
  return cp;
}
