import {rmSync, utimesSync} from 'node:fs';
import {describe, expect} from 'vitest';
import {namesOf, test, type Rig} from '../util/rig.js';
import {prng} from '../../rules/lib/random.js';
import type {PlanEntry} from '../../src/schedule/plan.js';

interface Model {
  sources: string[];
  targets: {name: string; inputs: string[]; deps: string[]; version: number; cutoff: boolean}[];
}

function randomModel(rand: () => number): Model {
  const sources = Array.from({length: 5}, (_, i) => `src/s${i}.txt`);
  const count = 8 + Math.floor(rand() * 8);
  const targets: Model['targets'] = [];
  for (let i = 0; i < count; i++) {
    const inputs = sources.filter(() => rand() < 0.25);
    const deps = targets.filter(() => rand() < 0.3).slice(0, 3).map((t) => t.name);
    if (inputs.length === 0 && deps.length === 0) inputs.push(sources[i % sources.length]!);
    targets.push({name: `n${i}`, inputs, deps, version: 0, cutoff: rand() < 0.25});
  }
  return {sources, targets};
}

function stagefile(m: Model): string {
  const lines = [`import {sh, target} from 'stage';`];
  for (const t of m.targets) {
    // A cutoff target keeps one byte of its inputs, so most upstream edits leave it unchanged.
    const run = t.cutoff ? `(cat $in | head -c 1; echo v${t.version}) > $out` : `(cat $in; echo ${t.name} v${t.version}) > $out`;
    lines.push(`target('${t.name}', {inputs: ${JSON.stringify(t.inputs)}, deps: ${JSON.stringify(t.deps)}, out: 'out/${t.name}.txt', run: sh(${JSON.stringify(run)})});`);
  }
  return `${lines.join('\n')}\n`;
}

function randomEdit(rig: Rig, m: Model, rand: () => number): void {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  switch (Math.floor(rand() * 5)) {
    case 0:
      rig.write({[pick(m.sources)]: `${pick(['a', 'b', 'c'])}${Math.floor(rand() * 3)}\n`});
      break;
    case 1: {
      const later = new Date(Date.now() + Math.floor(rand() * 10_000));
      utimesSync(rig.path(pick(m.sources)), later, later);
      break;
    }
    case 2:
      pick(m.targets).version = Math.floor(rand() * 3);
      rig.write({'Stagefile.ts': stagefile(m)});
      break;
    case 3:
      rmSync(rig.path(`out/${pick(m.targets).name}.txt`), {force: true});
      break;
    default:
      rig.write({[pick(m.sources)]: 'a0\n'});
  }
}

describe('plan predicts exactly what build then does', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    test(`random DAG and edits, seed ${seed}`, async ({rig}) => {
      const rand = prng(seed);
      const m = randomModel(rand);
      rig.write({'Stagefile.ts': stagefile(m), ...Object.fromEntries(m.sources.map((s) => [s, 'a0\n']))});
      for (let round = 0; round < 4; round++) {
        if (round > 0) for (let k = 0, n = 1 + Math.floor(rand() * 3); k < n; k++) randomEdit(rig, m, rand);
        const planned = await rig.run(['plan', '--json']);
        expect(planned.code, planned.stderr).toBe(0);
        const entries = (JSON.parse(planned.stdout) as {targets: PlanEntry[]}).targets;
        const by = (a: PlanEntry['action']): Set<string> => new Set(entries.filter((e) => e.action === a).map((e) => e.target));
        const {ran, restored, result} = await rig.build();
        expect(result.code, result.stderr).toBe(0);
        const fresh = namesOf(result.events, 'target-fresh');
        const where = `seed ${seed}, round ${round}`;
        for (const t of by('run')) expect(ran, `${where}: planned run of ${t}`).toContain(t);
        for (const t of by('restore')) expect(restored, `${where}: planned restore of ${t}`).toContain(t);
        for (const t of by('fresh')) expect(fresh, `${where}: planned fresh ${t}`).toContain(t);
        // A pending target's key depends on outputs not yet made: it runs, is restored, or is
        // cut off (fresh) — and nothing outside the plan's run/pending sets runs at all.
        for (const t of ran) expect(by('run').has(t) || by('pending').has(t), `${where}: unplanned run of ${t}`).toBe(true);
        for (const t of restored) expect(by('restore').has(t) || by('pending').has(t), `${where}: unplanned restore of ${t}`).toBe(true);
        // After the build, a plan has nothing left to do.
        const after = JSON.parse((await rig.run(['plan', '--json'])).stdout) as {targets: PlanEntry[]};
        expect(after.targets.filter((e) => e.action !== 'fresh'), where).toEqual([]);
      }
    });
  }
});
