import {describe, expect, it} from 'vitest';
import {describeChange, initial, merge, transition, type Effect, type Transition, type WatchEvent, type WatchState} from '../../src/watch/machine.js';

const change = (paths: string[], reload = false): WatchEvent => ({type: 'change', paths, reload});
const planned = (verdict: Extract<WatchEvent, {type: 'planned'}>['verdict']): WatchEvent => ({type: 'planned', verdict});
const kinds = (t: Transition): Effect['kind'][] => t.effects.map((e) => e.kind);

/** Runs events from a state; returns every transition, so a test can check the path taken. */
function run(from: WatchState, ...events: WatchEvent[]): Transition[] {
  const out: Transition[] = [];
  let state = from;
  for (const e of events) {
    const t = transition(state, e);
    out.push(t);
    state = t.state;
  }
  return out;
}

const idle: WatchState = {name: 'idle'};
const building: WatchState = {name: 'building', slurmJobs: 0, dirty: undefined};
const planning: WatchState = {name: 'planning', trigger: 'change in a.txt', dirty: undefined};

describe('the watch state machine', () => {
  it('starts by planning the first build, without waiting for a change', () => {
    const t = initial();
    expect(t.state).toEqual({name: 'planning', trigger: 'first build', dirty: undefined});
    expect(t.effects).toEqual([{kind: 'plan', reload: false}]);
  });

  it('a change debounces; more changes restart the timer and accumulate; then it plans, reloading if a source changed', () => {
    const [a, b, c, d] = run(idle, change(['data/a.txt']), change(['Stagefile.ts'], true), change(['data/a.txt']), {type: 'debounce-elapsed'});
    expect(a!.state).toEqual({name: 'debouncing', pending: {paths: ['data/a.txt'], reload: false}});
    expect(kinds(a!)).toEqual(['start-timer']);
    expect(a!.reason).toBe('change in data/a.txt');
    expect(b!.state).toEqual({name: 'debouncing', pending: {paths: ['data/a.txt', 'Stagefile.ts'], reload: true}});
    expect(kinds(b!)).toEqual(['start-timer']);
    expect(b!.reason).toBeUndefined();
    expect(c!.state).toEqual(b!.state);
    expect(d!.state).toEqual({name: 'planning', trigger: 'change in data/a.txt, Stagefile.ts', dirty: undefined});
    expect(d!.effects).toEqual([{kind: 'plan', reload: true}]);
  });

  it('a plan that may build starts the build; the end of the build goes back to idle', () => {
    const [a, b] = run(planning, planned({kind: 'build'}), {type: 'build-finished'});
    expect(a!.state).toEqual(building);
    expect(kinds(a!)).toEqual(['build']);
    expect(a!.reason).toBe('change in a.txt');
    expect(b!.state).toEqual(idle);
    expect(b!.effects).toEqual([]);
    expect(b!.reason).toBe('the build finished');
  });

  it('a change while local work runs aborts the build, then rebuilds after the debounce', () => {
    const [a, b, c, d] = run(building, change(['data/a.txt']), change(['data/b.txt']), {type: 'build-finished'}, {type: 'debounce-elapsed'});
    expect(a!.state).toEqual({name: 'interrupting', pending: {paths: ['data/a.txt'], reload: false}});
    expect(kinds(a!)).toEqual(['abort-build']);
    // Already aborting: the second change only joins the pending set.
    expect(b!.effects).toEqual([]);
    expect(c!.state).toEqual({name: 'debouncing', pending: {paths: ['data/a.txt', 'data/b.txt'], reload: false}});
    expect(kinds(c!)).toEqual(['start-timer']);
    expect(d!.effects).toEqual([{kind: 'plan', reload: false}]);
  });

  it('a change while SLURM jobs are in flight does not abort: the build finishes, then another follows', () => {
    const [a, b, c, d] = run(building, {type: 'slurm-started'}, change(['data/a.txt']), change(['rules/x.ts'], true), {type: 'build-finished'});
    expect(a!.state).toEqual({name: 'building', slurmJobs: 1, dirty: undefined});
    expect(b!.state).toEqual({name: 'building', slurmJobs: 1, dirty: {paths: ['data/a.txt'], reload: false}});
    expect(b!.effects).toEqual([]);
    expect(b!.reason).toMatch(/SLURM jobs are in flight/);
    expect(c!.effects).toEqual([]);
    expect(d!.state).toEqual({name: 'debouncing', pending: {paths: ['data/a.txt', 'rules/x.ts'], reload: true}});
    expect(kinds(d!)).toEqual(['start-timer']);
  });

  it('once the SLURM jobs are done, a waiting change aborts the rest of the build', () => {
    const [, , c] = run(building, {type: 'slurm-started'}, change(['a.txt']), {type: 'slurm-ended'});
    expect(c!.state).toEqual({name: 'interrupting', pending: {paths: ['a.txt'], reload: false}});
    expect(kinds(c!)).toEqual(['abort-build']);
    // Without a waiting change, the build simply goes on.
    const [, quiet] = run(building, {type: 'slurm-started'}, {type: 'slurm-ended'});
    expect(quiet!.state).toEqual(building);
    expect(quiet!.effects).toEqual([]);
  });

  it('above confirmAbove it waits for a y: only a y builds, a change plans again', () => {
    const [a] = run(planning, planned({kind: 'confirm', dollars: 0.4, threshold: 0.05}));
    expect(a!.state).toEqual({name: 'awaiting-confirmation'});
    expect(a!.effects).toEqual([{kind: 'ask-confirmation', dollars: 0.4, threshold: 0.05}]);
    expect(a!.reason).toMatch(/up to ~\$0\.40 .* above confirmAbove \(\$0\.05\)/);
    for (const e of [{type: 'debounce-elapsed'}, {type: 'build-finished'}, {type: 'slurm-started'}] as WatchEvent[]) {
      expect(transition(a!.state, e)).toEqual({state: a!.state, effects: []});
    }
    const yes = transition(a!.state, {type: 'confirmed'});
    expect(yes.state).toEqual(building);
    expect(kinds(yes)).toEqual(['build']);
    const replan = transition(a!.state, change(['prompts/judge.md']));
    expect(replan.state).toEqual({name: 'debouncing', pending: {paths: ['prompts/judge.md'], reload: false}});
  });

  it('a y that arrives when nothing waits for it is ignored', () => {
    for (const s of [idle, building, planning, {name: 'blocked', reload: false}] as WatchState[]) {
      expect(transition(s, {type: 'confirmed'})).toEqual({state: s, effects: []});
    }
  });

  it('SLURM targets without --allow-slurm block until the next change', () => {
    const [a, b] = run(planning, planned({kind: 'needs-slurm', targets: ['model/m1']}), change(['data/a.txt']));
    expect(a!.state).toEqual({name: 'blocked', reload: false});
    expect(a!.effects).toEqual([{kind: 'report-needs-slurm', targets: ['model/m1']}]);
    expect(a!.reason).toMatch(/model\/m1 runs on SLURM.*--allow-slurm/);
    expect(b!.state).toEqual({name: 'debouncing', pending: {paths: ['data/a.txt'], reload: false}});
  });

  it('a Stagefile that fails to load blocks, and the next change reloads it even if only an input changed', () => {
    const [a, b, c] = run(planning, planned({kind: 'failed', message: 'the Stagefile has errors', reload: true}), change(['data/a.txt']), {type: 'debounce-elapsed'});
    expect(a!.state).toEqual({name: 'blocked', reload: true});
    expect(b!.state).toEqual({name: 'debouncing', pending: {paths: ['data/a.txt'], reload: true}});
    expect(c!.effects).toEqual([{kind: 'plan', reload: true}]);
  });

  it('a change while planning voids the plan, whatever it said', () => {
    for (const verdict of [{kind: 'build'}, {kind: 'confirm', dollars: 9, threshold: 1}, {kind: 'needs-slurm', targets: ['x']}] as const) {
      const [a, b] = run(planning, change(['b.txt']), planned(verdict));
      expect(a!.state).toEqual({...planning, dirty: {paths: ['b.txt'], reload: false}});
      expect(a!.effects).toEqual([]);
      expect(b!.state).toEqual({name: 'debouncing', pending: {paths: ['b.txt'], reload: false}});
      expect(kinds(b!)).toEqual(['start-timer']);
    }
    // A failed reload is remembered: the next plan reloads again.
    const [, failed] = run(planning, change(['b.txt']), planned({kind: 'failed', message: 'x', reload: true}));
    expect(failed!.state).toEqual({name: 'debouncing', pending: {paths: ['b.txt'], reload: true}});
  });

  it('stop: at rest it closes at once; a build is aborted and closed once it ends; a plan is let finish', () => {
    for (const s of [idle, {name: 'awaiting-confirmation'}, {name: 'blocked', reload: true}] as WatchState[]) {
      const t = transition(s, {type: 'stop'});
      expect(t.state).toEqual({name: 'stopped'});
      expect(kinds(t)).toEqual(['close']);
    }
    expect(kinds(transition({name: 'debouncing', pending: {paths: [], reload: false}}, {type: 'stop'}))).toEqual(['cancel-timer', 'close']);
    const [a, b, c] = run(building, {type: 'stop'}, change(['a.txt']), {type: 'build-finished'});
    expect(a!.state).toEqual({name: 'stopping'});
    expect(kinds(a!)).toEqual(['abort-build']);
    expect(b!.effects).toEqual([]);
    expect(c!.state).toEqual({name: 'stopped'});
    expect(kinds(c!)).toEqual(['close']);
    const [p, q] = run(planning, {type: 'stop'}, planned({kind: 'build'}));
    expect(p!.effects).toEqual([]);
    expect(q!.state).toEqual({name: 'stopped'});
    expect(kinds(q!)).toEqual(['close']);
    // Stopping while an interrupted build winds down: no second abort, close when it ends.
    const [i, j] = run({name: 'interrupting', pending: {paths: ['a'], reload: false}}, {type: 'stop'}, {type: 'build-finished'});
    expect(i!.effects).toEqual([]);
    expect(kinds(j!)).toEqual(['close']);
    // Once stopped, nothing happens any more.
    for (const e of [change(['x']), {type: 'build-finished'}, {type: 'stop'}] as WatchEvent[]) {
      expect(transition({name: 'stopped'}, e)).toEqual({state: {name: 'stopped'}, effects: []});
    }
  });

  it('every state change carries a reason, so each one becomes a watch-state event', () => {
    const states: WatchState[] = [idle, planning, building, {name: 'interrupting', pending: {paths: ['a'], reload: false}}, {name: 'debouncing', pending: {paths: ['a'], reload: false}},
      {name: 'awaiting-confirmation'}, {name: 'blocked', reload: false}, {name: 'stopping'}, {name: 'building', slurmJobs: 1, dirty: undefined}];
    const events: WatchEvent[] = [change(['a']), {type: 'debounce-elapsed'}, planned({kind: 'build'}), planned({kind: 'confirm', dollars: 2, threshold: 1}),
      planned({kind: 'needs-slurm', targets: ['t']}), planned({kind: 'failed', message: 'm', reload: false}), {type: 'confirmed'}, {type: 'slurm-started'},
      {type: 'slurm-ended'}, {type: 'build-finished'}, {type: 'stop'}];
    for (const s of states) {
      for (const e of events) {
        const t = transition(s, e);
        if (t.state.name !== s.name) expect(t.reason, `${s.name} + ${e.type}`).toBeTruthy();
      }
    }
  });

  it('names what changed, briefly, and keeps a bounded list of paths', () => {
    expect(describeChange(['prompts/judge.md'])).toBe('change in prompts/judge.md');
    expect(describeChange(['a', 'b', 'c'])).toBe('change in a, b, c');
    expect(describeChange(['a', 'b', 'c', 'd', 'e'])).toBe('change in a, b and 3 more');
    const many = Array.from({length: 50}, (_, i) => `f${i}`);
    expect(merge({paths: [], reload: false}, {paths: many, reload: false}).paths).toHaveLength(20);
  });
});
