/** Either a topological order or one cycle, as the list of node indices along it. */
export type CycleCheck = {kind: 'order'; order: number[]} | {kind: 'cycle'; path: number[]};

/**
 * Iterative depth-first search (a Stagefile can chain thousands of targets, deeper than the call
 * stack allows). Returns the whole cycle so the diagnostic can show every edge.
 */
export function findCycle(nodes: readonly {readonly deps: readonly number[]}[]): CycleCheck {
  const WHITE = 0, GREY = 1, BLACK = 2;
  const color = new Uint8Array(nodes.length);
  const order: number[] = [];
  const stack: number[] = [];
  const edge: number[] = [];
  for (let start = 0; start < nodes.length; start++) {
    if (color[start] !== WHITE) continue;
    stack.push(start);
    edge.push(0);
    color[start] = GREY;
    while (stack.length > 0) {
      const top = stack.length - 1;
      const n = stack[top]!;
      const deps = nodes[n]!.deps;
      const i = edge[top]!;
      if (i < deps.length) {
        edge[top] = i + 1;
        const d = deps[i]!;
        if (color[d] === GREY) return {kind: 'cycle', path: stack.slice(stack.indexOf(d))};
        if (color[d] === WHITE) {
          color[d] = GREY;
          stack.push(d);
          edge.push(0);
        }
      } else {
        color[n] = BLACK;
        order.push(n);
        stack.pop();
        edge.pop();
      }
    }
  }
  return {kind: 'order', order};
}
