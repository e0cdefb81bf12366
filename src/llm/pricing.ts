import type {Usage} from './types.js';

/** Dollars per 1M tokens, input and output, at real-time prices; the Batch API halves both. */
export interface Price {
  readonly input: number;
  readonly output: number;
}

/**
 * Published list prices of the models the pipelines use. Matched by exact snapshot first, then
 * by family prefix, so a new dated snapshot of a known family is still priced. A model not here
 * (a local vLLM model) costs nothing.
 */
const PRICES: readonly (readonly [string, Price])[] = [
  ['gpt-4-32k', {input: 60, output: 120}],
  ['gpt-4-turbo', {input: 10, output: 30}],
  ['gpt-4-1106-preview', {input: 10, output: 30}],
  ['gpt-4-0125-preview', {input: 10, output: 30}],
  ['gpt-4o-mini', {input: 0.15, output: 0.6}],
  ['gpt-4o-2024-05-13', {input: 5, output: 15}],
  ['gpt-4o', {input: 2.5, output: 10}],
  ['gpt-4', {input: 30, output: 60}],
];

export const BATCH_DISCOUNT = 0.5;

export function priceOf(model: string, overrides: Readonly<Record<string, Price>> = {}): Price | undefined {
  const exact = overrides[model];
  if (exact) return exact;
  for (const [prefix, price] of PRICES) if (model === prefix || model.startsWith(`${prefix}-`) || model.startsWith(prefix)) return price;
  return undefined;
}

export function dollarsFor(model: string, usage: Usage, via: 'realtime' | 'batch', overrides?: Readonly<Record<string, Price>>): number {
  const p = priceOf(model, overrides);
  if (!p) return 0;
  const d = (usage.prompt_tokens * p.input + usage.completion_tokens * p.output) / 1e6;
  return via === 'batch' ? d * BATCH_DISCOUNT : d;
}
