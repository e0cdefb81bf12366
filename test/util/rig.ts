import {spawn, type ChildProcess} from 'node:child_process';
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {test as base} from 'vitest';
import type {Event} from '../../src/event.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(REPO, 'bin', 'stage.js');

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** NDJSON events, when the run used `--reporter json`. */
  readonly events: Event[];
}

/**
 * A workspace in a temp directory with its own store, and the CLI run as a real subprocess, the
 * way a user runs it. Build commands get `--reporter json` so tests can read exactly which
 * targets ran.
 */
export class Rig {
  readonly dir: string;
  readonly cacheDir: string;
  readonly #children: ChildProcess[] = [];

  /** `cacheDir`: share another rig's store, as a second builder of a lab would. */
  constructor(opts: {cacheDir?: string} = {}) {
    const top = mkdtempSync(join(tmpdir(), 'stage-test-'));
    this.dir = join(top, 'ws');
    this.cacheDir = opts.cacheDir ?? join(top, 'cache');
    mkdirSync(this.dir);
  }

  write(files: Record<string, string>): void {
    for (const [rel, text] of Object.entries(files)) {
      const p = join(this.dir, rel);
      mkdirSync(dirname(p), {recursive: true});
      if (existsSync(p)) chmodSync(p, 0o644);
      writeFileSync(p, text);
    }
  }

  read(rel: string): string {
    return readFileSync(join(this.dir, rel), 'utf8');
  }

  exists(rel: string): boolean {
    return existsSync(join(this.dir, rel));
  }

  path(rel: string): string {
    return join(this.dir, rel);
  }

  /** Starts the CLI without waiting; for kill and interrupt tests. `stdin: 'pipe'` lets a test type into it (`child.stdin`). */
  spawn(args: readonly string[], env: Record<string, string> = {}, stdin: 'ignore' | 'pipe' = 'ignore'): {child: ChildProcess; done: Promise<RunResult>; events: () => Event[]} {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: this.dir,
      env: {...process.env, STAGE_CACHE_DIR: this.cacheDir, FORCE_COLOR: '0', ...env},
      stdio: [stdin, 'pipe', 'pipe'],
    });
    this.#children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const done = new Promise<RunResult>((res) => {
      child.on('close', (code, signal) => res({code, signal, stdout, stderr, events: parseEvents(stdout)}));
    });
    return {child, done, events: () => parseEvents(stdout)};
  }

  /** Runs the CLI to completion. `build` gets `--reporter json` unless the args say otherwise. */
  async run(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
    return this.spawn(withReporter(args), env).done;
  }

  /** Shorthand: build and return the names of targets whose rule ran. */
  async build(args: readonly string[] = []): Promise<{ran: string[]; restored: string[]; result: RunResult}> {
    const result = await this.run(['build', ...args]);
    return {ran: namesOf(result.events, 'target-succeeded'), restored: namesOf(result.events, 'target-restored'), result};
  }

  /** Kills any CLI a failed test left running, then removes the workspace and store. */
  cleanup(): void {
    for (const c of this.#children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dirname(this.dir), {recursive: true, force: true});
  }
}

function withReporter(args: readonly string[]): string[] {
  const isBuild = args[0] === 'build' || args[0] === undefined;
  return isBuild && !args.includes('--reporter') ? [...args, '--reporter', 'json'] : [...args];
}

export function parseEvents(stdout: string): Event[] {
  const events: Event[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      events.push(JSON.parse(line) as Event);
    } catch {
      // Not an event line.
    }
  }
  return events;
}

export function namesOf(events: readonly Event[], type: Event['type']): string[] {
  return events.filter((e) => e.type === type).map((e) => (e as {target: string}).target).sort();
}

/** Waits until `check` holds, polling; fails after `timeoutMs`. For conditions on real processes. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A vitest fixture: `test('…', async ({rig}) => …)` gets a fresh workspace, removed afterwards. */
export const test = base.extend<{rig: Rig}>({
  // eslint-disable-next-line no-empty-pattern
  rig: async ({}, use) => {
    const rig = new Rig();
    await use(rig);
    rig.cleanup();
  },
});
