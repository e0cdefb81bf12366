/**
 * The state machine of `stage watch`, pure: `transition(state, event)` returns the next state and
 * the effects the driver (watcher.ts) must run. Timers, file watching, planning and building live
 * in the driver; every decision about when to build, interrupt, wait or stop lives here, so each
 * one is unit-tested without a file system or a clock.
 *
 *   idle ──change──▶ debouncing ──elapsed──▶ planning ──build──▶ building ──finished──▶ idle
 *                      ▲   │                   │ confirm / needs SLURM / failed        │ change
 *                      │   └─change: restart   ▼                                       ▼
 *                      └──── change ──── awaiting-confirmation, blocked     interrupting (abort)
 *
 * A change while local work runs aborts the build, which the scheduler stops without storing
 * anything partial; the next build starts after the debounce. While SLURM jobs of the build are
 * in flight it is not aborted (that would cancel GPU jobs): the change is kept and the next
 * build follows once the jobs are done.
 */
import {unreachable} from '../util/unreachable.js';

export type WatchStateName = 'idle' | 'debouncing' | 'planning' | 'building' | 'interrupting' | 'awaiting-confirmation' | 'blocked' | 'stopping' | 'stopped';

/** Changes seen since the last plan: their paths (for messages) and whether the Stagefile must be loaded again. */
export interface Pending {
  readonly paths: readonly string[];
  readonly reload: boolean;
}

export type WatchState =
  | {readonly name: 'idle'}
  | {readonly name: 'debouncing'; readonly pending: Pending}
  /** Reloading (if asked) and planning; `dirty` holds changes seen meanwhile, which void the plan. */
  | {readonly name: 'planning'; readonly trigger: string; readonly dirty: Pending | undefined}
  /** `slurmJobs`: targets of this build with SLURM jobs in flight; `dirty`: changes to build next. */
  | {readonly name: 'building'; readonly slurmJobs: number; readonly dirty: Pending | undefined}
  /** The build was aborted because of `pending`; waiting for it to wind down. */
  | {readonly name: 'interrupting'; readonly pending: Pending}
  | {readonly name: 'awaiting-confirmation'}
  /** Nothing to do until a file changes; `reload` when the last load of the Stagefile failed. */
  | {readonly name: 'blocked'; readonly reload: boolean}
  | {readonly name: 'stopping'}
  | {readonly name: 'stopped'};

/** What the plan before a build concluded. */
export type Verdict =
  | {readonly kind: 'build'}
  /** Model calls to pay exceed the user's confirmAbove: a `y` must confirm. */
  | {readonly kind: 'confirm'; readonly dollars: number; readonly threshold: number}
  /** Targets to run are SLURM jobs and --allow-slurm was not given. */
  | {readonly kind: 'needs-slurm'; readonly targets: readonly string[]}
  /** The Stagefile did not load, or the targets cannot be selected; `reload` if it must be loaded again. */
  | {readonly kind: 'failed'; readonly message: string; readonly reload: boolean};

export type WatchEvent =
  | {readonly type: 'change'; readonly paths: readonly string[]; readonly reload: boolean}
  | {readonly type: 'debounce-elapsed'}
  | {readonly type: 'planned'; readonly verdict: Verdict}
  /** A `y` line on stdin. */
  | {readonly type: 'confirmed'}
  /** A target of the running build submitted a SLURM job (counted once per target). */
  | {readonly type: 'slurm-started'}
  /** A target with a SLURM job finished, failed or was skipped. */
  | {readonly type: 'slurm-ended'}
  | {readonly type: 'build-finished'}
  /** Ctrl-C or SIGTERM. */
  | {readonly type: 'stop'};

export type Effect =
  /** (Re)start the debounce timer; it fires `debounce-elapsed`. */
  | {readonly kind: 'start-timer'}
  | {readonly kind: 'cancel-timer'}
  /** Load the Stagefile again if `reload`, recompute the watched files, plan; then fire `planned`. */
  | {readonly kind: 'plan'; readonly reload: boolean}
  /** Start a build; it fires `build-finished` when it ends. */
  | {readonly kind: 'build'}
  /** Abort the running build's signal. */
  | {readonly kind: 'abort-build'}
  /** Show the plan and ask for a `y`. */
  | {readonly kind: 'ask-confirmation'; readonly dollars: number; readonly threshold: number}
  /** Say which targets need the cluster. */
  | {readonly kind: 'report-needs-slurm'; readonly targets: readonly string[]}
  /** Stop watching (close the file watcher and stdin); the command ends. */
  | {readonly kind: 'close'};

