import type {BuildCounts, Event, Failure} from '../event.js';
import {hexOf, type ActionKey, type ContentHash} from '../ids.js';
import type {ActionEntry} from '../store/store.js';
import {unreachable} from '../util/unreachable.js';
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
  try {
    if (decision.kind === 'run') return await runOnce(ctx, node, decision, opts, counts);
    const restored = restore(ctx, node, decision.entry, opts, counts);
    if (typeof restored === 'string') return restored;
    return await runOnce(ctx, node, {kind: 'run', key: decision.key, components: decision.components, inputs: decision.inputs, reasons: [`stored output ${restored.path} was ${restored.problem}`]}, opts, counts);
  } catch (e) {
    counts.failed++;
    opts.emit({type: 'target-failed', target: node.id, failure: {kind: 'exception', message: messageOf(e), stack: e instanceof Error ? e.stack ?? '' : '', log: ''}});
    return undefined;
  }
}

/**
 * Runs a target under a lease on its key, so that of all the builders sharing the store exactly
 * one produces it; the others wait and restore the stored result. The store is read again once
 * the lease is ours: the result may have been stored between this build's decision and now.
 */
async function runOnce(ctx: BuildContext, node: Node, decision: Extract<Decision, {kind: 'run'}>, opts: ScheduleOptions, counts: BuildCounts): Promise<ContentHash | undefined> {
  const outputs = decision.components.outputs;
  const stored = (): ActionEntry | undefined => {
    const r = ctx.store.readAction(decision.key, outputs);
    return r.kind === 'hit' ? r.entry : undefined;
  };
  const got = await ctx.store.leases.acquire(hexOf(decision.key), node.id, opts.signal,
    (h) => opts.emit({type: 'target-waiting', target: node.id, holder: h ? `${h.user}@${h.host} (pid ${h.pid})` : 'another builder', what: 'action'}),
    stored);
  switch (got.kind) {
    case 'aborted':
      counts.skipped++;
      opts.emit({type: 'target-skipped', target: node.id, because: 'the build was interrupted'});
      return undefined;
    case 'done': {
      const restored = restore(ctx, node, got.value, opts, counts);
      if (typeof restored === 'string') return restored;
      return runOnce(ctx, node, {...decision, reasons: [`the stored output ${restored.path} was ${restored.problem}`]}, opts, counts);
    }
    case 'acquired':
      try {
        const entry = stored();
        const restored = entry ? restore(ctx, node, entry, opts, counts) : undefined;
        if (typeof restored === 'string') return restored;
        return await runTarget(ctx, node, decision, opts, counts);
      } finally {
        if (got.lease.lost) opts.emit({type: 'cache-info', target: node.id, message: 'another builder took over this target\'s lease while it ran (its heartbeat was late); both store the same result, so nothing is wrong, but the work was done twice'});
        got.lease.release();
      }
    default:
      return unreachable(got);
  }
}

/** Verifies and materializes a stored result; returns its digest, or which output was damaged. */
function restore(ctx: BuildContext, node: Node, entry: ActionEntry, opts: ScheduleOptions, counts: BuildCounts): ContentHash | {path: string; problem: string} {
  const bad = verifyEntry(ctx, entry);
  if (bad) {
    opts.emit({type: 'cache-info', message: `stored output ${bad.path} of ${node.id} is ${bad.problem}; it was removed and the target is rebuilt`, target: node.id});
    return bad;
  }
  materialize(ctx, node, entry);
  counts.restored++;
  opts.emit({type: 'target-restored', target: node.id, key: entry.key});
  for (const text of opts.requested?.has(node.index) ? entry.reports ?? [] : []) opts.emit({type: 'target-report', target: node.id, text});
  return entry.digest;
}

/** Shows again what a requested target reported when it was built (its win rates, say). */
function replayReports(ctx: BuildContext, node: Node, key: ActionKey, opts: ScheduleOptions): void {
  const found = ctx.store.readAction(key);
  if (found.kind !== 'hit') return;
  for (const text of found.entry.reports ?? []) opts.emit({type: 'target-report', target: node.id, text});
}
