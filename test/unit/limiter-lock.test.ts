/**
 * The O_EXCL lock file in one process: who may take a lock over and when. Whether a holder is
 * alive is injected, so "a holder killed with -9" is just a lock file naming a dead pid; the
 * real kill -9 and the two-process exclusion test are in test/integration/limiter-shared.test.ts.
 */
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {FileLock, LockTimeoutError} from '../../src/llm/limiter/index.js';

let dir: string;
let path: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stage-lock-'));
  path = join(dir, 'sub', 'x.lock');
});

afterEach(() => {
  rmSync(dir, {recursive: true, force: true});
});

const dead = (): boolean => false;
const alive = (): boolean => true;

/** A lock file as a holder would have left it, `ageMs` old. */
function leftBehind(content: string, ageMs: number, file = path): void {
  mkdirSync(dirname(file), {recursive: true});
  writeFileSync(file, content);
  const t = new Date(Date.now() - ageMs);
  utimesSync(file, t, t);
}

describe('FileLock', () => {
  it('creates its directory, writes its pid, and excludes a second holder', () => {
    const a = new FileLock(path);
    const b = new FileLock(path);
    expect(a.tryAcquire()).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    expect(b.tryAcquire()).toBe(false);
    a.release();
    expect(existsSync(path)).toBe(false);
    expect(b.tryAcquire()).toBe(true);
    b.release();
  });

  it.each<[string, string, number, (pid: number) => boolean, boolean]>([
    ['a lock naming a dead process, older than staleMs, is taken over', '999999\n', 1000, dead, true],
    ['an empty lock (holder died before writing its pid) is taken over', '', 1000, dead, true],
    ['garbage in the lock counts as no pid', 'not a pid', 1000, alive, true],
    ['a young lock is left alone even if its pid is gone', '999999\n', 0, dead, false],
    ['a lock whose holder lives is left alone', `${process.pid}\n`, 5000, alive, false],
    ['past the hard timeout, a live holder loses it', `${process.pid}\n`, 20_000, alive, true],
  ])('%s', (_, content, age, isAlive, takenOver) => {
    leftBehind(content, age);
    const lock = new FileLock(path, {staleMs: 250, hardTimeoutMs: 10_000}, isAlive);
    expect(lock.tryAcquire()).toBe(takenOver);
    if (takenOver) expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    lock.release();
  });

  it('leaves a stale lock alone while someone else is taking it over', () => {
    leftBehind('999999\n', 1000);
    leftBehind('', 0, `${path}.break`);
    const lock = new FileLock(path, {}, dead);
    expect(lock.tryAcquire()).toBe(false);
    expect(existsSync(path)).toBe(true);
  });

  it('clears a takeover marker left by a process killed during the takeover', () => {
    leftBehind('999999\n', 1000);
    leftBehind('', 20_000, `${path}.break`);
    const lock = new FileLock(path, {hardTimeoutMs: 10_000}, dead);
    expect(lock.tryAcquire()).toBe(false); // clears the marker
    expect(lock.tryAcquire()).toBe(true); // then takes the stale lock over
    lock.release();
  });

  it('acquire waits for a lock to become stale', async () => {
    leftBehind('999999\n', 0);
    const lock = new FileLock(path, {staleMs: 50}, dead);
    await lock.acquire();
    expect(lock.held).toBe(true);
    lock.release();
  });

  it('acquire gives up after timeoutMs with a message naming the file', async () => {
    leftBehind(`${process.pid}\n`, 0);
    const lock = new FileLock(path, {timeoutMs: 30}, alive);
    await expect(lock.acquire()).rejects.toThrow(LockTimeoutError);
    await expect(lock.acquire()).rejects.toThrow(/x\.lock.*delete that file/);
  });

  it('a holder that was taken over does not delete the new holder\'s lock', () => {
    const stalled = new FileLock(path);
    expect(stalled.tryAcquire()).toBe(true);
    const old = new Date(Date.now() - 20_000);
    utimesSync(path, old, old);
    const next = new FileLock(path, {hardTimeoutMs: 10_000}, alive);
    expect(next.tryAcquire()).toBe(true);
    stalled.release();
    expect(existsSync(path)).toBe(true);
    next.release();
    expect(existsSync(path)).toBe(false);
  });
});
