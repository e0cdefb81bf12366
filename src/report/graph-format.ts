import type {Graph} from '../graph/graph.js';

/** The selected part of the graph as Graphviz dot or a Mermaid flowchart (edges point dep → user). */
export function formatGraph(graph: Graph, selected: readonly number[], format: 'dot' | 'mermaid'): string {
  const keep = new Set(selected);
  const id = (i: number): string => `t${i}`;
  const label = (i: number): string => graph.nodes[i]!.id.replace(/"/g, '\\"');
  const lines: string[] = [];
  if (format === 'dot') {
    lines.push('digraph stage {', '  rankdir=LR;', '  node [shape=box];');
    for (const i of selected) lines.push(`  ${id(i)} [label="${label(i)}"];`);
    for (const i of selected) for (const d of graph.nodes[i]!.deps) if (keep.has(d)) lines.push(`  ${id(d)} -> ${id(i)};`);
    lines.push('}');
  } else {
    lines.push('flowchart LR');
    for (const i of selected) lines.push(`  ${id(i)}["${label(i)}"]`);
    for (const i of selected) for (const d of graph.nodes[i]!.deps) if (keep.has(d)) lines.push(`  ${id(d)} --> ${id(i)}`);
  }
  return `${lines.join('\n')}\n`;
}
