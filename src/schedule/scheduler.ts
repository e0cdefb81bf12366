import type {BuildCounts, Event, Failure} from '../event.js';
import type {ActionKey, ContentHash} from '../ids.js';
import type {Node} from '../graph/graph.js';
import type {LlmRuntime} from '../llm/runtime.js';
import {MaxHeap} from '../util/heap.js';
import {messageOf} from '../util/result.js';
import {materialize, verifyEntry} from './commit.js';
import {runTarget} from './run-target.js';
import type {BuildContext} from './context.js';
import {decide, type Decision} from './decide.js';
import {criticalPath} from './priority.js';

export interface ScheduleOptions {
  readonly jobs: number;
  readonly keepGoing: boolean;
  readonly signal: AbortSignal;
  readonly emit: (e: Event) => void;
  /** The model-call runtime, created on first use by an API target. */
  readonly llm: () => LlmRuntime;
  /** Targets named on the command line: a reused result of theirs shows its report lines again. */
  readonly requested?: ReadonlySet<number>;
}

type Work = {node: Node; decision: Extract<Decision, {kind: 'restore' | 'run'}>};

/**
 * Drives one build over the selected targets. Targets are decided in dependency order as soon as
 * their dependencies are resolved; fresh ones complete on the spot (a no-op build never leaves
 * this synchronous path), the rest queue by critical path and start while `-j` and their pools
 * have room. On failure no new work starts (unless --keep-going); on abort, running rules are
 * stopped and nothing partial is stored.
 */
export async function runBuild(ctx: BuildContext, selected: readonly number[], opts: ScheduleOptions): Promise<BuildCounts> {
  const {graph} = ctx;
  const counts: BuildCounts = {fresh: 0, restored: 0, ran: 0, failed: 0, skipped: 0};
  const inClosure = new Uint8Array(graph.nodes.length);
  for (const i of selected) inClosure[i] = 1;
  const pending = new Int32Array(graph.nodes.length);
  const digests = new Map<number, ContentHash>();
  const broken = new Set<number>();
  const priority = criticalPath(ctx, selected);
  const worklist: number[] = [];
  for (const i of selected) {
    pending[i] = graph.nodes[i]!.deps.length;
    if (pending[i] === 0) worklist.push(i);
  }
  const ready = new MaxHeap<Work>();
  const poolUse = new Map<string, number>();
  const running = new Map<number, Promise<void>>();
  let stopping = false;
  const stop = (): void => {
    stopping = true;
  };
  opts.signal.addEventListener('abort', stop, {once: true});

  const complete = (i: number, digest: ContentHash | undefined): void => {
    if (digest === undefined) broken.add(i);
    else digests.set(i, digest);
    for (const d of graph.nodes[i]!.dependents) {
      if (inClosure[d] && --pending[d]! === 0) worklist.push(d);
    }
  };
  const fail = (node: Node, failure: Failure): void => {
    counts.failed++;
    opts.emit({type: 'target-failed', target: node.id, failure});
    if (!opts.keepGoing) stopping = true;
    complete(node.index, undefined);
  };

  const settle = (): void => {
    while (worklist.length > 0) {
      const i = worklist.pop()!;
      const node = graph.nodes[i]!;
      const brokenDep = node.deps.find((d) => broken.has(d));
      if (brokenDep !== undefined || stopping) {
        counts.skipped++;
        const because = brokenDep !== undefined ? `dependency ${graph.nodes[brokenDep]!.id} did not build` : 'the build is stopping';
        opts.emit({type: 'target-skipped', target: node.id, because});
        complete(i, undefined);
        continue;
      }
      const decision = decide(ctx, node, (d) => digests.get(d)!, (message) => opts.emit({type: 'cache-info', message, target: node.id}));
      switch (decision.kind) {
        case 'fresh':
          counts.fresh++;
          opts.emit({type: 'target-fresh', target: node.id});
          if (opts.requested?.has(i)) replayReports(ctx, node, decision.key, opts);
          complete(i, decision.digest);
          break;
        case 'missing-input':
          fail(node, {kind: 'missing-input', path: decision.path});
          break;
        case 'restore':
        case 'run':
          ready.push({node, decision}, priority[i] ?? 0);
          break;
      }
    }
  };

  const fits = (node: Node): boolean => {
    for (const [p, w] of node.resources) if ((poolUse.get(p) ?? 0) + w > graph.pools.get(p)!) return false;
    return true;
  };
  const take = (node: Node, sign: 1 | -1): void => {
    for (const [p, w] of node.resources) poolUse.set(p, (poolUse.get(p) ?? 0) + sign * w);
  };

  const start = (): void => {
    const waiting: Work[] = [];
    while (!stopping && running.size < opts.jobs && ready.size > 0) {
      const work = ready.pop()!;
      if (!fits(work.node)) {
        waiting.push(work);
        continue;
      }
      take(work.node, 1);
      const i = work.node.index;
      running.set(i, execute(ctx, work, opts, counts).then((digest) => {
        take(work.node, -1);
        running.delete(i);
        if (digest === undefined && !opts.signal.aborted) {
          if (!opts.keepGoing) stopping = true;
        }
        complete(i, digest);
      }));
    }
    for (const w of waiting) ready.push(w, priority[w.node.index] ?? 0);
  };

  try {
    for (;;) {
      settle();
      start();
      if (running.size === 0) {
        if (worklist.length > 0) continue;
        break;
      }
      await Promise.race(running.values());
    }
    // Whatever is still queued was never started: say so, and skip its dependents too.
    while (ready.size > 0) {
      const w = ready.pop()!;
      counts.skipped++;
      opts.emit({type: 'target-skipped', target: w.node.id, because: opts.signal.aborted ? 'the build was interrupted' : 'the build stopped after a failure'});
      complete(w.node.index, undefined);
      settle();
    }
  } finally {
    opts.signal.removeEventListener('abort', stop);
  }
  return counts;
}

