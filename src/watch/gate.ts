import {planTargets} from '../api.js';
import {spendingAboveThreshold} from '../cli/confirm.js';
import type {Event} from '../event.js';
import type {BuildContext} from '../schedule/context.js';
import type {PlanEntry} from '../schedule/plan.js';
import type {Verdict} from './machine.js';

export interface GateOptions {
  readonly targets: readonly string[];
  /** The closure of `targets` in this context's graph. */
  readonly selected: readonly number[];
  /** `--yes`: spend above confirmAbove without asking. */
  readonly yes: boolean;
  /** `--allow-slurm`: SLURM targets may submit jobs. */
  readonly allowSlurm: boolean;
  readonly budget: number | undefined;
  readonly emit: (e: Event) => void;
}

/**
 * Decides whether the next watched build may start, from the same plan `stage plan` prints: not
 * when it would submit SLURM jobs without --allow-slurm (GPU-hours are not spent on every save),
 * and not without a `y` when its model calls may cost more than the user's confirmAbove (the
 * amount `stage build` asks about). Returns the plan too, for the confirmation message. A
 * closure with neither SLURM nor API targets is not planned at all: the build itself decides.
 */
export async function gateBuild(ctx: BuildContext, opts: GateOptions): Promise<{verdict: Verdict; entries: readonly PlanEntry[]}> {
  const nodes = opts.selected.map((i) => ctx.graph.nodes[i]!);
  const slurmMatters = !opts.allowSlurm && nodes.some((n) => n.decl.spec.executor === 'slurm');
  const moneyMatters = !opts.yes && ctx.settings.config.confirmAbove !== undefined && nodes.some((n) => n.run.kind === 'llm');
  if (!slurmMatters && !moneyMatters) return {verdict: {kind: 'build'}, entries: []};
  const planned = await planTargets(ctx, opts.targets, opts.emit);
  if (!planned.ok) {
    for (const diagnostic of planned.error) opts.emit({type: 'diagnostic', diagnostic});
    return {verdict: {kind: 'failed', message: 'the targets cannot be planned', reload: false}, entries: []};
  }
  const entries = planned.value;
  if (slurmMatters) {
    const cluster = entries.filter((e) => e.gpu !== undefined && (e.action === 'run' || e.action === 'pending')).map((e) => e.target);
    if (cluster.length > 0) return {verdict: {kind: 'needs-slurm', targets: cluster}, entries};
  }
  const over = moneyMatters ? spendingAboveThreshold(ctx, entries, opts.budget) : undefined;
  return {verdict: over ? {kind: 'confirm', ...over} : {kind: 'build'}, entries};
}
