/**
 * Running the limiter's helper scripts as real processes. They load the compiled limiter from
 * lib/ (a spawned `node` cannot load TypeScript), so the tests first check that lib/ is there
 * and not older than src/.
 */
import {spawn, type ChildProcess} from 'node:child_process';
import {readdirSync, statSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const WORKER = join(REPO, 'test', 'util', 'limiter-worker.mjs');
export const LOCK_WORKER = join(REPO, 'test', 'util', 'limiter-lock-worker.mjs');

/** Throws with the fix when lib/llm/limiter is missing or older than its sources. */
export function assertLimiterBuilt(): void {
  const src = join(REPO, 'src', 'llm', 'limiter');
  const lib = join(REPO, 'lib', 'llm', 'limiter');
  for (const name of readdirSync(src)) {
    if (!name.endsWith('.ts')) continue;
    const built = statSync(join(lib, name.replace(/\.ts$/, '.js')), {throwIfNoEntry: false});
    if (!built || built.mtimeMs < statSync(join(src, name)).mtimeMs) {
      throw new Error(`lib/llm/limiter/${name.replace(/\.ts$/, '.js')} is missing or older than its source: run \`npm run build\` first`);
    }
  }
}

export interface Exited {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Running {
  readonly child: ChildProcess;
  /** Resolves when the process has exited and its output is closed. */
  readonly exited: Promise<Exited>;
  /** Resolves with the first stdout line, as soon as it is written. */
  readonly firstLine: Promise<string>;
}

/** Starts `node <script> ...args`; stdin is a pipe only when asked for. */
export function startNode(script: string, args: readonly string[], stdin: 'ignore' | 'pipe' = 'ignore'): Running {
  const child = spawn(process.execPath, [script, ...args], {cwd: REPO, stdio: [stdin, 'pipe', 'pipe']});
  let stdout = '';
  let stderr = '';
  let resolveLine: (line: string) => void = () => {};
  const firstLine = new Promise<string>((r) => (resolveLine = r));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    const nl = stdout.indexOf('\n');
    if (nl >= 0) resolveLine(stdout.slice(0, nl));
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<Exited>((r) => child.on('close', (code, signal) => r({code, signal, stdout, stderr})));
  return {child, exited, firstLine};
}

function report<T>(settings: Record<string, unknown>, done: Exited): T {
  const line = done.stdout.trim().split('\n').pop() ?? '';
  if (done.code !== 0 || !line.startsWith('{')) {
    throw new Error(`worker ${String(settings['tag'])} exited with ${done.code ?? done.signal}: ${done.stdout}${done.stderr}`);
  }
  return JSON.parse(line) as T;
}

/** Runs a worker to completion and returns its JSON report. */
export async function runWorker<T = Record<string, unknown>>(settings: Record<string, unknown>): Promise<T> {
  return report<T>(settings, await startNode(WORKER, [JSON.stringify(settings)]).exited);
}

/**
 * Runs workers that start calling together: each gets ready (process start, imports, a first
 * request to warm up), says so, and waits; once all have, all are told to go. Without this, the
 * one that happened to start first would have the limit to itself for a while.
 */
export async function runWorkersTogether<T = Record<string, unknown>>(all: readonly Record<string, unknown>[]): Promise<T[]> {
  const running = all.map((settings) => startNode(WORKER, [JSON.stringify({...settings, barrier: true})], 'pipe'));
  const lines = await Promise.all(running.map((r) => Promise.race([r.firstLine, r.exited.then((d) => `exited: ${d.stdout}${d.stderr}`)])));
  const notReady = lines.find((line) => line !== 'ready');
  if (notReady !== undefined) {
    for (const r of running) r.child.kill();
    throw new Error(`a worker did not get ready: ${notReady}`);
  }
  for (const r of running) r.child.stdin!.end('go\n');
  const done = await Promise.all(running.map((r) => r.exited));
  return done.map((d, i) => report<T>(all[i]!, d));
}
