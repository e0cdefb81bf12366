import {createInterface} from 'node:readline/promises';
import {planTargets} from '../api.js';
import type {BuildContext} from '../schedule/context.js';
import {usd} from '../report/plan-format.js';
import type {Streams} from '../report/logger.js';
import type {PlanEntry} from '../schedule/plan.js';

/**
 * What a planned build may spend on model calls still to pay (its estimate, capped by the
 * budget), when that is above the user's `confirmAbove`; undefined when it may go ahead unasked.
 * `stage build` and `stage watch` ask on the same amount.
 */
export function spendingAboveThreshold(ctx: BuildContext, entries: readonly PlanEntry[], budget: number | undefined): {dollars: number; threshold: number} | undefined {
  const threshold = ctx.settings.config.confirmAbove;
  if (threshold === undefined) return undefined;
  const estimate = entries.reduce((s, e) => s + (e.api?.dollars ?? 0), 0);
  const dollars = budget === undefined ? estimate : Math.min(estimate, budget);
  return dollars > threshold ? {dollars, threshold} : undefined;
}

/**
 * Before a build that may spend more than the user's `confirmAbove` on model calls, show the
 * estimate and ask; without a terminal to ask on, refuse and say how to go ahead. Returns whether
 * the build may start.
 */
export async function confirmSpending(ctx: BuildContext, targets: readonly string[], budget: number | undefined, streams: Streams, stdin: NodeJS.ReadStream = process.stdin): Promise<boolean> {
  if (ctx.settings.config.confirmAbove === undefined) return true;
  const planned = await planTargets(ctx, targets, () => {});
  if (!planned.ok) return true;
  const over = spendingAboveThreshold(ctx, planned.value, budget);
  if (!over) return true;
  const what = `this build may spend up to ~${usd(over.dollars)} on model calls, above your confirmAbove of ${usd(over.threshold)} (${ctx.settings.configPath})`;
  if (!stdin.isTTY) {
    streams.err.write(`stage: ${what}.\n  Run \`stage plan\` to see the calls, then \`stage build --yes\` (or set --budget) to go ahead.\n`);
    return false;
  }
  const rl = createInterface({input: stdin, output: streams.err as NodeJS.WritableStream});
  try {
    const answer = await rl.question(`${what}. Continue? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
