import {rmSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {findStagefile, loadStagefile} from './config/load.js';
import {resolveSettings, SettingsError, type Settings} from './config/settings.js';
import type {BuildCounts, Event} from './event.js';
import {hashCounter, initHasher} from './fingerprint/hasher.js';
import {RuleCodeHasher} from './fingerprint/rule-code.js';
import {analyze} from './graph/analyze.js';
import {matchTargets, selectClosure} from './graph/select.js';
import type {BuildContext} from './schedule/context.js';
import {plan, type PlanEntry} from './schedule/plan.js';
import {runBuild} from './schedule/scheduler.js';
import {createRuntime, type LlmRuntime} from './llm/runtime.js';
import {WorkspaceState} from './state/state.js';
import {DEFAULT_LEASE_TIMINGS} from './store/lease.js';
import {Store} from './store/store.js';
import type {Diagnostic} from './util/diagnostic.js';
import {err, ok, type Result} from './util/result.js';

export interface OpenOptions {
  readonly cwd: string;
  readonly file?: string | undefined;
  readonly cacheDir?: string | undefined;
  /** Read the cache directory without writing it (a consumer of a lab cache). */
  readonly cacheReadOnly?: boolean | undefined;
  readonly profile?: string | undefined;
  readonly emit: (e: Event) => void;
  /**
   * Evaluate the Stagefile again even if this process already imported the same compiled bundle
   * (`stage watch` reloading it): otherwise the module cache would declare nothing.
   */
  readonly fresh?: boolean | undefined;
}

/** Loads and analyzes the Stagefile and opens the workspace state and the store. */
export async function openProject(opts: OpenOptions): Promise<Result<BuildContext, Diagnostic[]>> {
  await initHasher();
  const file = findStagefile(opts.cwd, opts.file);
  if (!file || !statSync(file, {throwIfNoEntry: false})?.isFile()) {
    return err([{severity: 'error', message: opts.file ? `no Stagefile at ${opts.file}` : `no Stagefile.ts in ${opts.cwd} or any parent directory`, hint: 'create Stagefile.ts, or pass -f <file>'}]);
  }
  const loaded = await loadStagefile(file, {profile: opts.profile, fresh: opts.fresh === true});
  if (!loaded.ok) return loaded;
  const graph = analyze(loaded.value.root, loaded.value.registry, loaded.value.locate);
  if (!graph.ok) return graph;
  const state = new WorkspaceState(loaded.value.root);
  if (state.problem) opts.emit({type: 'warning', message: state.problem});
  let settings: Settings;
  try {
    settings = resolveSettings({cacheDir: opts.cacheDir, cacheReadOnly: opts.cacheReadOnly});
  } catch (e) {
    if (e instanceof SettingsError) return err([{severity: 'error', message: e.message, hint: 'fix or remove the user config file'}]);
    throw e;
  }
  const store = openStore(loaded.value.root, settings);
  return ok({loaded: loaded.value, graph: graph.value, state, store, settings, ruleCode: new RuleCodeHasher(loaded.value, state)});
}

/**
 * The store a workspace builds into. A read-only cache is consulted after the workspace's own
 * store, which takes whatever this user builds.
 */
export function openStore(root: string, settings: Settings): Store {
  const leases = {...DEFAULT_LEASE_TIMINGS, ...settings.config.leases};
  if (settings.cacheReadOnly) return new Store(join(root, '.stage', 'cache'), {upstream: settings.cacheDir, leases});
  return new Store(settings.cacheDir, {leases});
}

export interface BuildOptions {
  readonly targets: readonly string[];
  readonly jobs: number;
  readonly keepGoing: boolean;
  readonly signal: AbortSignal;
  readonly emit: (e: Event) => void;
  /** Dollars this build may spend on model calls (default: the user config's `budget`). */
  readonly budget?: number | undefined;
  /** `--batch`: send every API target's calls through the Batch API, not only `batchable` rules'. */
  readonly batch?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

/** Builds the requested targets; the state is saved whatever happens, so progress is kept. */
export async function build(ctx: BuildContext, opts: BuildOptions): Promise<Result<BuildCounts, Diagnostic[]>> {
  const selected = selectClosure(ctx.graph, opts.targets);
  if (!selected.ok) return selected;
  const started = performance.now();
  opts.emit({type: 'build-started', total: selected.value.length, jobs: opts.jobs});
  let counts: BuildCounts = {fresh: 0, restored: 0, ran: 0, failed: 0, skipped: 0};
  let runtime: LlmRuntime | undefined;
  const llm = (): LlmRuntime => (runtime ??= createRuntime({
    storeDirs: ctx.store.dirs, leases: ctx.store.leases, settings: ctx.settings, models: ctx.graph.models, budget: opts.budget,
    env: opts.env ?? process.env, emit: opts.emit, forceBatch: opts.batch === true,
  }));
  try {
    const named = opts.targets.length > 0 ? matchTargets(ctx.graph, opts.targets) : ok([]);
    counts = await runBuild(ctx, selected.value, {...opts, llm, requested: new Set(named.ok ? named.value : [])});
  } finally {
    await runtime?.close();
    ctx.state.save();
    rmSync(join(ctx.graph.root, '.stage', 'tmp'), {recursive: true, force: true});
  }
  const good = counts.failed === 0 && counts.skipped === 0;
  opts.emit({type: 'build-finished', ok: good, counts, durationMs: Math.round(performance.now() - started), interrupted: opts.signal.aborted, filesHashed: hashCounter.files, dollars: runtime?.budget.spent ?? 0});
  return ok(counts);
}

/** What a build of the requested targets would do, on the build's own decision path. */
export async function planTargets(ctx: BuildContext, targets: readonly string[], emit: (e: Event) => void): Promise<Result<PlanEntry[], Diagnostic[]>> {
  const selected = selectClosure(ctx.graph, targets);
  if (!selected.ok) return selected;
  const entries = await plan(ctx, selected.value, (message) => emit({type: 'cache-info', message}));
  ctx.state.save();
  return ok(entries);
}

/** The chain of causes that makes a target stale: its own reasons, then those of what it waits on. */
export async function why(ctx: BuildContext, target: string, emit: (e: Event) => void): Promise<Result<{entry: PlanEntry; causes: PlanEntry[]}, Diagnostic[]>> {
  const planned = await planTargets(ctx, [target], emit);
  if (!planned.ok) return planned;
  const byName = new Map(planned.value.map((e) => [e.target, e]));
  const entry = byName.get(target)!;
  const causes: PlanEntry[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    for (const d of ctx.graph.byName.get(name)!.deps) {
      const dep = ctx.graph.nodes[d]!.id;
      if (seen.has(dep)) continue;
      seen.add(dep);
      const e = byName.get(dep)!;
      if (e.action === 'run' || e.action === 'error') causes.push(e);
      else if (e.action === 'pending') visit(dep);
    }
  };
  if (entry.action === 'pending' || entry.action === 'error') visit(target);
  return ok({entry, causes});
}

/** Removes the workspace outputs of the selected targets (the store keeps them). */
export function clean(ctx: BuildContext, targets: readonly string[]): Result<number, Diagnostic[]> {
  const selected = matchTargets(ctx.graph, targets);
  if (!selected.ok) return selected;
  let removed = 0;
  for (const i of selected.value) {
    const node = ctx.graph.nodes[i]!;
    for (const o of node.outputs) {
      const abs = join(ctx.graph.root, o.path);
      if (statSync(abs, {throwIfNoEntry: false})) removed++;
      rmSync(abs, {recursive: true, force: true});
    }
    ctx.state.forgetTarget(node.id);
  }
  ctx.state.save();
  return ok(removed);
}