/** Restores or runs one target; returns its output digest, or undefined if it did not build. */
async function execute(ctx: BuildContext, work: Work, opts: ScheduleOptions, counts: BuildCounts): Promise<ContentHash | undefined> {
  const {node, decision} = work;
  const emitInfo = (message: string): void => opts.emit({type: 'cache-info', message, target: node.id});
  try {
    if (decision.kind === 'restore') {
      const bad = verifyEntry(ctx, decision.entry);
      if (!bad) {
        materialize(ctx, node, decision.entry);
        counts.restored++;
        opts.emit({type: 'target-restored', target: node.id, key: decision.key});
        for (const text of opts.requested?.has(node.index) ? decision.entry.reports ?? [] : []) opts.emit({type: 'target-report', target: node.id, text});
        return decision.entry.digest;
      }
      emitInfo(`stored output ${bad.path} of ${node.id} is ${bad.problem}; it was removed and the target is rebuilt`);
      return await runTarget(ctx, node, {kind: 'run', key: decision.key, components: decision.components, inputs: decision.inputs, reasons: [`stored output ${bad.path} was ${bad.problem}`]}, opts, counts);
    }
    return await runTarget(ctx, node, decision, opts, counts);
  } catch (e) {
    counts.failed++;
    opts.emit({type: 'target-failed', target: node.id, failure: {kind: 'exception', message: messageOf(e), stack: e instanceof Error ? e.stack ?? '' : '', log: ''}});
    return undefined;
  }
}

/** Shows again what a requested target reported when it was built (its win rates, say). */
function replayReports(ctx: BuildContext, node: Node, key: ActionKey, opts: ScheduleOptions): void {
  const found = ctx.store.readAction(key);
  if (found.kind !== 'hit') return;
  for (const text of found.entry.reports ?? []) opts.emit({type: 'target-report', target: node.id, text});
}
