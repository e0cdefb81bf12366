import {setTimeout as sleep} from 'node:timers/promises';
import type {UserConfig} from '../../config/settings.js';
import type {Event} from '../../event.js';
import type {Budget} from '../budget.js';
import {answer, FatalCallError, keptResponse, worstCaseDollars, type CallTally, type ModelCaller} from '../caller.js';
import {backoffMs, classifyError, type ErrorShape} from '../classify.js';
import type {OpenAIClient} from '../endpoints.js';
import type {CallMemo} from '../memo.js';
import {dollarsFor} from '../pricing.js';
import {renderCall, type CallKey} from '../request.js';
import type {CallResult, CallSpec, ModelDecl} from '../types.js';
import {joinResults, pollDelayMs, requestLine, splitIntoFiles, TERMINAL_STATUSES} from './jsonl.js';
import {downloadFile, findOrphans, pollBatch, submitBatch} from './remote.js';
import {BatchState, type BatchRecord} from './state.js';

/** What a build knows about the Batch API, beyond the real-time runtime. */
export interface BatchOptions {
  /** `stage build --batch`: every API target goes through the Batch API, batchable or not. */
  readonly force: boolean;
  /** Where the per-target state files live (`<store>/v1/batches`). */
  readonly stateDir: string;
  readonly config: UserConfig;
  readonly models: ReadonlyMap<string, ModelDecl>;
}

export interface BatchServices {
  readonly caller: ModelCaller;
  readonly memo: CallMemo;
  readonly budget: Budget;
  readonly options: BatchOptions;
}

/** One LLM target's calls, as `runLlm` hands them over. */
export interface BatchJob {
  readonly target: string;
  /** The target's action key: names its state file, so a restarted build finds its batches. */
  readonly actionKey: string;
  readonly specs: readonly CallSpec[];
  /** Filled in place for every item a batch answers, or fails for good. */
  readonly results: CallResult[];
  readonly tally: CallTally;
  readonly signal: AbortSignal;
  readonly emit: (e: Event) => void;
  /** Reports progress; throttled by the caller. */
  readonly progress: () => void;
}

/** A call not in the memo, with the items (usually one) that ask it. */
interface Pending {
  readonly key: CallKey;
  readonly decl: ModelDecl;
  readonly spec: CallSpec;
  readonly body: Record<string, unknown>;
  readonly indices: number[];
}

/**
 * Answers a target's unmemoized calls through the Batch API: reattaches to the batches a killed
 * build left, submits the rest (one model per file, within the size limits), polls until each
 * batch ends and journals its answers with `via: 'batch'`. Returns the indices of the items still
 * to answer in real time: memo hits, and calls a batch did not answer for a reason a retry may fix.
 */
