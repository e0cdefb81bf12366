import type {UserConfig} from '../config/settings.js';
import {messageOf} from '../util/result.js';
import type {Budget} from './budget.js';
import {backoffMs, classifyAnswer, classifyError, type ErrorShape} from './classify.js';
import {clientFor, endpointFor, type Endpoint, type OpenAIClient} from './endpoints.js';
import {Semaphore, type RateGate} from './gate.js';
import type {CallMemo} from './memo.js';
import {dollarsFor} from './pricing.js';
import {renderCall, type CallKey} from './request.js';
import type {Holder, Leases} from '../store/lease.js';
import {unreachable} from '../util/unreachable.js';
import {promptTokens, reservedTokens} from './tokens.js';
import type {CallResult, CallSpec, ChatResponse, ModelDecl} from './types.js';

/** A failure that every further call would repeat: stop the build, say what to fix. */
export class FatalCallError extends Error {}

/** Running totals for one target's calls, for progress and the action's cost record. */
export interface CallTally {
  done: number;
  memoized: number;
  paid: number;
  failed: number;
  inFlight: number;
  dollars: number;
}

export interface CallerOptions {
  readonly models: ReadonlyMap<string, ModelDecl>;
  readonly memo: CallMemo;
  readonly budget: Budget;
  readonly config: UserConfig;
  readonly env: NodeJS.ProcessEnv;
  readonly gateFor: (ep: Endpoint) => RateGate;
  /** Leases shared with other builders of the same store; without them every miss is paid. */
  readonly leases?: Leases | undefined;
  /** Told when another builder is making the same call and this one waits for its answer. */
  readonly onWait?: (holder: Holder | undefined) => void;
  /** Told about every retry, so the user sees 429 storms and outages as they happen. */
  readonly onRetry: (item: string, why: string, waitMs: number, attempt: number) => void;
  readonly maxAttempts?: number;
  readonly random?: () => number;
}

const DEFAULT_CONCURRENCY = {'openai': 16, 'azure': 16, 'openai-compatible': 64} as const;

/**
 * Makes model calls: memo first, then budget, rate limit and our retry policy, and journals each
 * answer the moment it arrives. One instance serves a whole build, so endpoints are checked,
 * and clients built, once per role.
 */
export class ModelCaller {
  readonly #o: CallerOptions;
  readonly #ready = new Map<string, Promise<{client: OpenAIClient; ep: Endpoint; gate: RateGate; slots: Semaphore}>>();

  constructor(options: CallerOptions) {
    this.#o = options;
  }

