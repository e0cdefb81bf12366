import {appendFileSync, readFileSync, statSync} from 'node:fs';
import {relative} from 'node:path';
import type {Command, Rule, RuleContext} from '../config/define.js';
import type {Failure} from '../event.js';
import {messageOf} from '../util/result.js';
import {shellJoin, shellQuote} from '../util/shell.js';

/** One run of one target's rule, with every path already decided by the engine. */
export interface LocalJob {
  readonly target: string;
  readonly root: string;
  readonly run: Rule<unknown> | Command;
  readonly params: unknown;
  /** Absolute input paths. */
  readonly inputs: readonly string[];
  /** Dependency name → absolute output paths. */
  readonly deps: Readonly<Record<string, readonly string[]>>;
  /** Absolute staging paths of the outputs, in declaration order. */
  readonly outs: readonly string[];
  readonly log: string;
  readonly signal: AbortSignal;
  readonly shard?: {readonly index: number; readonly count: number};
  /** Where `ctx.report` lines go; the log alone when unset. */
  readonly report?: (line: string) => void;
}

const KILL_GRACE_MS = 3000;

/**
 * Runs a target's rule: an in-process TypeScript function, or a subprocess through execa in its
 * own process group (so Ctrl-C takes down the whole pipeline a shell line started). Returns the
 * failure as a value; outputs are checked by the caller.
 */
export async function runLocal(job: LocalJob & {readonly run: Rule<unknown> | Command}): Promise<Failure | undefined> {
  appendFileSync(job.log, '');
  return job.run.kind === 'rule' ? runRule(job, job.run) : runCommand(job, job.run);
}

/** What a TypeScript rule (or an LLM rule's two functions) receives. */
export function contextFor(job: Omit<LocalJob, 'run'>): RuleContext<unknown> {
  const log = (line: string): void => appendFileSync(job.log, line.endsWith('\n') ? line : `${line}\n`);
  return {
    target: job.target, params: job.params, inputs: job.inputs, deps: job.deps, out: job.outs[0]!, outs: job.outs,
    root: job.root, log, signal: job.signal, ...(job.shard ? {shard: job.shard} : {}),
    report: (line) => {
      log(line);
      job.report?.(line);
    },
  };
}

async function runRule(job: LocalJob, rule: Rule<unknown>): Promise<Failure | undefined> {
  const ctx = contextFor(job);
  const log = ctx.log;
  try {
    const work = Promise.resolve(rule.fn(ctx));
    // A rule that ignores its signal cannot hold the build hostage: stop waiting on abort.
    const aborted = new Promise<'aborted'>((resolve) => job.signal.addEventListener('abort', () => resolve('aborted'), {once: true}));
    if ((await Promise.race([work, aborted])) === 'aborted' || job.signal.aborted) return {kind: 'cancelled'};
    return undefined;
  } catch (e) {
    if (job.signal.aborted) return {kind: 'cancelled'};
    const stack = e instanceof Error ? e.stack ?? '' : '';
    log(stack || messageOf(e));
    return {kind: 'exception', message: messageOf(e), stack, log: job.log};
  }
}

/** `$in` (inputs then dependency outputs), `$out` (first output) and `$outs` (all outputs). */
export function expandCommand(cmd: Command, root: string, ins: readonly string[], outs: readonly string[]): {file: string; args: string[]; shell: boolean; text: string} {
  const rel = (p: string): string => relative(root, p) || '.';
  if (cmd.shell !== undefined) {
    const text = cmd.shell.replace(/\$\{?(outs|out|in)\}?(?![A-Za-z0-9_])/g, (_m, name: string) => {
      const list = name === 'in' ? ins : name === 'out' ? outs.slice(0, 1) : outs;
      return list.map((p) => shellQuote(rel(p))).join(' ');
    });
    return {file: text, args: [], shell: true, text};
  }
  const argv = (cmd.argv ?? []).flatMap((a) => (a === '$in' ? ins.map(rel) : a === '$out' ? outs.slice(0, 1).map(rel) : a === '$outs' ? outs.map(rel) : [a]));
  const [file = 'true', ...args] = argv;
  return {file, args, shell: false, text: shellJoin(argv)};
}

async function runCommand(job: LocalJob, cmd: Command): Promise<Failure | undefined> {
  const {execa} = await import('execa');
  const ins = [...job.inputs, ...Object.values(job.deps).flat()];
  const c = expandCommand(cmd, job.root, ins, job.outs);
  appendFileSync(job.log, `$ ${c.text}\n`);
  const toLog = {file: job.log, append: true} as const;
  const child = execa(c.file, c.args, {
    shell: c.shell, cwd: job.root, stdin: 'ignore', stdout: toLog, stderr: toLog, reject: false, detached: true,
  });
  const kill = (): void => killGroup(child.pid);
  job.signal.addEventListener('abort', kill, {once: true});
  // An abort while execa was loading or the child starting fired before the listener existed.
  if (job.signal.aborted) kill();
  const result = await child;
  job.signal.removeEventListener('abort', kill);
  if (job.signal.aborted) return {kind: 'cancelled'};
  if (result.exitCode === 0) return undefined;
  const logTail = tail(job.log);
  if (result.signal) return {kind: 'signal', signal: result.signal, command: c.text, logTail, log: job.log};
  return {kind: 'exit-code', code: result.exitCode ?? -1, command: c.text, logTail, log: job.log};
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  const signal = (s: NodeJS.Signals): void => {
    try {
      process.kill(-pid, s);
    } catch {
      // Already gone.
    }
  };
  signal('SIGTERM');
  setTimeout(() => signal('SIGKILL'), KILL_GRACE_MS).unref();
}

/** The last lines of a log, for failure messages. */
export function tail(path: string, lines = 20): string {
  try {
    const size = statSync(path).size;
    const text = readFileSync(path, 'utf8').slice(Math.max(0, size - 16_384));
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
