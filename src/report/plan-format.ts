import type {PlanEntry} from '../schedule/plan.js';

const WORD: Record<PlanEntry['action'], string> = {
  fresh: 'up to date', restore: 'restore', run: 'run', pending: 'pending', error: 'error',
};

/**
 * A plan as text: one line per target that has something to do, then a summary. `status` lists
 * every target, fresh ones included.
 */
export function formatPlan(entries: readonly PlanEntry[], mode: 'plan' | 'status'): string {
  const lines: string[] = [];
  const width = Math.min(40, Math.max(0, ...entries.map((e) => e.target.length)));
  for (const e of entries) {
    if (mode === 'plan' && e.action === 'fresh') continue;
    const reason = e.reasons.length > 0 ? `  ${e.reasons[0]}${e.reasons.length > 1 ? ` (+${e.reasons.length - 1} more)` : ''}` : '';
    lines.push(`${WORD[e.action].padEnd(10)} ${e.target.padEnd(width)}${mode === 'plan' ? reason : ''}`);
  }
  const count = (a: PlanEntry['action']): number => entries.filter((e) => e.action === a).length;
  lines.push(`${entries.length} targets: ${count('run')} to run, ${count('pending')} pending on those, ${count('restore')} to restore, ${count('fresh')} up to date` +
    (count('error') ? `, ${count('error')} cannot build` : ''));
  return lines.join('\n');
}
