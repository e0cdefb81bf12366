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
  return lines.join('\n');
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
