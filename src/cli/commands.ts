import {build, clean, openProject, planTargets, why} from '../api.js';
import {selectClosure} from '../graph/select.js';
import type {ActionKey} from '../ids.js';
import {formatGraph} from '../report/graph-format.js';
import type {Logger, Streams} from '../report/logger.js';
import {formatApi, formatPlan} from '../report/plan-format.js';
import type {BuildContext} from '../schedule/context.js';
import {collectGarbage, parseSize, verifyStore} from '../store/maintenance.js';
import type {Diagnostic} from '../util/diagnostic.js';
import type {Event} from '../event.js';
import {unreachable} from '../util/unreachable.js';
import {execTarget} from '../execute/exec.js';
import {describeFailure} from '../report/human-logger.js';
import {join, resolve} from 'node:path';
import {confirmSpending} from './confirm.js';
import {bool, budgetFlag, str} from './flags.js';
import {compactMemo} from '../llm/memo.js';
import {storeStatus, type StoreStatus} from '../store/status.js';
import type {Options} from './options.js';

export interface CommandEnv {
  readonly cwd: string;
  readonly streams: Streams;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly jobs: number;
}

const DEFAULT_GC_SIZE = '10G';

/** Runs one parsed command and returns the process exit code. */
export async function runCommand(opts: Options, env: CommandEnv): Promise<number> {
  // The model world needs no Stagefile; its handler (and the server code) loads only when asked for.
  if (opts.command === 'world-serve' || opts.command === 'world-train') return (await import('./world.js')).runWorld(opts, env);
  // Watch opens the project itself: it opens it again whenever the Stagefile changes.
  if (opts.command === 'watch') return (await import('./watch.js')).runWatch(opts, env);
  const emit = env.logger.log.bind(env.logger);
  const report = (diags: readonly Diagnostic[]): number => {
    for (const diagnostic of diags) emit({type: 'diagnostic', diagnostic});
    return 2;
  };
  const opened = await openProject({cwd: env.cwd, file: str(opts.flags['file']), cacheDir: str(opts.flags['cache-dir']), cacheReadOnly: bool(opts.flags['cache-read-only']), profile: str(opts.flags['profile']), emit});
  if (!opened.ok) return report(opened.error);
  const ctx = opened.value;
  const out = (text: string): void => {
    env.streams.out.write(text.endsWith('\n') ? text : `${text}\n`);
  };
  const asJson = opts.flags['json'] === true;
  switch (opts.command) {
    case 'build': {
      const parsed = budgetFlag(opts.flags['budget']);
      if (!parsed.ok) {
        env.streams.err.write(`stage: ${parsed.message}\n`);
        return 2;
      }
      const budget = parsed.value;
      if (opts.flags['yes'] !== true && !(await confirmSpending(ctx, opts.targets, budget, env.streams))) return 2;
      const r = await build(ctx, {targets: opts.targets, jobs: env.jobs, keepGoing: opts.flags['keep-going'] === true, signal: env.signal, emit, budget, batch: opts.flags['batch'] === true});
      if (!r.ok) return report(r.error);
      if (env.signal.aborted) return 130;
      return r.value.failed + r.value.skipped === 0 ? 0 : 1;
    }
    case 'plan':
    case 'status': {
      const r = await planTargets(ctx, opts.targets, emit);
      if (!r.ok) return report(r.error);
      out(asJson ? JSON.stringify({targets: r.value}, null, 2) : formatPlan(r.value, opts.command === 'status' ? 'status' : 'plan'));
      return 0;
    }
    case 'why': {
      const r = await why(ctx, opts.targets[0]!, emit);
      if (!r.ok) return report(r.error);
      if (asJson) out(JSON.stringify(r.value, null, 2));
      else out(formatWhy(r.value.entry, r.value.causes));
      return 0;
    }
    case 'graph': {
      const sel = selectClosure(ctx.graph, opts.targets);
      if (!sel.ok) return report(sel.error);
      out(formatGraph(ctx.graph, sel.value, opts.flags['format'] === 'mermaid' ? 'mermaid' : 'dot'));
      return 0;
    }
    case 'clean': {
      const r = clean(ctx, opts.targets);
      if (!r.ok) return report(r.error);
      out(`removed ${r.value} output${r.value === 1 ? '' : 's'} from the workspace (the store still has them)`);
      return 0;
    }
    case 'cache-status': {
      const st = storeStatus(ctx.store);
      if (asJson) out(JSON.stringify(st, null, 2));
      else out(formatStoreStatus(st));
      return 0;
    }
    case 'cache-verify': {
      const r = verifyStore(ctx.store);
      if (asJson) out(JSON.stringify(r, null, 2));
      else {
        for (const p of r.problems) out(`problem: ${p}`);
        out(`checked ${r.blobs} blobs and ${r.actions} action entries in ${ctx.store.dir}: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`);
      }
      return r.problems.length === 0 ? 0 : 1;
    }
    case 'cache-gc':
      return gc(ctx, opts, out, emit);
    case 'exec':
      return exec(ctx, opts, env);
    case 'help':
    case 'version':
      throw new Error(`Internal error: ${opts.command} reached runCommand`);
    default:
      return unreachable(opts.command);
  }
}

