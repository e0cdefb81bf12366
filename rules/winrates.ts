import {writeFileSync} from 'node:fs';
import {rule} from 'stage';
import {depFile, readJsonl} from './lib/io.js';
import type {Judgment, Logprobs, Top1} from './lib/types.js';

export interface Counts {
  wins: number;
  losses: number;
  ties: number;
  unparseable: number;
  /** wins / (wins + losses); ties and unparseable verdicts are reported beside it, not hidden in it. */
  rate: number | null;
}

export interface Stat {
  mean: number | null;
  sem: number | null;
  n: number;
}

export function countVerdicts(js: readonly Judgment[]): Counts {
  const c = {wins: 0, losses: 0, ties: 0, unparseable: 0};
  for (const j of js) {
    if (j.winner === 'model') c.wins++;
    else if (j.winner === 'baseline') c.losses++;
    else if (j.winner === 'tie') c.ties++;
    else c.unparseable++;
  }
  return {...c, rate: c.wins + c.losses > 0 ? c.wins / (c.wins + c.losses) : null};
}

export function meanSem(xs: readonly number[]): Stat {
  if (xs.length === 0) return {mean: null, sem: null, n: 0};
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) : 0;
  return {mean, sem: Math.sqrt(variance / xs.length), n: xs.length};
}

interface WinrateParams {
  models: string[];
  iterations: string[];
  conditions: string[];
}

/** `winrates`: win rates of m1..m3 against the baseline, overall and per round-count group, and mean log p(gold) per iteration. */
export const winrates = rule<WinrateParams>('winrates', ({deps, params, out, report}) => {
  const models: Record<string, {overall: Counts; byGroup: Record<string, Counts>}> = {};
  for (const m of params.models) {
    const js = readJsonl<Judgment>(depFile(deps, `judgments/${m}`));
    const byGroup: Record<string, Counts> = {};
    for (const g of [1, 2, 3]) byGroup[String(g)] = countVerdicts(js.filter((j) => j.group === g));
    models[m] = {overall: countVerdicts(js), byGroup};
  }
  const meanLogprob: Record<string, Record<string, Stat>> = {};
  for (const c of params.conditions) {
    meanLogprob[c] = {};
    for (const it of params.iterations) meanLogprob[c]![it] = meanSem(readJsonl<Logprobs>(depFile(deps, `logprobs/${it}/test/${c}`)).flatMap((r) => r.logprobs));
  }
  meanLogprob['qa-experimental top-1'] = {};
  for (const it of params.iterations) meanLogprob['qa-experimental top-1']![it] = meanSem(readJsonl<Top1>(depFile(deps, `top1/${it}/test`)).map((t) => t.logprob));
  writeFileSync(out, `${JSON.stringify({models, meanLogprob}, null, 2)}\n`);
  const pct = (r: number | null): string => (r === null ? '  n/a' : `${(100 * r).toFixed(1)}%`);
  report('win rate against m0 (wins/(wins+losses); ties, unparseable):');
  for (const [m, v] of Object.entries(models)) {
    const o = v.overall;
    report(`  ${m}: ${pct(o.rate)} (${o.wins}/${o.wins + o.losses}; ${o.ties} ties, ${o.unparseable} unparseable)  by rounds 1/2/3: ${[1, 2, 3].map((g) => pct(v.byGroup[String(g)]!.rate)).join(' / ')}`);
  }
  report('mean log p(gold | conversation), qa-experimental, all conversations:');
  report(`  ${params.iterations.map((it) => `${it} ${meanLogprob['qa-experimental']?.[it]?.mean?.toFixed(2) ?? 'n/a'}`).join('   ')}`);
});
