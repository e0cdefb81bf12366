import type {Event, Failure} from '../event.js';
import {renderDiagnostic} from '../util/diagnostic.js';
import {unreachable} from '../util/unreachable.js';
import type {WatchStateName} from '../watch/machine.js';
import type {Logger, Streams} from './logger.js';
import {formatPlan} from './plan-format.js';

/**
 * Lines a person reads. On a terminal, a status line `[done/total] running…` is redrawn in place
 * and finished work scrolls above it; elsewhere (CI logs, pipes) only plain lines are written.
 */
export class HumanLogger implements Logger {
  readonly #s: Streams;
  readonly #tty: boolean;
  #total = 0;
  #done = 0;
  readonly #running = new Set<string>();
  #statusShown = false;
  readonly #progress = new Map<string, string>();
  #retries = 0;
  #watchFiles: number | undefined;
  #watchState: WatchStateName | undefined;
  #watchBuilds = 0;

  constructor(streams: Streams) {
    this.#s = streams;
    this.#tty = streams.out.isTTY === true && process.env['TERM'] !== 'dumb';
  }

  log(e: Event): void {
    switch (e.type) {
      case 'build-started':
        // `stage watch` runs one build after another: each counts from zero.
        this.#total = e.total;
        this.#done = 0;
        this.#running.clear();
        this.#progress.clear();
        break;
      case 'target-fresh':
        this.#done++;
        break;
      case 'target-restored':
        this.#done++;
        this.#line(`restored ${e.target} from the store`);
        break;
      case 'target-started':
        this.#running.add(e.target);
        this.#line(`run      ${e.target}  (${e.reason})`);
        break;
      case 'target-succeeded':
        this.#running.delete(e.target);
        this.#progress.delete(e.target);
        this.#done++;
        this.#line(`ok       ${e.target}  ${seconds(e.durationMs)}${e.outputChanged ? '' : ', output unchanged'}`);
        break;
      case 'target-failed':
        this.#running.delete(e.target);
        this.#done++;
        this.#line(`FAILED   ${e.target}: ${describeFailure(e.failure)}`, true);
        break;
      case 'target-skipped':
        this.#running.delete(e.target);
        this.#done++;
        break;
      case 'target-report':
        this.#line(e.text);
        break;
      case 'warning':
        this.#line(`warning: ${e.target ? `${e.target}: ` : ''}${e.message}`, true);
        break;
      case 'llm-progress': {
        const text = `${e.target} ${e.done}/${e.total} (${e.memoized} memoized, ${e.inFlight} in flight, $${e.dollars.toFixed(2)}${e.etaMs !== null ? `, ${seconds(e.etaMs)} left` : ''})`;
        // The last progress event may come twice (last answer, then assembly): print it once.
        if (!this.#tty && e.done === e.total && this.#progress.get(e.target) !== text) this.#line(`calls    ${text}`);
        this.#progress.set(e.target, text);
        break;
      }
      case 'llm-retry':
        this.#retries++;
        if (!this.#tty && (this.#retries <= 5 || this.#retries % 100 === 0)) this.#line(`retry    ${e.target} ${e.item}: ${e.why}, waiting ${seconds(e.waitMs)} (attempt ${e.attempt}; ${this.#retries} retries so far)`, true);
        break;
      case 'batch-submitted':
        this.#line(`batch    ${e.target}: submitted ${e.batchId} (${e.requests} calls, results within 24 h)`);
        break;
      case 'batch-state':
        this.#progress.set(e.target, `${e.target} batch ${e.batchId} ${e.status} ${e.completed + e.failed}/${e.total}`);
        if (!this.#tty) this.#line(`batch    ${e.target}: ${e.batchId} ${e.status} (${e.completed} done, ${e.failed} failed of ${e.total})`);
        break;
      case 'slurm-submitted': {
        const what = e.shards.length > 0 ? `array of ${e.shards.length} shard${e.shards.length === 1 ? '' : 's'}` : 'job';
        this.#line(e.resumed ? `slurm    ${e.target}: following job ${e.jobId}, submitted by an earlier build` : `slurm    ${e.target}: submitted ${what} ${e.jobId}`);
        break;
      }
      case 'slurm-state':
        this.#progress.set(e.target, `${e.target} job ${e.jobId} ${e.state} ${e.done}/${e.total}`);
        if (!this.#tty) this.#line(`slurm    ${e.target}: job ${e.jobId} ${e.state} (${e.done} of ${e.total} done)`);
        break;
      case 'target-waiting':
        this.#line(`wait     ${e.target}: ${e.holder} is ${e.what === 'action' ? 'building it' : 'making a model call it needs'}; using their result when it is stored`);
        break;
      case 'cache-info':
        this.#line(`cache: ${e.target ? `${e.target}: ` : ''}${e.message}`, true);
        break;
      case 'diagnostic':
        this.#line(renderDiagnostic(e.diagnostic), true);
        break;
      case 'build-finished': {
        const c = e.counts;
        const parts = [`${c.ran} ran`, `${c.restored} restored`, `${c.fresh} up to date`];
        if (c.failed) parts.push(`${c.failed} failed`);
        if (c.skipped) parts.push(`${c.skipped} not started`);
        const head = e.interrupted ? 'interrupted' : e.ok ? 'done' : 'FAILED';
        const spent = e.dollars > 0 ? `, $${e.dollars.toFixed(2)} spent on model calls` : '';
        this.#total = 0;
        this.#line(`stage: ${head}: ${parts.join(', ')} in ${seconds(e.durationMs)}${spent}`, !e.ok);
        return;
      }
      case 'watch-ready':
      case 'watch-change':
      case 'watch-state':
      case 'watch-confirm':
      case 'watch-needs-slurm':
        this.#watch(e);
        return;
      default:
        unreachable(e);
    }
    this.#status();
  }

  close(): void {
    this.#clearStatus();
  }

  /**
   * `stage watch`, a short line per step a person cares about: `watching 12 files; change in
   * prompts/judge.md → rebuilding`. Debouncing and planning stay quiet; the NDJSON has them.
   */
  #watch(e: Extract<Event, {type: `watch-${string}`}>): void {
    switch (e.type) {
      case 'watch-ready':
        if (this.#watchFiles !== undefined && this.#watchFiles !== e.files) this.#line(`watching ${e.files} files now (the Stagefile changed)`);
        this.#watchFiles = e.files;
        return;
      case 'watch-change':
      case 'watch-needs-slurm':
        // The state line that follows names the change, or the targets that need the cluster.
        return;
      case 'watch-confirm':
        this.#line(formatPlan(e.entries, 'plan'));
        return;
      case 'watch-state': {
        const previous = this.#watchState;
        this.#watchState = e.state;
        const files = `watching ${this.#watchFiles ?? 0} files`;
        switch (e.state) {
          case 'building':
            if (previous === 'building') this.#line(`watch    ${e.reason}`);
            else this.#line(this.#watchBuilds++ === 0 ? `${files} → building` : `${files}; ${e.reason} → rebuilding`);
            return;
          case 'idle':
            this.#line(`${files}; waiting for a change (Ctrl-C stops)`);
            return;
          case 'interrupting':
            this.#line(`${e.reason} → interrupting the build`);
            return;
          case 'awaiting-confirmation':
            this.#line(e.reason);
            return;
          case 'blocked':
            this.#line(`not building: ${e.reason}`, true);
            return;
          case 'stopped':
            this.#line('stopped watching');
            return;
          case 'debouncing':
          case 'planning':
          case 'stopping':
            return;
          default:
            unreachable(e.state);
        }
        return;
      }
      default:
        unreachable(e);
    }
  }

  #line(text: string, toErr = false): void {
    this.#clearStatus();
    (toErr ? this.#s.err : this.#s.out).write(`${text}\n`);
  }

  #status(): void {
    if (!this.#tty || this.#total === 0) return;
    const names = [...this.#running].map((n) => this.#progress.get(n) ?? n);
    const shown = names.slice(0, 3).join(', ') + (names.length > 3 ? `, +${names.length - 3}` : '');
    const text = `[${this.#done}/${this.#total}]${shown ? ` running: ${shown}` : ''}`;
    // A terminal that reports no size (0 columns, e.g. under `script`) gets the classic 80.
    const cols = this.#s.out.columns;
    const width = cols !== undefined && cols > 1 ? cols - 1 : 79;
    this.#s.out.write(`\r\x1b[K${text.slice(0, width)}`);
    this.#statusShown = true;
  }

  #clearStatus(): void {
    if (!this.#statusShown) return;
    this.#s.out.write('\r\x1b[K');
    this.#statusShown = false;
  }
}

/** A failure in one or a few lines, with the log's tail where there is one. */
export function describeFailure(f: Failure): string {
  switch (f.kind) {
    case 'exit-code':
      return `command exited with code ${f.code}\n  $ ${f.command}\n${indent(f.logTail)}\n  full log: ${f.log}`;
    case 'signal':
      return `command was killed by ${f.signal}\n  $ ${f.command}\n${indent(f.logTail)}\n  full log: ${f.log}`;
    case 'exception':
      return `rule threw: ${f.message}${f.log ? `\n  full log: ${f.log}` : ''}`;
    case 'missing-output':
      return `the rule finished without writing its declared output ${f.path}`;
    case 'schema':
      return `output ${f.path}${f.line !== undefined ? ` line ${f.line}` : ''} does not match ${f.schema}: ${f.message}; nothing was stored`;
    case 'missing-input':
      return `input ${f.path} does not exist (create it, or fix the path in the Stagefile)`;
    case 'input-changed':
      return `input ${f.path} changed while the rule ran, so the result was not stored; build again`;
    case 'cancelled':
      return 'cancelled';
    case 'api-fatal':
      return f.message;
    case 'items-failed':
      return `${f.failed} of ${f.total} items got no answer (the rule allows ${f.allowed}); answered ones are kept for the next run\n` +
        f.examples.map((x) => `  | ${x.id}: ${x.reason}: ${x.message}`).join('\n');
    case 'budget':
      return `the budget of $${f.limit.toFixed(2)} is reached ($${f.spent.toFixed(2)} spent); ${f.unanswered} calls were not made. Answers so far are kept: raise --budget and build again`;
    case 'slurm':
      return `${f.jobId === null ? 'SLURM' : `SLURM job ${f.jobId}`} ${f.message} [${f.state}]` +
        `${f.logTail ? `\n${indent(f.logTail)}` : ''}${f.log ? `\n  full log: ${f.log}` : ''}`;
    default:
      return unreachable(f);
  }
}

function indent(text: string): string {
  return text.split('\n').map((l) => `  | ${l}`).join('\n');
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`;
}