async function gc(ctx: BuildContext, opts: Options, out: (t: string) => void, emit: (e: Event) => void): Promise<number> {
  const text = str(opts.flags['max-size']) ?? DEFAULT_GC_SIZE;
  const max = parseSize(text);
  if (max === undefined) {
    out(`stage: --max-size "${text}" is not a size; write e.g. 500M or 20G`);
    return 2;
  }
  // Live: what this workspace last built, and every key the current Stagefile's targets have now
  // (a target restored from the store in a fresh clone is as live as one built here).
  const live = new Set<ActionKey>();
  for (const name of ctx.state.targetNames()) {
    const rec = ctx.state.target(name);
    if (rec) live.add(rec.key);
  }
  const planned = await planTargets(ctx, [], emit);
  if (planned.ok) for (const e of planned.value) if (e.key !== undefined) live.add(e.key as ActionKey);
  const r = collectGarbage(ctx.store, max, live, opts.flags['include-live'] === true);
  const memo = compactMemo(ctx.store.dir);
  const mb = (n: number): string => `${(n / 1024 ** 2).toFixed(1)} MB`;
  const worth = r.evictedDollars > 0 || r.evictedGpuHours > 0 ? ` (worth $${r.evictedDollars.toFixed(2)} of model calls and ${r.evictedGpuHours.toFixed(1)} GPU-hours to recreate)` : '';
  out(`store ${mb(r.before)} -> ${mb(r.after)}: evicted ${r.evictedActions} entries${worth}, removed ${r.removedBlobs} blobs` +
    (r.keptLive > 0 ? `; kept ${r.keptLive} entries the workspace uses (--include-live to evict them too)` : '') +
    (r.memoBytes > 0 ? `; the model-call memo (${mb(r.memoBytes)}) is never evicted` : '') +
    (memo.merged > 0 ? `; merged ${memo.merged} finished memo segments into one (${memo.answers} answers)` : ''));
  return 0;
}

function formatWhy(entry: import('../schedule/plan.js').PlanEntry, causes: readonly import('../schedule/plan.js').PlanEntry[]): string {
  const lines: string[] = [];
  switch (entry.action) {
    case 'fresh':
      lines.push(`${entry.target} is up to date: nothing in its key changed since it was built`);
      break;
    case 'restore':
      lines.push(`${entry.target} will be restored from the store: this exact key was built before`);
      break;
    case 'run':
      lines.push(`${entry.target} will run because:`, ...entry.reasons.map((r) => `  - ${r}`));
      if (entry.api) lines.push(`  ${formatApi(entry.api)}`);
      break;
    case 'pending':
    case 'error':
      lines.push(`${entry.target} ${entry.action === 'error' ? 'cannot build' : 'waits on dependencies that will run'}:`);
      for (const c of causes) lines.push(`  ${c.target} ${c.action === 'error' ? 'cannot build' : 'will run'} because:`, ...c.reasons.map((r) => `    - ${r}`));
      if (entry.action === 'pending') lines.push('  (it re-runs only if their outputs change)');
      break;
    default:
      unreachable(entry.action);
  }
  return lines.join('\n');
}


async function exec(ctx: BuildContext, opts: Options, env: CommandEnv): Promise<number> {
  const key = str(opts.flags['key']);
  const staging = str(opts.flags['staging']);
  const shardText = str(opts.flags['shard']);
  if (!key || !staging) {
    env.streams.err.write('stage exec: --key and --staging are required (the driver passes them)\n');
    return 2;
  }
  const r = await execTarget(ctx, {
    target: opts.targets[0]!, key, staging: resolve(env.cwd, staging), shard: shardText === undefined ? undefined : Number(shardText),
    log: resolve(env.cwd, str(opts.flags['log']) ?? join(staging, 'rule.log')), signal: env.signal,
  });
  if (!r.ok) {
    env.streams.err.write(`stage exec: ${r.error}\n`);
    return 3;
  }
  if (r.value) {
    env.streams.err.write(`stage exec: ${opts.targets[0]!}: ${describeFailure(r.value)}\n`);
    return r.value.kind === 'cancelled' ? 130 : 1;
  }
  return 0;
}

function formatStoreStatus(st: StoreStatus): string {
  const mb = (n: number): string => `${(n / 1024 ** 2).toFixed(1)} MB`;
  const lines = [
    `store ${st.dir}${st.group ? ' (shared by its group: setgid)' : ''}`,
    `  ${st.entries} action entries, ${st.blobs} blobs, ${mb(st.bytes)}`,
    `  model-call memo: ${st.memo.answers} answers, $${st.memo.dollars.toFixed(2)} paid for them, ${st.memo.segments} segment${st.memo.segments === 1 ? '' : 's'}`,
  ];
  if (st.leases.length === 0) lines.push('  nothing is being built in it now');
  for (const {name, holder: h} of st.leases) {
    const what = name.startsWith('call-') ? `model call for item ${h.what}` : h.what;
    lines.push(`  building: ${what}, by ${h.user}@${h.host} (pid ${h.pid}) since ${h.started}`);
  }
  return lines.join('\n');
}
