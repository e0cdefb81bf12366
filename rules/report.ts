import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {rule} from 'stage';
import {depFile} from './lib/io.js';
import type {Counts, Stat} from './winrates.js';

interface Summary {
  models: Record<string, {overall: Counts; byGroup: Record<string, Counts>}>;
  meanLogprob: Record<string, Record<string, Stat>>;
}

/** Vega-Lite specs of the paper's two figures, as pure data. */
export function winrateSpec(s: Summary): object {
  const values = Object.entries(s.models).flatMap(([model, v]) => [
    {model, group: 'overall', rate: v.overall.rate},
    ...Object.entries(v.byGroup).map(([g, c]) => ({model, group: `${g} round${g === '1' ? '' : 's'}`, rate: c.rate})),
  ]).filter((x) => x.rate !== null);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: 'Win rate against m0', width: 360, height: 220,
    data: {values},
    layer: [
      {mark: {type: 'line', point: true}, encoding: {x: {field: 'model', type: 'ordinal', title: 'iteration'}, y: {field: 'rate', type: 'quantitative', scale: {domain: [0, 1]}, title: 'win rate'}, color: {field: 'group', type: 'nominal'}}},
      {mark: {type: 'rule', strokeDash: [4, 4]}, encoding: {y: {datum: 0.5}}},
    ],
  };
}

export function logprobSpec(s: Summary): object {
  const values = Object.entries(s.meanLogprob).flatMap(([condition, byIt]) => Object.entries(byIt).map(([iteration, st]) => ({condition, iteration, mean: st.mean, lo: st.mean === null || st.sem === null ? null : st.mean - st.sem, hi: st.mean === null || st.sem === null ? null : st.mean + st.sem})))
    .filter((x) => x.mean !== null);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: 'Mean log p(oracle answer)', width: 360, height: 220,
    data: {values},
    layer: [
      {mark: {type: 'line', point: true}, encoding: {x: {field: 'iteration', type: 'ordinal'}, y: {field: 'mean', type: 'quantitative', scale: {zero: false}, title: 'mean log-probability'}, color: {field: 'condition', type: 'nominal'}}},
      {mark: 'errorbar', encoding: {x: {field: 'iteration', type: 'ordinal'}, y: {field: 'lo', type: 'quantitative'}, y2: {field: 'hi'}, color: {field: 'condition', type: 'nominal'}}},
    ],
  };
}

async function toSvg(spec: object): Promise<string> {
  const vega = await import('vega');
  const {compile} = await import('vega-lite');
  const view = new vega.View(vega.parse(compile(spec as never).spec), {renderer: 'none'});
  return view.toSVG();
}

/** `report/`: the two figures as SVG and an HTML page that shows them with the numbers. */
export const renderReport = rule('report', async ({deps, out}) => {
  const s = JSON.parse(readFileSync(depFile(deps, 'winrates'), 'utf8')) as Summary;
  mkdirSync(out, {recursive: true});
  const [wr, lp] = [await toSvg(winrateSpec(s)), await toSvg(logprobSpec(s))];
  writeFileSync(join(out, 'winrates.svg'), wr);
  writeFileSync(join(out, 'logprobs.svg'), lp);
  const fmt = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(3));
  const rows = Object.entries(s.models).map(([m, v]) => `<tr><td>${m}</td><td>${fmt(v.overall.rate)}</td>${[1, 2, 3].map((g) => `<td>${fmt(v.byGroup[String(g)]?.rate ?? null)}</td>`).join('')}<td>${v.overall.wins}/${v.overall.losses}/${v.overall.ties}/${v.overall.unparseable}</td></tr>`).join('\n');
  const its = Object.keys(Object.values(s.meanLogprob)[0] ?? {});
  const lpRows = Object.entries(s.meanLogprob).map(([c, byIt]) => `<tr><td>${c}</td>${its.map((it) => `<td>${byIt[it]?.mean?.toFixed(2) ?? 'n/a'} ± ${byIt[it]?.sem?.toFixed(2) ?? 'n/a'}</td>`).join('')}</tr>`).join('\n');
  writeFileSync(join(out, 'index.html'), `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>STaR-GATE results</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}td:first-child,th:first-child{text-align:left}</style></head>
<body><h1>STaR-GATE results</h1>
<h2>Win rate against m0</h2>${wr}
<table><tr><th>model</th><th>overall</th><th>1 round</th><th>2 rounds</th><th>3 rounds</th><th>wins/losses/ties/unparseable</th></tr>
${rows}</table>
<h2>Mean log p(oracle answer)</h2>${lp}
<table><tr><th>condition</th>${its.map((it) => `<th>${it}</th>`).join('')}</tr>
${lpRows}</table>
</body></html>
`);
});
