import {execFileSync, spawn, type ChildProcess} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {basename, dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';
import type {Event} from '../../src/event.js';
import {parseEvents, waitFor} from '../util/rig.js';

const CLI = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'bin', 'stage.js');

/**
 * Several builders, each in its own workspace, share one store and build the same target at the
 * same moment. The rule appends a line to a log outside every workspace, then waits for the
 * test's go-ahead, so the test sees who executed and can kill the executing builder with -9.
 */
let lab: string;
const gate = (): string => `out=$1
r=$(cat round.txt)
echo "$r $(basename "$PWD")" >> '${lab}/executions.log'
while [ ! -f '${lab}/release-'"$r" ] && [ -d '${lab}' ]; do sleep 0.01; done
echo "result of round $r" > "$out"
`;
const STAGEFILE = `import {sh, target} from 'stage';
target('work', {inputs: ['gate.sh', 'round.txt'], out: 'out/work.txt', run: sh('sh gate.sh $out')});
`;

interface Builder {
  readonly ws: string;
  readonly child: ChildProcess;
  readonly done: Promise<{code: number | null; signal: NodeJS.Signals | null; events: Event[]; stderr: string}>;
  events(): Event[];
}

function startBuild(ws: string): Builder {
  const child = spawn(process.execPath, [CLI, 'build', 'work', '--reporter', 'json'], {
    cwd: ws,
    env: {...process.env, STAGE_CACHE_DIR: join(lab, 'cache'), STAGE_CONFIG: join(lab, 'config.json'), FORCE_COLOR: '0'},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<{code: number | null; signal: NodeJS.Signals | null; events: Event[]; stderr: string}>((res) => {
    child.on('close', (code, signal) => res({code, signal, events: parseEvents(stdout), stderr}));
  });
  return {ws, child, done, events: () => parseEvents(stdout)};
}

function executions(round: number): string[] {
  const log = join(lab, 'executions.log');
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith(`${round} `)).map((l) => l.split(' ')[1]!);
}

beforeAll(() => {
  lab = mkdtempSync(join(tmpdir(), 'stage-lab-'));
  // Same-host holders are checked by pid, so a killed one is replaced on the next poll; the
  // heartbeat timeout is for other hosts and stays long here.
  writeFileSync(join(lab, 'config.json'), JSON.stringify({leases: {heartbeatMs: 200, staleMs: 60_000, pollMs: 10}}));
  for (let i = 0; i < 4; i++) {
    const ws = join(lab, `ws${i}`);
    mkdirSync(ws);
    writeFileSync(join(ws, 'Stagefile.ts'), STAGEFILE);
    writeFileSync(join(ws, 'gate.sh'), gate());
  }
});

afterAll(() => {
  rmSync(lab, {recursive: true, force: true});
});

describe('builders sharing a store', () => {
  it('execute each round\'s action exactly once, 2 to 4 at a time over 100 rounds, even when the executing one is killed with -9', async () => {
    let kills = 0;
    for (let round = 0; round < 100; round++) {
      const n = 2 + (round % 3);
      const kill = round % 5 === 4;
      const spaces = Array.from({length: n}, (_, i) => join(lab, `ws${i}`));
      for (const ws of spaces) writeFileSync(join(ws, 'round.txt'), `${round}\n`);
      const builders = spaces.map(startBuild);
      const waitingFor = (b: Builder): boolean => b.events().some((e) => e.type === 'target-waiting');
      // One executes; every other one has found its lease and waits for its result.
      await waitFor(() => executions(round).length >= 1 && builders.filter(waitingFor).length === n - 1, `round ${round}: one builder executing and ${n - 1} waiting`);
      const first = executions(round)[0]!;
      if (round === 1) {
        // A builder not yet building is told by its plan who is producing the target right now.
        const idle = join(lab, 'ws3');
        writeFileSync(join(idle, 'round.txt'), `${round}\n`);
        const plan = execFileSync(process.execPath, [CLI, 'plan', 'work'], {cwd: idle, env: {...process.env, STAGE_CACHE_DIR: join(lab, 'cache'), STAGE_CONFIG: join(lab, 'config.json')}}).toString();
        expect(plan).toMatch(/@\S+ \(pid \d+\) is building it now; a build waits and restores their result/);
        const status = execFileSync(process.execPath, [CLI, 'cache', 'status'], {cwd: idle, env: {...process.env, STAGE_CACHE_DIR: join(lab, 'cache'), STAGE_CONFIG: join(lab, 'config.json')}}).toString();
        expect(status).toMatch(/building: work, by \S+@\S+ \(pid \d+\) since /);
      }
      let killed: Builder | undefined;
      if (kill) {
        killed = builders.find((b) => basename(b.ws) === first)!;
        killed.child.kill('SIGKILL');
        kills++;
        // A survivor sees the holder's process gone and takes the work over.
        await waitFor(() => executions(round).length >= 2, `round ${round}: a survivor to take over from the killed builder`);
      }
      writeFileSync(join(lab, `release-${round}`), '');
      const results = await Promise.all(builders.map((b) => b.done));
      const survivors = builders.map((b, i) => ({b, r: results[i]!})).filter(({b}) => b !== killed);
      for (const {b, r} of survivors) {
        expect(r.code, `round ${round}, ${basename(b.ws)}: ${r.stderr}`).toBe(0);
        expect(readFileSync(join(b.ws, 'out', 'work.txt'), 'utf8')).toBe(`result of round ${round}\n`);
      }
      const ran = survivors.filter(({r}) => r.events.some((e) => e.type === 'target-succeeded' && e.target === 'work'));
      const restored = survivors.filter(({r}) => r.events.some((e) => e.type === 'target-restored' && e.target === 'work'));
      expect(ran, `round ${round}: builders that executed`).toHaveLength(1);
      expect(restored, `round ${round}: builders that reused the result`).toHaveLength(survivors.length - 1);
      const lines = executions(round);
      expect(lines, `round ${round}: executions`).toHaveLength(kill ? 2 : 1);
      if (kill) expect(lines[1]).not.toBe(first);
      expect(basename(ran[0]!.b.ws)).toBe(lines[lines.length - 1]);
    }
    expect(kills).toBe(20);
  }, 900_000);
});
