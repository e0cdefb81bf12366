import {setMaxListeners} from 'node:events';
import {join} from 'node:path';
import {createInterface, type Interface} from 'node:readline';
import {watch, type FSWatcher} from 'chokidar';
import {build, openProject, type OpenOptions} from '../api.js';
import type {Event} from '../event.js';
import {selectClosure} from '../graph/select.js';
import type {BuildContext} from '../schedule/context.js';
import type {PlanEntry} from '../schedule/plan.js';
import type {Diagnostic} from '../util/diagnostic.js';
import {messageOf} from '../util/result.js';
import {unreachable} from '../util/unreachable.js';
import {gateBuild} from './gate.js';
import {initial, transition, type Effect, type Transition, type Verdict, type WatchEvent, type WatchState} from './machine.js';
import {WatchedFiles, type FileEvent} from './watched-files.js';

export interface WatchOptions {
  /** How to open the project (the CLI's global options); opened again on each reload. */
  readonly open: Omit<OpenOptions, 'emit' | 'fresh'>;
  readonly targets: readonly string[];
  readonly jobs: number;
  readonly keepGoing: boolean;
  readonly budget: number | undefined;
  /** Build above confirmAbove without asking. */
  readonly yes: boolean;
  /** SLURM targets may submit jobs. */
  readonly allowSlurm: boolean;
  readonly debounceMs: number;
  readonly emit: (e: Event) => void;
  /** Aborted by Ctrl-C or SIGTERM: stop watching. */
  readonly signal: AbortSignal;
  /** Where a line `y` confirms a build above confirmAbove. */
  readonly stdin: NodeJS.ReadableStream;
}

/**
 * `stage watch`: builds the targets, then builds again whenever something their build depends
 * on changes, until interrupted. Returns the exit code: 2 if the Stagefile or the targets are
 * wrong at the start, otherwise 130 once stopped (later mistakes only pause the watcher).
 */
export async function watchTargets(opts: WatchOptions): Promise<number> {
  const report = (diags: readonly Diagnostic[]): number => {
    for (const diagnostic of diags) opts.emit({type: 'diagnostic', diagnostic});
    return 2;
  };
  const opened = await openProject({...opts.open, emit: opts.emit});
  if (!opened.ok) return report(opened.error);
  const selected = selectClosure(opened.value.graph, opts.targets);
  if (!selected.ok) return report(selected.error);
  return new Watcher(opts, opened.value, selected.value).run();
}

/**
 * Runs the effects of the state machine (machine.ts): the debounce timer, reloading and planning,
 * the build and its abort signal, the file watcher and stdin. Events from all of them go through
 * one queue, so each transition completes before the next begins.
 */
class Watcher {
  readonly #opts: WatchOptions;
  #ctx: BuildContext;
  /** The targets' closure in the current graph; undefined after a reload that could not select them. */
  #selected: readonly number[] | undefined;
  #files: WatchedFiles;
  #fsWatcher: FSWatcher | undefined;
  #stdin: Interface | undefined;
  #state: WatchState = {name: 'stopped'};
  readonly #queue: WatchEvent[] = [];
  #dispatching = false;
  #timer: NodeJS.Timeout | undefined;
  #build: AbortController | undefined;
  /** The last plan, shown when asking for confirmation. */
  #entries: readonly PlanEntry[] = [];
  /** File events of this turn of the event loop, sent as one change. */
  #burst: {paths: Set<string>; reload: boolean} | undefined;
  #finish: (code: number) => void = () => {};

  constructor(opts: WatchOptions, ctx: BuildContext, selected: readonly number[]) {
    this.#opts = opts;
    this.#ctx = ctx;
    this.#selected = selected;
    this.#files = new WatchedFiles(ctx, selected);
  }

