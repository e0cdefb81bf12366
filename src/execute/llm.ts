import {setMaxListeners} from 'node:events';
import type {LlmRule} from '../config/define.js';
import type {Event, Failure} from '../event.js';
import {runBatches} from '../llm/batch/executor.js';
import {FatalCallError, type CallTally} from '../llm/caller.js';
import type {LlmRuntime} from '../llm/runtime.js';
import type {CallResult, CallSpec} from '../llm/types.js';
import type {CostRecord} from '../store/store.js';
import {messageOf} from '../util/result.js';
import {contextFor, type LocalJob} from './local.js';

const PROGRESS_EVERY_MS = 500;
/** Items worked on at once; the endpoint's own concurrency bounds what is really in flight. */
const WORKERS = 256;

/** The runtime, with the Batch executor's settings when the build provides them. */

export interface LlmOutcome {
  readonly failure: Failure | undefined;
  readonly cost: CostRecord;
}

/**
 * Runs an LLM rule: lists its calls, answers each from the memo or the endpoint, then assembles
 * the output. Every answer is journaled as it arrives, so whatever stops this (a kill, a budget,
 * a fatal error) loses at most the calls in flight. A `batchable` rule (or every rule, under
 * `--batch`) first sends its unanswered calls through the Batch API; what a batch leaves
 * unanswered is then called in real time.
 */
export async function runLlm(job: Omit<LocalJob, 'run'> & {readonly key: string}, rule: LlmRule<unknown>, rt: LlmRuntime, emit: (e: Event) => void): Promise<LlmOutcome> {
  const ctx = contextFor(job);
  const tally: CallTally = {done: 0, memoized: 0, paid: 0, failed: 0, inFlight: 0, dollars: 0};
  const cost = (): CostRecord => ({dollars: tally.dollars, calls: tally.paid, memoized: tally.memoized});
  let specs: readonly CallSpec[];
  try {
    specs = await rule.requests(ctx);
    const seen = new Set<string>();
    for (const s of specs) {
      if (seen.has(s.id)) throw new Error(`rule ${rule.id} lists item id "${s.id}" twice; item ids must be unique within a target`);
      seen.add(s.id);
    }
  } catch (e) {
    return {failure: {kind: 'exception', message: `listing the calls of ${rule.id}: ${messageOf(e)}`, stack: e instanceof Error ? e.stack ?? '' : '', log: job.log}, cost: cost()};
  }
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const onAbort = (): void => stop.abort();
  job.signal.addEventListener('abort', onAbort, {once: true});
  const results: CallResult[] = new Array<CallResult>(specs.length);
  const started = performance.now();
  let lastReport = 0;
  const report = (force = false): void => {
    const now = performance.now();
    if (!force && now - lastReport < PROGRESS_EVERY_MS) return;
    lastReport = now;
    const paidDone = tally.paid + tally.failed;
    const left = specs.length - tally.done;
    const etaMs = paidDone > 0 && left > 0 ? Math.round(((now - started) / paidDone) * left) : left === 0 ? 0 : null;
    emit({type: 'llm-progress', target: job.target, done: tally.done, total: specs.length, memoized: tally.memoized, inFlight: tally.inFlight, failed: tally.failed, dollars: tally.dollars, etaMs});
  };
  let fatal: string | undefined;
  let next = 0;
  let todo = specs.map((_, i) => i);
  rt.current = {target: job.target};
  // --- Batch API: answers what it can; the rest (memo hits, fallbacks) goes to the workers.
  if ((rule.batchable === true || rt.batch.force) && specs.length > 0) {
    try {
      todo = await runBatches({target: job.target, actionKey: job.key, specs, results, tally, signal: stop.signal, emit, progress: report},
        {caller: rt.caller, memo: rt.memo, budget: rt.budget, options: rt.batch});
    } catch (e) {
      if (e instanceof FatalCallError) fatal = e.message;
      else if (!stop.signal.aborted) fatal = `Batch API: ${messageOf(e)}`;
      stop.abort();
    }
  }
  // --- Real-time calls.
  const worker = async (): Promise<void> => {
    while (!stop.signal.aborted && next < todo.length) {
      const i = todo[next++]!;
      try {
        results[i] = await rt.caller.call(specs[i]!, tally, stop.signal);
      } catch (e) {
        if (e instanceof FatalCallError) fatal ??= e.message;
        else if (!stop.signal.aborted) fatal ??= `item ${specs[i]!.id}: ${messageOf(e)}`;
        stop.abort();
      }
      report();
    }
  };
  try {
    await Promise.all(Array.from({length: Math.min(WORKERS, todo.length)}, worker));
  } finally {
    job.signal.removeEventListener('abort', onAbort);
    rt.current = undefined;
  }
  report(true);
  if (job.signal.aborted) return {failure: {kind: 'cancelled'}, cost: cost()};
  if (fatal) return {failure: {kind: 'api-fatal', message: fatal}, cost: cost()};
  const failed = results.filter((r): r is Extract<CallResult, {ok: false}> => !r.ok);
  const unanswered = failed.filter((r) => r.reason === 'budget').length;
  if (unanswered > 0) return {failure: {kind: 'budget', limit: rt.budget.limit ?? 0, spent: rt.budget.spent, unanswered}, cost: cost()};
  const allowed = rule.maxFailures ?? 0;
  if (failed.length > allowed) {
    return {failure: {kind: 'items-failed', failed: failed.length, allowed, total: specs.length, examples: failed.slice(0, 5).map((f) => ({id: f.id, reason: f.reason, message: f.message}))}, cost: cost()};
  }
  try {
    await rule.assemble(ctx, results);
  } catch (e) {
    return {failure: {kind: 'exception', message: `assembling ${rule.id}: ${messageOf(e)}`, stack: e instanceof Error ? e.stack ?? '' : '', log: job.log}, cost: cost()};
  }
  return {failure: undefined, cost: cost()};
}