export async function runBatches(job: BatchJob, s: BatchServices): Promise<number[]> {
  const pending = pendingCalls(job.specs, s);
  const state = BatchState.load(s.options.stateDir, job.actionKey, job.target);
  const active: {record: BatchRecord; reserved: number}[] = [];
  for (const record of state.batches) {
    if (record.customIds.some((id) => pending.has(id))) active.push({record, reserved: 0});
    else state.remove(record.id);
  }
  const covered = new Set(active.flatMap((a) => a.record.customIds));
  for (const a of active) inFlight(job, pending, a.record.customIds, +1);
  const unsent = [...pending.entries()].filter(([key]) => !covered.has(key));
  for (const [role, calls] of groupBy(unsent, ([, p]) => p.spec.role)) {
    const client = await s.caller.clientFor(role);
    const orphans = await retrying('looking for batches of an interrupted build', job.signal, () => findOrphans(client, job.actionKey, new Set(state.batches.map((b) => b.id)), job.signal))
      .catch((e: unknown) => {
        // No Batch API here: there are no orphans, and the submission below falls back to real time.
        if (e instanceof NoBatchApi) return [];
        throw e;
      });
    for (const o of orphans) {
      const record: BatchRecord = {id: o.batchId, inputFileId: o.inputFileId, role, customIds: o.customIds.filter((id) => pending.has(id))};
      if (record.customIds.length === 0) continue;
      state.add(record);
      job.emit({type: 'warning', target: job.target, message: `adopting batch ${o.batchId}, created by a build that stopped before recording it`});
      for (const id of record.customIds) covered.add(id);
      inFlight(job, pending, record.customIds, +1);
      active.push({record, reserved: 0});
    }
    calls.splice(0, calls.length, ...calls.filter(([key]) => !covered.has(key)));
    const lines = calls.map(([key, p]) => requestLine(key, p.body));
    for (const [start, end] of splitIntoFiles(lines.map((l) => Buffer.byteLength(l)))) {
      const part = calls.slice(start, end);
      const estimate = part.reduce((sum, [, p]) => sum + worstCaseDollars(p.decl, p.spec, 'batch', s.options.config.prices), 0);
      if (!s.budget.reserve(estimate)) {
        for (const [, p] of part) fail(job, p, 'budget', `the budget of $${s.budget.limit?.toFixed(2)} could be passed by a batch of ${part.length} calls; it was not submitted`);
        continue;
      }
      const customIds = part.map(([key]) => key);
      let sent: {batchId: string; inputFileId: string};
      try {
        sent = await retrying(`submitting a batch for model role "${role}"`, job.signal, () =>
          submitBatch(client, `${job.target.replace(/[^A-Za-z0-9_-]/g, '_')}-${active.length + 1}.jsonl`, lines.slice(start, end).join(''), {stage_target: job.target.slice(0, 512), stage_key: job.actionKey}));
      } catch (e) {
        s.budget.settle(estimate, 0);
        if (!(e instanceof NoBatchApi)) throw e;
        job.emit({type: 'warning', target: job.target, message: `model role "${role}" has no Batch API (${e.message}); its calls go real-time`});
        break;
      }
      const record: BatchRecord = {id: sent.batchId, inputFileId: sent.inputFileId, role, customIds};
      state.add(record);
      job.emit({type: 'batch-submitted', target: job.target, batchId: record.id, requests: customIds.length});
      inFlight(job, pending, customIds, +1);
      active.push({record, reserved: estimate});
    }
  }
  job.progress();
  await Promise.all(active.map((a) => follow(job, s, state, pending, a.record, a.reserved)));
  return job.specs.map((_, i) => i).filter((i) => job.results[i] === undefined);
}

/** Polls one batch with growing pauses until it ends, then joins its results. */
async function follow(job: BatchJob, s: BatchServices, state: BatchState, pending: ReadonlyMap<string, Pending>, record: BatchRecord, reserved: number): Promise<void> {
  const client = await s.caller.clientFor(record.role);
  try {
    await waitAndJoin(job, s, client, pending, record, reserved);
  } catch (e) {
    if (!(e instanceof NoBatchApi)) throw e;
    // The batch or its files are gone (deleted, another account): its calls go real-time.
    job.emit({type: 'warning', target: job.target, message: `batch ${record.id} cannot be read (${e.message}); its calls go real-time`});
    s.budget.settle(reserved, 0);
    inFlight(job, pending, record.customIds, -1);
  }
  state.remove(record.id);
}

async function waitAndJoin(job: BatchJob, s: BatchServices, client: OpenAIClient, pending: ReadonlyMap<string, Pending>, record: BatchRecord, reserved: number): Promise<void> {
  let shown = '';
  for (let attempt = 0; ; attempt++) {
    const b = await retrying(`polling batch ${record.id}`, job.signal, () => pollBatch(client, record.id, job.signal));
    const seen = `${b.status} ${b.completed} ${b.failed} ${b.total}`;
    if (seen !== shown) {
      shown = seen;
      job.emit({type: 'batch-state', target: job.target, batchId: record.id, status: b.status, completed: b.completed, failed: b.failed, total: b.total});
    }
    if (TERMINAL_STATUSES.has(b.status)) {
      const files = [await download(client, b.outputFileId, job.signal), await download(client, b.errorFileId, job.signal)];
      s.budget.settle(reserved, journal(job, s, pending, record, files));
      return;
    }
    await sleep(pollDelayMs(attempt, s.options.config.batch), undefined, {signal: job.signal});
  }
}

