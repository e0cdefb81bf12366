import {slurmTimeSeconds, type GpuEstimate} from '../execute/slurm/resources.js';
import {formatSlurmTime} from '../execute/slurm/script.js';
import type {ApiEstimate} from '../llm/estimate.js';
import type {PlanEntry} from '../schedule/plan.js';

const WORD: Record<PlanEntry['action'], string> = {
  fresh: 'up to date', restore: 'restore', run: 'run', pending: 'pending', error: 'error',
};

/**
 * A plan as text: one line per target that has something to do (with what its model calls would
 * cost), then a summary. `status` lists every target, fresh ones included.
 */
export function formatPlan(entries: readonly PlanEntry[], mode: 'plan' | 'status'): string {
  const lines: string[] = [];
  const width = Math.min(40, Math.max(0, ...entries.map((e) => e.target.length)));
  for (const e of entries) {
    if (mode === 'plan' && e.action === 'fresh') continue;
    const reason = e.reasons.length > 0 ? `  ${e.reasons[0]}${e.reasons.length > 1 ? ` (+${e.reasons.length - 1} more)` : ''}` : '';
    lines.push(`${WORD[e.action].padEnd(10)} ${e.target.padEnd(width)}${mode === 'plan' ? reason : ''}`);
    if (mode === 'plan' && e.api) lines.push(`${' '.repeat(11)}${formatApi(e.api)}`);
    if (mode === 'plan' && e.gpu) lines.push(`${' '.repeat(11)}${formatGpu(e.gpu)}`);
  }
  const count = (a: PlanEntry['action']): number => entries.filter((e) => e.action === a).length;
  lines.push(`${entries.length} targets: ${count('run')} to run, ${count('pending')} pending on those, ${count('restore')} to restore, ${count('fresh')} up to date` +
    (count('error') ? `, ${count('error')} cannot build` : ''));
  const apis = entries.flatMap((e) => (e.api ? [e.api] : []));
  if (mode === 'plan' && apis.length > 0) {
    const sum = (f: (a: ApiEstimate) => number): number => apis.reduce((s, a) => s + f(a), 0);
    lines.push(`model calls: ${int(sum((a) => a.calls))} in all, ${int(sum((a) => a.memoized))} memoized, ${int(sum((a) => a.toPay))} to pay; ` +
      `~${tokens(sum((a) => a.promptTokens))} prompt + ≤${tokens(sum((a) => a.completionTokens))} completion tokens; ` +
      `~${usd(sum((a) => a.dollars))} real-time, ~${usd(sum((a) => a.batchDollars))} with the Batch API`);
  }
  const gpus = entries.flatMap((e) => (e.gpu && e.action !== 'fresh' ? [e.gpu] : []));
  if (mode === 'plan' && gpus.length > 0) {
    const known = gpus.flatMap((g) => (g.gpuHours === null ? [] : [g.gpuHours]));
    const unknown = gpus.length - known.length;
    const jobs = gpus.reduce((n, g) => n + g.shards, 0);
    lines.push(`SLURM: ${gpus.length} target${gpus.length === 1 ? '' : 's'} as ${int(jobs)} job task${jobs === 1 ? '' : 's'}, ` +
      `≤${hours(known.reduce((a, b) => a + b, 0))} GPU-hours at most (GPUs × time limit × shards)` +
      (unknown > 0 ? `, plus ${unknown} target${unknown === 1 ? '' : 's'} with GPUs but no time limit` : ''));
  }
  return lines.join('\n');
}

/** One SLURM target's request: `slurm: 2×gpu:a100, 8 CPUs, 64G, time limit 04:00:00 × 8 shards → ≤64.0 GPU-hours`. */
export function formatGpu(g: GpuEstimate): string {
  const parts = [g.gpus > 0 ? `${g.gpus}×gpu${g.gpuType ? `:${g.gpuType}` : ''}` : 'no GPU'];
  if (g.cpus !== undefined) parts.push(`${g.cpus} CPU${g.cpus === 1 ? '' : 's'}`);
  if (g.mem !== undefined) parts.push(g.mem);
  const seconds = g.time === undefined ? undefined : slurmTimeSeconds(g.time);
  parts.push(g.time === undefined ? "the partition's default time limit" : `time limit ${seconds === undefined ? g.time : formatSlurmTime(seconds)}`);
  const hoursText = g.gpus === 0 ? 'no GPU-hours' : g.gpuHours === null ? 'GPU-hours unknown (no time limit)' : `≤${hours(g.gpuHours)} GPU-hours`;
  return `slurm: ${parts.join(', ')}${g.shards > 1 ? ` × ${g.shards} shards` : ''} → ${hoursText}`;
}

function hours(h: number): string {
  return h >= 100 ? int(Math.round(h)) : h >= 10 ? h.toFixed(1) : h.toFixed(2);
}

export function formatApi(a: ApiEstimate): string {
  const what = `calls: ${int(a.calls)} (${int(a.memoized)} memoized, ${int(a.toPay)} to pay)`;
  const cost = `~${tokens(a.promptTokens)} prompt + ≤${tokens(a.completionTokens)} completion tokens, ~${usd(a.dollars)} real-time, ~${usd(a.batchDollars)} batch`;
  return `${what} · ${cost}${a.note ? ` (${a.note})` : ''}`;
}

function int(n: number): string {
  return n.toLocaleString('en-US');
}

function tokens(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${Math.round(n / 1e3)}k` : String(n);
}

export function usd(n: number): string {
  return `$${n.toFixed(2)}`;
}