export interface Transition {
  readonly state: WatchState;
  readonly effects: readonly Effect[];
  /** Set when the state changed: why, in words, for the `watch-state` event. */
  readonly reason?: string;
}

/** The first state: plan the first build at once, without waiting for a change. */
export function initial(): Transition {
  return {state: {name: 'planning', trigger: 'first build', dirty: undefined}, effects: [{kind: 'plan', reload: false}], reason: 'first build'};
}

export function transition(state: WatchState, event: WatchEvent): Transition {
  if (event.type === 'stop') return stop(state);
  switch (state.name) {
    case 'idle':
      return event.type === 'change' ? debounce(pendingOf(event)) : stay(state);
    case 'debouncing':
      if (event.type === 'change') return {state: {name: 'debouncing', pending: merge(state.pending, pendingOf(event))}, effects: [{kind: 'start-timer'}]};
      if (event.type === 'debounce-elapsed') {
        const trigger = describeChange(state.pending.paths);
        return {state: {name: 'planning', trigger, dirty: undefined}, effects: [{kind: 'plan', reload: state.pending.reload}], reason: trigger};
      }
      return stay(state);
    case 'planning':
      return planning(state, event);
    case 'building':
      return building(state, event);
    case 'interrupting':
      if (event.type === 'change') return {state: {name: 'interrupting', pending: merge(state.pending, pendingOf(event))}, effects: []};
      if (event.type === 'build-finished') return {...debounce(state.pending), reason: `the interrupted build stopped; rebuilding for ${describeChange(state.pending.paths)}`};
      return stay(state);
    case 'awaiting-confirmation':
      if (event.type === 'confirmed') return {state: {name: 'building', slurmJobs: 0, dirty: undefined}, effects: [{kind: 'build'}], reason: 'confirmed'};
      return event.type === 'change' ? debounce(pendingOf(event)) : stay(state);
    case 'blocked':
      if (event.type !== 'change') return stay(state);
      return debounce({paths: event.paths, reload: event.reload || state.reload});
    case 'stopping':
      return event.type === 'build-finished' || event.type === 'planned' ? {state: {name: 'stopped'}, effects: [{kind: 'close'}], reason: 'stopped'} : stay(state);
    case 'stopped':
      return stay(state);
    default:
      return unreachable(state);
  }
}

function planning(state: Extract<WatchState, {name: 'planning'}>, event: WatchEvent): Transition {
  if (event.type === 'change') {
    return {state: {...state, dirty: state.dirty ? merge(state.dirty, pendingOf(event)) : pendingOf(event)}, effects: []};
  }
  if (event.type !== 'planned') return stay(state);
  const v = event.verdict;
  // What changed while planning makes the plan stale: plan again once the files settle.
  if (state.dirty) return {...debounce({...state.dirty, reload: state.dirty.reload || (v.kind === 'failed' && v.reload)}), reason: `${describeChange(state.dirty.paths)} while planning`};
  switch (v.kind) {
    case 'build':
      return {state: {name: 'building', slurmJobs: 0, dirty: undefined}, effects: [{kind: 'build'}], reason: state.trigger};
    case 'confirm':
      return {
        state: {name: 'awaiting-confirmation'}, effects: [{kind: 'ask-confirmation', dollars: v.dollars, threshold: v.threshold}],
        reason: `the build may spend up to ~$${v.dollars.toFixed(2)} on model calls, above confirmAbove ($${v.threshold.toFixed(2)}): a line "y" starts it, a change plans again`,
      };
    case 'needs-slurm':
      return {
        state: {name: 'blocked', reload: false}, effects: [{kind: 'report-needs-slurm', targets: v.targets}],
        reason: `${listed(v.targets)} ${v.targets.length === 1 ? 'runs' : 'run'} on SLURM, and watch submits no jobs without --allow-slurm; waiting for a change`,
      };
    case 'failed':
      return {state: {name: 'blocked', reload: v.reload}, effects: [], reason: `${v.message}; waiting for a change`};
    default:
      return unreachable(v);
  }
}

