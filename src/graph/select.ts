import type {Diagnostic} from '../util/diagnostic.js';
import {err, ok, type Result} from '../util/result.js';
import {closest} from '../util/suggest.js';
import type {Graph} from './graph.js';

/**
 * The requested targets and everything they depend on, in dependency order. A request may be a
 * name or a pattern with `*` (`gold/*`); no request means every target.
 */
export function selectClosure(graph: Graph, requests: readonly string[]): Result<number[], Diagnostic[]> {
  const matched = matchTargets(graph, requests);
  if (!matched.ok) return matched;
  const want = new Uint8Array(graph.nodes.length);
  const stack = matched.value;
  while (stack.length > 0) {
    const i = stack.pop()!;
    if (want[i]) continue;
    want[i] = 1;
    for (const d of graph.nodes[i]!.deps) if (!want[d]) stack.push(d);
  }
  return ok(graph.order.filter((i) => want[i]));
}

/** The targets a list of names and patterns refers to, without their dependencies. */
export function matchTargets(graph: Graph, requests: readonly string[]): Result<number[], Diagnostic[]> {
  const diags: Diagnostic[] = [];
  const stack: number[] = [];
  if (requests.length === 0) for (const n of graph.nodes) stack.push(n.index);
  for (const r of requests) {
    const exact = graph.byName.get(r);
    if (exact) {
      stack.push(exact.index);
      continue;
    }
    if (r.includes('*')) {
      const re = new RegExp(`^${r.split('*').map(escape).join('[^]*')}$`);
      const hits = graph.nodes.filter((n) => re.test(n.id));
      if (hits.length > 0) {
        stack.push(...hits.map((n) => n.index));
        continue;
      }
    }
    const near = closest(r, graph.byName.keys());
    diags.push({severity: 'error', message: `no target is named "${r}"`, hint: near ? `did you mean "${near}"?` : 'run `stage status` to list the targets'});
  }
  if (diags.length > 0) return err(diags);
  return ok(stack);
}

function escape(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