  /** The answer to one call: from the memo when it was ever paid for, else from the endpoint. */
  async call(spec: CallSpec, tally: CallTally, signal: AbortSignal): Promise<CallResult> {
    const decl = this.#o.models.get(spec.role);
    if (!decl) throw new FatalCallError(`item ${spec.id} calls model role "${spec.role}", which the Stagefile does not declare`);
    const {key, body} = renderCall(decl, spec);
    const memoized = (): CallResult | undefined => {
      const hit = this.#o.memo.get(key);
      if (!hit) return undefined;
      tally.memoized++;
      tally.done++;
      return answer(spec.id, hit.response, true);
    };
    const known = memoized();
    if (known) return known;
    const leases = this.#o.leases;
    if (!leases) return this.#pay(spec, decl, key, body, tally, signal);
    // Another builder sharing this store may be making the same call right now, or may have
    // made it since our memo was read: wait for its answer rather than pay twice.
    const refreshed = (): CallResult | undefined => {
      this.#o.memo.refresh();
      return memoized();
    };
    const got = await leases.acquire(`call-${key.replace(/[^A-Za-z0-9]/g, '_')}`, spec.id, signal, (h) => this.#o.onWait?.(h), refreshed);
    switch (got.kind) {
      case 'aborted':
        throw signal.reason instanceof Error ? signal.reason : new Error('the build was interrupted');
      case 'done':
        return got.value;
      case 'acquired':
        try {
          return refreshed() ?? (await this.#pay(spec, decl, key, body, tally, signal));
        } finally {
          got.lease.release();
        }
      default:
        return unreachable(got);
    }
  }

  /** Makes one call for real: budget, rate gate, retries; journals the answer before returning it. */
  async #pay(spec: CallSpec, decl: ModelDecl, key: CallKey, body: unknown, tally: CallTally, signal: AbortSignal): Promise<CallResult> {
    const {client, ep, gate, slots} = await this.#endpoint(spec.role);
    const reserve = reservedTokens(decl.model, spec.messages, spec.params?.max_tokens ?? 1024, spec.params?.n ?? 1);
    const worst = worstCaseDollars(decl, spec, 'realtime', this.#o.config.prices);
    const maxAttempts = this.#o.maxAttempts ?? 10;
    for (let attempt = 0; ; attempt++) {
      if (!this.#o.budget.reserve(worst)) {
        tally.failed++;
        tally.done++;
        return {id: spec.id, ok: false, reason: 'budget', message: `the budget of $${this.#o.budget.limit?.toFixed(2)} would be passed; this call was not made`};
      }
      const release = await slots.take();
      tally.inFlight++;
      let actualDollars = 0;
      try {
        const grant = await gate.acquire(reserve, signal);
        let data: ChatResponse;
        try {
          const r = await client.chat.completions.create(body as never, {signal}).withResponse();
          gate.observe?.(r.response.headers);
          data = r.data as unknown as ChatResponse;
        } catch (e) {
          grant.settle(0);
          if (signal.aborted) throw e;
          const verdict = classifyError(e as ErrorShape);
          if (verdict.kind === 'fatal') throw new FatalCallError(`model role "${spec.role}" at ${ep.where}: ${verdict.message}`);
          if (verdict.kind === 'item') {
            tally.failed++;
            tally.done++;
            return {id: spec.id, ok: false, reason: verdict.reason, message: verdict.message};
          }
          if (attempt + 1 >= maxAttempts) {
            tally.failed++;
            tally.done++;
            return {id: spec.id, ok: false, reason: 'gave-up', message: `gave up after ${maxAttempts} attempts: ${verdict.why}`};
          }
          const wait = verdict.waitMs ?? backoffMs(attempt, this.#o.random);
          if (verdict.waitMs !== undefined) gate.pauseFor(verdict.waitMs);
          this.#o.onRetry(spec.id, verdict.why, wait, attempt + 1);
          await sleep(wait, signal);
          continue;
        }
        grant.settle((data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0));
        const bad = classifyAnswer(data.choices);
        if (bad?.kind === 'item') {
          tally.failed++;
          tally.done++;
          return {id: spec.id, ok: false, reason: bad.reason, message: bad.message};
        }
        if (bad) {
          this.#o.onRetry(spec.id, bad.kind === 'retry' ? bad.why : 'bad answer', 0, attempt + 1);
          continue;
        }
        const kept = keptResponse(data);
        actualDollars = dollarsFor(decl.model, kept.usage, 'realtime', this.#o.config.prices);
        this.#o.memo.put(key, {response: kept, dollars: actualDollars, time: new Date().toISOString(), via: 'realtime'});
        tally.paid++;
        tally.done++;
        tally.dollars += actualDollars;
        return answer(spec.id, kept, false);
      } finally {
        this.#o.budget.settle(worst, actualDollars);
        tally.inFlight--;
        release();
      }
    }
  }

  /** The checked client of a role, shared with real-time calls (the Batch executor submits through it). */
  async clientFor(role: string): Promise<OpenAIClient> {
    if (!this.#o.models.has(role)) throw new FatalCallError(`model role "${role}" is not declared in the Stagefile`);
    return (await this.#endpoint(role)).client;
  }

  /** Builds the client and checks the endpoint answers, once per role, before the first paid call. */
  #endpoint(role: string): Promise<{client: OpenAIClient; ep: Endpoint; gate: RateGate; slots: Semaphore}> {
    let p = this.#ready.get(role);
    if (!p) {
      p = this.#connect(role);
      this.#ready.set(role, p);
    }
    return p;
  }

  async #connect(role: string): Promise<{client: OpenAIClient; ep: Endpoint; gate: RateGate; slots: Semaphore}> {
    const decl = this.#o.models.get(role)!;
    const ep = endpointFor(decl, this.#o.config);
    const made = await clientFor(ep, this.#o.env);
    if (!made.ok) throw new FatalCallError(made.error);
    await preflight(made.value, ep);
    const slots = new Semaphore(ep.settings.concurrency ?? DEFAULT_CONCURRENCY[decl.provider]);
    return {client: made.value, ep, gate: this.#o.gateFor(ep), slots};
  }
}

/** Lists models with a short timeout: an unreachable endpoint or a rejected key fails here, before spending. */
async function preflight(client: OpenAIClient, ep: Endpoint): Promise<void> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await client.models.list({timeout: 15_000});
      return;
    } catch (e) {
      last = e;
      const v = classifyError(e as ErrorShape);
      if (v.kind === 'fatal') throw new FatalCallError(`model role "${ep.decl.role}" at ${ep.where}: ${v.message}`);
      // A server without /models (some proxies) still answers: only a missing connection is fatal.
      if ((e as ErrorShape).status !== undefined) return;
    }
  }
  throw new FatalCallError(`model role "${ep.decl.role}": cannot reach ${ep.where} (${messageOf(last)}); check endpoints.${ep.decl.role}.baseURL in the user config, or that the server is running`);
}

/** The most a call can cost: its prompt plus every completion at max_tokens; reserved from the budget first. */
export function worstCaseDollars(decl: ModelDecl, spec: CallSpec, via: 'realtime' | 'batch', prices?: UserConfig['prices']): number {
  const completions = (spec.params?.max_tokens ?? 1024) * (spec.params?.n ?? 1);
  return dollarsFor(decl.model, {prompt_tokens: promptTokens(decl.model, spec.messages), completion_tokens: completions}, via, prices);
}

/** The parts of a checked answer that are journaled; the same for real-time and batch answers. */
export function keptResponse(data: ChatResponse): ChatResponse {
  return {model: data.model, choices: data.choices.map((c) => ({index: c.index, message: {content: c.message.content}, finish_reason: c.finish_reason, ...(c.logprobs ? {logprobs: c.logprobs} : {})})), usage: {prompt_tokens: data.usage?.prompt_tokens ?? 0, completion_tokens: data.usage?.completion_tokens ?? 0}};
}

/** A successful result for an item, from a fresh or memoized answer. */
export function answer(id: string, response: ChatResponse, memoized: boolean): CallResult {
  const choices = response.choices.map((c) => c.message.content ?? '');
  return {id, ok: true, content: choices[0] ?? '', choices, response, memoized};
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, {once: true});
  });
}