function building(state: Extract<WatchState, {name: 'building'}>, event: WatchEvent): Transition {
  switch (event.type) {
    case 'change': {
      const pending = state.dirty ? merge(state.dirty, pendingOf(event)) : pendingOf(event);
      if (state.slurmJobs > 0) {
        // Aborting now would cancel GPU jobs: let the build finish, then build again.
        return {state: {...state, dirty: pending}, effects: [], reason: `${describeChange(event.paths)}; SLURM jobs are in flight, so the build goes on and another follows it`};
      }
      return {state: {name: 'interrupting', pending}, effects: [{kind: 'abort-build'}], reason: describeChange(event.paths)};
    }
    case 'slurm-started':
      return {state: {...state, slurmJobs: state.slurmJobs + 1}, effects: []};
    case 'slurm-ended': {
      const slurmJobs = Math.max(0, state.slurmJobs - 1);
      // The jobs are done and a change is waiting: the rest of this build is stale, stop it.
      if (slurmJobs === 0 && state.dirty) return {state: {name: 'interrupting', pending: state.dirty}, effects: [{kind: 'abort-build'}], reason: `the SLURM jobs are done; ${describeChange(state.dirty.paths)}`};
      return {state: {...state, slurmJobs}, effects: []};
    }
    case 'build-finished':
      if (state.dirty) return {...debounce(state.dirty), reason: `the build finished; rebuilding for ${describeChange(state.dirty.paths)}`};
      return {state: {name: 'idle'}, effects: [], reason: 'the build finished'};
    case 'debounce-elapsed':
    case 'planned':
    case 'confirmed':
    case 'stop':
      return stay(state);
    default:
      return unreachable(event);
  }
}

function stop(state: WatchState): Transition {
  switch (state.name) {
    case 'idle':
    case 'awaiting-confirmation':
    case 'blocked':
      return {state: {name: 'stopped'}, effects: [{kind: 'close'}], reason: 'interrupted'};
    case 'debouncing':
      return {state: {name: 'stopped'}, effects: [{kind: 'cancel-timer'}, {kind: 'close'}], reason: 'interrupted'};
    // A plan cannot be aborted (it is short); the driver closes once it returns.
    case 'planning':
      return {state: {name: 'stopping'}, effects: [], reason: 'interrupted'};
    // Ctrl-C stops a build as `stage build` does: children terminated, SLURM jobs cancelled.
    case 'building':
      return {state: {name: 'stopping'}, effects: [{kind: 'abort-build'}], reason: 'interrupted'};
    case 'interrupting':
      return {state: {name: 'stopping'}, effects: [], reason: 'interrupted'};
    case 'stopping':
    case 'stopped':
      return stay(state);
    default:
      return unreachable(state);
  }
}

function debounce(pending: Pending): Transition {
  return {state: {name: 'debouncing', pending}, effects: [{kind: 'start-timer'}], reason: describeChange(pending.paths)};
}

function stay(state: WatchState): Transition {
  return {state, effects: []};
}

function pendingOf(e: {readonly paths: readonly string[]; readonly reload: boolean}): Pending {
  return {paths: e.paths, reload: e.reload};
}

/** Paths kept for messages: enough to name what changed, bounded however long the burst. */
const MAX_PATHS = 20;

export function merge(a: Pending, b: Pending): Pending {
  const paths = [...a.paths];
  for (const p of b.paths) if (!paths.includes(p) && paths.length < MAX_PATHS) paths.push(p);
  return {paths, reload: a.reload || b.reload};
}

/** `change in prompts/judge.md`, `change in a.txt, b.txt and 3 more`. */
export function describeChange(paths: readonly string[]): string {
  return paths.length === 0 ? 'change' : `change in ${listed(paths)}`;
}

function listed(items: readonly string[]): string {
  if (items.length <= 3) return items.join(', ');
  return `${items.slice(0, 2).join(', ')} and ${items.length - 2} more`;
}
