import {createInterface} from 'node:readline/promises';
import {planTargets} from '../api.js';
import type {BuildContext} from '../schedule/context.js';
import {usd} from '../report/plan-format.js';
import type {Streams} from '../report/logger.js';

/**
 * Before a build that may spend more than the user's `confirmAbove` on model calls, show the
 * estimate and ask; without a terminal to ask on, refuse and say how to go ahead. Returns whether
 * the build may start.
 */
export async function confirmSpending(ctx: BuildContext, targets: readonly string[], budget: number | undefined, streams: Streams, stdin: NodeJS.ReadStream = process.stdin): Promise<boolean> {
  const threshold = ctx.settings.config.confirmAbove;
  if (threshold === undefined) return true;
  const planned = await planTargets(ctx, targets, () => {});
  if (!planned.ok) return true;
  const estimate = planned.value.reduce((s, e) => s + (e.api?.dollars ?? 0), 0);
  const atMost = budget === undefined ? estimate : Math.min(estimate, budget);
  if (atMost <= threshold) return true;
  const what = `this build may spend up to ~${usd(atMost)} on model calls, above your confirmAbove of ${usd(threshold)} (${ctx.settings.configPath})`;
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
