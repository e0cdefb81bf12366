import {join} from 'node:path';
import type {LlmRule} from '../config/define.js';
import {contextFor} from '../execute/local.js';
import {dependencyOutputs, type Node} from '../graph/graph.js';
import type {BuildContext} from '../schedule/context.js';
import {messageOf} from '../util/result.js';
import type {CallMemo} from './memo.js';
import {BATCH_DISCOUNT, dollarsFor} from './pricing.js';
import {renderCall} from './request.js';
import {promptTokens} from './tokens.js';

/** What an API target would cost: shown by `stage plan` before anything is spent. */
export interface ApiEstimate {
  readonly calls: number;
  /** Already answered in the memo: free. */
  readonly memoized: number;
  readonly toPay: number;
  readonly promptTokens: number;
  /** Completion tokens at their maximum (max_tokens × n): an upper bound. */
  readonly completionTokens: number;
  readonly dollars: number;
  readonly batchDollars: number;
  /** True when every call was rendered from real inputs; false for the rule's own estimate. */
  readonly exact: boolean;
  /** Why the estimate is not exact, or could not be made. */
  readonly note?: string;
}

/**
 * Renders every call of an LLM target from its inputs, when they exist, and counts what the memo
 * already holds; otherwise falls back to the rule's `estimate(params)`. Runs the rule's
 * `requests`, which must be cheap and side-effect free.
 */
export async function estimateApi(ctx: BuildContext, node: Node, rule: LlmRule<unknown>, memo: CallMemo, inputs: readonly string[] | undefined): Promise<ApiEstimate | undefined> {
  const params = JSON.parse(node.params) as unknown;
  const prices = ctx.settings.config.prices;
  if (inputs) {
    try {
      const root = ctx.graph.root;
      const job = {
        target: node.id, root, params, inputs: inputs.map((p) => join(root, p)),
        deps: dependencyOutputs(ctx.graph, node),
        outs: node.outputs.map((o) => join(root, '.stage', 'plan', o.path)), log: join(root, '.stage', 'logs', 'plan.log'), signal: new AbortController().signal,
      };
      const specs = await rule.requests({...contextFor(job), log: () => {}});
      let memoized = 0, pt = 0, ct = 0, dollars = 0;
      for (const s of specs) {
        const m = ctx.graph.models.get(s.role);
        if (!m) continue;
        if (memo.has(renderCall(m, s).key)) {
          memoized++;
          continue;
        }
        const usage = {prompt_tokens: promptTokens(m.model, s.messages), completion_tokens: (s.params?.max_tokens ?? 1024) * (s.params?.n ?? 1)};
        pt += usage.prompt_tokens;
        ct += usage.completion_tokens;
        dollars += dollarsFor(m.model, usage, 'realtime', prices);
      }
      return {calls: specs.length, memoized, toPay: specs.length - memoized, promptTokens: pt, completionTokens: ct, dollars, batchDollars: dollars * BATCH_DISCOUNT, exact: true};
    } catch (e) {
      if (!rule.estimate) return {calls: 0, memoized: 0, toPay: 0, promptTokens: 0, completionTokens: 0, dollars: 0, batchDollars: 0, exact: false, note: `cannot list calls: ${messageOf(e)}`};
    }
  }
  if (!rule.estimate) return undefined;
  const e = rule.estimate(params);
  const model = ctx.graph.models.get(e.role)?.model ?? '';
  const usage = {prompt_tokens: e.calls * e.promptTokens, completion_tokens: e.calls * e.completionTokens};
  const dollars = dollarsFor(model, usage, 'realtime', prices);
  return {
    calls: e.calls, memoized: 0, toPay: e.calls, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens,
    dollars, batchDollars: dollars * BATCH_DISCOUNT, exact: false, note: 'inputs not built yet: the rule\'s estimate',
  };
}