/** Journals a finished batch's answers and final failures; returns what its answers cost. */
function journal(job: BatchJob, s: BatchServices, pending: ReadonlyMap<string, Pending>, record: BatchRecord, files: readonly string[]): number {
  const mine = record.customIds.filter((id) => pending.has(id));
  let spent = 0;
  const fallbacks = new Map<string, number>();
  for (const [key, d] of joinResults(mine, files)) {
    const p = pending.get(key)!;
    inFlight(job, pending, [key], -1);
    if (d.kind === 'answer') {
      const kept = keptResponse(d.response);
      const dollars = dollarsFor(p.decl.model, kept.usage, 'batch', s.options.config.prices);
      s.memo.put(p.key, {response: kept, dollars, time: new Date().toISOString(), via: 'batch'});
      spent += dollars;
      job.tally.paid++;
      job.tally.memoized += p.indices.length - 1;
      job.tally.done += p.indices.length;
      job.tally.dollars += dollars;
      for (const i of p.indices) job.results[i] = answer(job.specs[i]!.id, kept, i !== p.indices[0]);
    } else if (d.kind === 'final') {
      fail(job, p, d.reason, d.message);
    } else {
      fallbacks.set(d.why, (fallbacks.get(d.why) ?? 0) + 1);
    }
    job.progress();
  }
  if (fallbacks.size > 0) {
    const why = [...fallbacks].map(([w, n]) => `${n} ${w}`).join(', ');
    job.emit({type: 'warning', target: job.target, message: `batch ${record.id}: ${[...fallbacks.values()].reduce((a, b) => a + b)} of ${mine.length} calls go real-time (${why})`});
  }
  return spent;
}

/** The calls no memo entry answers, by memo key; items of undeclared roles are left to the real-time path. */
function pendingCalls(specs: readonly CallSpec[], s: BatchServices): Map<string, Pending> {
  const pending = new Map<string, Pending>();
  specs.forEach((spec, i) => {
    const decl = s.options.models.get(spec.role);
    if (!decl) return;
    const {key, body} = renderCall(decl, spec);
    if (s.memo.has(key)) return;
    const p = pending.get(key);
    if (p) p.indices.push(i);
    else pending.set(key, {key, decl, spec, body, indices: [i]});
  });
  return pending;
}

function fail(job: BatchJob, p: Pending, reason: Extract<CallResult, {ok: false}>['reason'], message: string): void {
  for (const i of p.indices) job.results[i] = {id: job.specs[i]!.id, ok: false, reason, message};
  job.tally.failed += p.indices.length;
  job.tally.done += p.indices.length;
}

function inFlight(job: BatchJob, pending: ReadonlyMap<string, Pending>, keys: readonly string[], sign: 1 | -1): void {
  for (const k of keys) job.tally.inFlight += sign * (pending.get(k)?.indices.length ?? 0);
}

function download(client: OpenAIClient, fileId: string | undefined, signal: AbortSignal): Promise<string> {
  return retrying(`downloading batch file ${fileId}`, signal, () => downloadFile(client, fileId, signal));
}

/** The endpoint has no such batch, file or Batch API at all (404, 405, 501). */
class NoBatchApi extends Error {}

/**
 * Retries what a retry may fix (rate limits, 5xx, connection errors). A missing batch endpoint
 * or object is `NoBatchApi`, for the caller to fall back on; anything else stops the build.
 */
async function retrying<T>(what: string, signal: AbortSignal, f: () => Promise<T>, maxAttempts = 10): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await f();
    } catch (e) {
      if (signal.aborted) throw e;
      const status = (e as ErrorShape).status;
      if (status === 404 || status === 405 || status === 501) throw new NoBatchApi(`HTTP ${status}`);
      const v = classifyError(e as ErrorShape);
      if (v.kind !== 'retry') throw new FatalCallError(`${what}: ${v.message}`);
      if (attempt + 1 >= maxAttempts) throw new FatalCallError(`${what}: gave up after ${maxAttempts} attempts: ${v.why}`);
      await sleep(v.waitMs ?? backoffMs(attempt), undefined, {signal});
    }
  }
}

function groupBy<T>(items: readonly T[], by: (t: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const t of items) {
    const k = by(t);
    const g = groups.get(k);
    if (g) g.push(t);
    else groups.set(k, [t]);
  }
  return groups;
}