  async run(): Promise<number> {
    const finished = new Promise<number>((resolve) => {
      this.#finish = resolve;
    });
    // Only once every watch is in place does the first build start, so no edit made during it is missed.
    this.#fsWatcher = await this.#watchFiles();
    this.#announceFiles();
    this.#stdin = createInterface({input: this.#opts.stdin, terminal: false});
    this.#stdin.on('line', (line) => {
      if (/^y(es)?$/i.test(line.trim())) this.#dispatch({type: 'confirmed'});
    });
    this.#apply(initial());
    if (this.#opts.signal.aborted) this.#dispatch({type: 'stop'});
    else this.#opts.signal.addEventListener('abort', () => this.#dispatch({type: 'stop'}), {once: true});
    return finished;
  }

  #dispatch(event: WatchEvent): void {
    this.#queue.push(event);
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      for (let e = this.#queue.shift(); e !== undefined; e = this.#queue.shift()) this.#apply(transition(this.#state, e));
    } finally {
      this.#dispatching = false;
    }
  }

  #apply(t: Transition): void {
    this.#state = t.state;
    // What the plan found comes before the state it leads to, so whoever reads the state (a
    // person, a script waiting on NDJSON) already has the details; a build's own events after it.
    const told = (e: Effect): boolean => e.kind === 'ask-confirmation' || e.kind === 'report-needs-slurm';
    for (const effect of t.effects) if (told(effect)) this.#run(effect);
    if (t.reason !== undefined) this.#opts.emit({type: 'watch-state', state: t.state.name, reason: t.reason});
    for (const effect of t.effects) if (!told(effect)) this.#run(effect);
  }

  #run(effect: Effect): void {
    switch (effect.kind) {
      case 'start-timer':
        clearTimeout(this.#timer);
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#dispatch({type: 'debounce-elapsed'});
        }, this.#opts.debounceMs);
        break;
      case 'cancel-timer':
        clearTimeout(this.#timer);
        this.#timer = undefined;
        break;
      case 'plan':
        void this.#plan(effect.reload).then((verdict) => this.#dispatch({type: 'planned', verdict}));
        break;
      case 'build':
        this.#startBuild();
        break;
      case 'abort-build':
        this.#build?.abort();
        break;
      case 'ask-confirmation':
        this.#opts.emit({type: 'watch-confirm', dollars: effect.dollars, threshold: effect.threshold, configPath: this.#ctx.settings.configPath, entries: [...this.#entries]});
        break;
      case 'report-needs-slurm':
        this.#opts.emit({type: 'watch-needs-slurm', targets: [...effect.targets]});
        break;
      case 'close':
        void this.#close();
        break;
      default:
        unreachable(effect);
    }
  }

  #onFile(event: string, path: string): void {
    if (event !== 'add' && event !== 'addDir' && event !== 'change' && event !== 'unlink' && event !== 'unlinkDir') return;
    const change = this.#files.classify(path, event satisfies FileEvent);
    if (change === undefined) return;
    if (!this.#burst) {
      this.#burst = {paths: new Set(), reload: false};
      setImmediate(() => this.#flushBurst());
    }
    for (const p of change.paths) this.#burst.paths.add(this.#files.display(p));
    this.#burst.reload ||= change.kind === 'source';
  }

  #flushBurst(): void {
    const burst = this.#burst;
    this.#burst = undefined;
    if (!burst) return;
    const paths = [...burst.paths].sort();
    this.#opts.emit({type: 'watch-change', paths, reload: burst.reload});
    this.#dispatch({type: 'change', paths, reload: burst.reload});
  }

  /** Reloads the Stagefile if asked (and watches what the new one depends on), then plans. */
  async #plan(reload: boolean): Promise<Verdict> {
    const {emit} = this.#opts;
    try {
      if (reload) {
        const opened = await openProject({...this.#opts.open, emit, fresh: true});
        if (!opened.ok) {
          for (const diagnostic of opened.error) emit({type: 'diagnostic', diagnostic});
          return {kind: 'failed', message: 'the Stagefile has errors', reload: true};
        }
        this.#ctx = opened.value;
        const selected = selectClosure(this.#ctx.graph, this.#opts.targets);
        this.#selected = selected.ok ? selected.value : undefined;
        await this.#rewatch();
        if (!selected.ok) {
          for (const diagnostic of selected.error) emit({type: 'diagnostic', diagnostic});
          return {kind: 'failed', message: 'the targets are not in the Stagefile', reload: true};
        }
      }
      if (!this.#selected) return {kind: 'failed', message: 'the targets are not in the Stagefile', reload: true};
      const {verdict, entries} = await gateBuild(this.#ctx, {
        targets: this.#opts.targets, selected: this.#selected, yes: this.#opts.yes, allowSlurm: this.#opts.allowSlurm, budget: this.#opts.budget, emit,
      });
      this.#entries = entries;
      return verdict;
    } catch (e) {
      emit({type: 'warning', message: `planning the build failed: ${messageOf(e)}`});
      return {kind: 'failed', message: 'planning the build failed', reload};
    }
  }

  /**
   * A file watcher for the current set, once all its watches are in place. chokidar says so only
   * once per watcher (a later `add` has no such signal), hence a new watcher per set.
   */
  async #watchFiles(): Promise<FSWatcher> {
    const fsWatcher = watch(this.#files.watchPaths(), {ignoreInitial: true, ignored: (path) => !this.#files.keeps(path)});
    fsWatcher.on('all', (event, path) => this.#onFile(event, path));
    // chokidar drops a file's events for 5 ms after one it handled, and when that one changed
    // only attributes (a chmod before the write, as some editors and tools do) the write is lost.
    // Its raw events are not throttled: each is checked against the file's size, mtime and inode.
    fsWatcher.on('raw', (_event, name, details) => {
      const watched = (details as {watchedPath?: unknown} | undefined)?.watchedPath;
      if (typeof watched !== 'string') return;
      this.#onFile('change', watched);
      if (typeof name === 'string' && name !== '') this.#onFile('change', join(watched, name));
    });
    fsWatcher.on('error', (e) => this.#opts.emit({type: 'warning', message: `watching files: ${messageOf(e)}`}));
    await new Promise<void>((resolve) => fsWatcher.once('ready', () => resolve()));
    return fsWatcher;
  }

  /**
   * After a reload: watch what the new Stagefile's targets depend on. The old watcher is closed
   * first (two chokidar instances on the same paths share their fs.watch handles, and closing one
   * can cost the other its events); the new one is ready before the build starts, so an edit in
   * between is already on disk when the build reads it.
   */
  async #rewatch(): Promise<void> {
    await this.#fsWatcher?.close();
    this.#files = new WatchedFiles(this.#ctx, this.#selected);
    this.#fsWatcher = await this.#watchFiles();
    this.#announceFiles();
  }

  #announceFiles(): void {
    this.#opts.emit({type: 'watch-ready', files: this.#files.fileCount, targets: this.#selected?.length ?? 0});
  }

  #startBuild(): void {
    const {emit} = this.#opts;
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    this.#build = controller;
    // Targets of this build with SLURM jobs in flight: while there are any, a change does not abort it.
    const onCluster = new Set<string>();
    const observe = (e: Event): void => {
      emit(e);
      if (e.type === 'slurm-submitted' && !onCluster.has(e.target)) {
        onCluster.add(e.target);
        queueMicrotask(() => this.#dispatch({type: 'slurm-started'}));
      } else if ((e.type === 'target-succeeded' || e.type === 'target-failed' || e.type === 'target-skipped') && onCluster.delete(e.target)) {
        queueMicrotask(() => this.#dispatch({type: 'slurm-ended'}));
      }
    };
    build(this.#ctx, {targets: this.#opts.targets, jobs: this.#opts.jobs, keepGoing: this.#opts.keepGoing, signal: controller.signal, emit: observe, budget: this.#opts.budget})
      .then((r) => {
        if (!r.ok) for (const diagnostic of r.error) emit({type: 'diagnostic', diagnostic});
      }, (e: unknown) => emit({type: 'warning', message: `the build stopped on an internal error: ${messageOf(e)}`}))
      .finally(() => {
        this.#build = undefined;
        this.#dispatch({type: 'build-finished'});
      });
  }

  async #close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#stdin?.close();
    await this.#fsWatcher?.close();
    this.#finish(130);
  }
}
