/**
 * Test-side handles for SLURM: the fake cluster of bin/ (for faults a real cluster will not
 * produce on demand), the sbatch wrapper that counts submissions to the real one, and the user
 * config that makes the driver poll fast.
 */
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {delimiter, dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import type {Event} from '../../../src/event.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FAKE_BIN = join(HERE, 'bin');
const COUNTING_BIN = join(HERE, 'counting');

/** What a fake task may be told to do instead of running normally (see lib.sh). */
export type FakeFate = 'NODE_FAIL' | `PREEMPT:${number}`;

/** One fake cluster: its state directory and the environment that puts its commands first on PATH. */
export class FakeSlurm {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, {recursive: true});
  }

  env(): Record<string, string> {
    return {FAKE_SLURM_DIR: this.dir, PATH: `${FAKE_BIN}${delimiter}${process.env['PATH'] ?? ''}`};
  }

  /** The next `n` sbatch calls fail with a timeout, as a busy controller does. */
  failSbatch(n: number): void {
    writeFileSync(join(this.dir, 'sbatch-transient'), `${n}\n`);
  }

  /** The next `n` scontrol calls print nothing. */
  emptyScontrol(n: number): void {
    writeFileSync(join(this.dir, 'scontrol-empty'), `${n}\n`);
  }

  /** The `submission`-th successful sbatch (1-based): task `task` ("*" for all, "solo" for a plain job) meets `fate`. */
  fate(submission: number, task: number | '*' | 'solo', fate: FakeFate): void {
    const file = join(this.dir, `fate.${submission}`);
    const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
    writeFileSync(file, `${before}${task} ${fate}\n`);
  }

  /** Every command run so far, as argv arrays, optionally only those of one command. */
  calls(command?: 'sbatch' | 'scontrol' | 'squeue' | 'scancel'): string[][] {
    const file = join(this.dir, 'calls.log');
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split(' ')).filter((a) => command === undefined || a[0] === command);
  }
}

/** PATH and log for counting submissions to the real cluster: each line of the log is one sbatch call. */
export function countingSbatch(log: string): Record<string, string> {
  return {STAGE_TEST_SBATCH_LOG: log, PATH: `${COUNTING_BIN}${delimiter}${process.env['PATH'] ?? ''}`};
}

export function sbatchCalls(log: string): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** Writes a user config with fast SLURM polling (plus `extra`) and returns the env that selects it. */
export function slurmConfig(path: string, extra: Record<string, unknown> = {}): Record<string, string> {
  const slurm = {pollMs: 200, maxPollMs: 1000, markerGraceMs: 3000, ...extra};
  writeFileSync(path, JSON.stringify({slurm}));
  return {STAGE_CONFIG: path};
}

export const ofType = <T extends Event['type']>(events: readonly Event[], type: T): Extract<Event, {type: T}>[] =>
  events.filter((e): e is Extract<Event, {type: T}> => e.type === type);
