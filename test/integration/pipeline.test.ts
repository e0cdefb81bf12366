import {cpSync, readFileSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {describe, expect} from 'vitest';
import type {Event} from '../../src/event.js';
import type {PlanEntry} from '../../src/schedule/plan.js';
import {namesOf, test, type Rig} from '../util/rig.js';

const REPO = resolve(import.meta.dirname, '..', '..');

/** The repository's own pipeline, copied into the rig's workspace. */
function copyPipeline(rig: Rig): void {
  for (const part of ['Stagefile.ts', 'rules', 'prompts', 'schemas', 'data']) cpSync(join(REPO, part), join(rig.dir, part), {recursive: true});
}

/** The failures of a run, for assertion messages. */
function failures(events: readonly Event[]): string {
  return JSON.stringify(events.filter((e) => e.type === 'target-failed' || e.type === 'diagnostic'));
}

function reports(events: readonly Event[]): string {
  return events.flatMap((e) => (e.type === 'target-report' ? [e.text] : [])).join('\n');
}

describe('STaR-GATE on the embedded model world (profile tiny)', () => {
  test('builds winrates end to end; a rebuild is all hits; prompt and parameter edits re-run exactly what they touch', async ({rig}) => {
    copyPipeline(rig);
    const first = await rig.run(['build', 'winrates', '--profile', 'tiny']);
    expect(first.code, failures(first.events)).toBe(0);
    const all = namesOf(first.events, 'target-succeeded');
    expect(all).toContain('model/m3');
    expect(all).toContain('judgments/m3');
    const summary = JSON.parse(rig.read('out/winrates.json')) as {models: Record<string, {overall: {rate: number | null; wins: number; losses: number}}>};
    for (const m of ['m1', 'm2', 'm3']) expect(summary.models[m]!.overall.wins + summary.models[m]!.overall.losses).toBeGreaterThan(0);
    expect(reports(first.events)).toMatch(/m1: \d+\.\d%/);

    const again = await rig.run(['build', 'winrates', '--profile', 'tiny']);
    expect(namesOf(again.events, 'target-succeeded')).toEqual([]);
    expect(namesOf(again.events, 'target-restored')).toEqual([]);
    expect(reports(again.events)).toMatch(/m1: \d+\.\d%/);

    // The judge's prompt: only the judge calls and what reads their output.
    rig.write({'prompts/judge.md': `${rig.read('prompts/judge.md')}\nBe strict.\n`});
    const judged = await rig.run(['build', 'winrates', '--profile', 'tiny']);
    expect(namesOf(judged.events, 'target-succeeded')).toEqual(['judgments/m1', 'judgments/m2', 'judgments/m3', 'winrates']);

    // A persona-writer parameter: the personas and everything downstream of them.
    const planned = JSON.parse((await rig.run(['plan', 'winrates', '--profile', 'tiny', '--json'])).stdout) as {targets: PlanEntry[]};
    expect(planned.targets.every((e) => e.action === 'fresh')).toBe(true);
    rig.write({'Stagefile.ts': rig.read('Stagefile.ts').replace('seed: 1000 + SPLITS.indexOf(s)', 'seed: 2000 + SPLITS.indexOf(s)')});
    const edited = await rig.run(['build', 'winrates', '--profile', 'tiny']);
    expect(edited.code, failures(edited.events)).toBe(0);
    const ran = namesOf(edited.events, 'target-succeeded');
    const expected = all.filter((t) => !t.startsWith('tasks/')).sort();
    expect(ran).toEqual(expected);
  }, 600_000);

  test('the paper profile plans 110 persona calls, 25,500 oracle calls and 900 judge calls with no key and no data', async ({rig}) => {
    copyPipeline(rig);
    const r = await rig.run(['plan', 'winrates', '--profile', 'paper', '--json'], {OPENAI_API_KEY: ''});
    expect(r.code, r.stderr).toBe(0);
    const entries = (JSON.parse(r.stdout) as {targets: PlanEntry[]}).targets;
    const calls = (prefix: string): number => entries.filter((e) => e.target.startsWith(prefix)).reduce((s, e) => s + (e.api?.calls ?? 0), 0);
    expect(calls('personas/')).toBe(110);
    expect(calls('gold/')).toBe(25_500);
    expect(calls('judgments/')).toBe(900);
    for (const e of entries.filter((x) => x.api)) expect(e.api!.dollars).toBeGreaterThan(0);
    const text = await rig.run(['plan', 'winrates', '--profile', 'paper']);
    expect(text.stdout).toContain('model calls: 26,510 in all');
    expect(readFileSync(join(rig.dir, 'Stagefile.ts'), 'utf8')).toContain("profile('demo')");
  });

  test.skipIf(!process.env['STAGE_TEST_SLURM'])('runs with every GPU step as a SLURM job on the local cluster', async ({rig}) => {
    copyPipeline(rig);
    const r = await rig.run(['build', 'winrates', '--profile', 'tiny-slurm', '-j', '4']);
    expect(r.code, failures(r.events)).toBe(0);
    const submitted = r.events.filter((e) => e.type === 'slurm-submitted').map((e) => (e as {target: string}).target);
    for (const t of ['sim/m0/A', 'logprobs/m0/A', 'regularizer/m0/A', 'model/m1', 'sim/m3/test', 'responses/m3']) expect(submitted).toContain(t);
    const summary = JSON.parse(rig.read('out/winrates.json')) as {models: Record<string, {overall: {wins: number; losses: number}}>};
    expect(summary.models['m3']!.overall.wins + summary.models['m3']!.overall.losses).toBeGreaterThan(0);
    expect(namesOf((await rig.run(['build', 'winrates', '--profile', 'tiny-slurm'])).events, 'target-succeeded')).toEqual([]);
  }, 900_000);
});
