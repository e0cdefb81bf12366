import {spawn} from 'node:child_process';
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs';
import {hostname, tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {Leases} from '../../src/store/lease.js';
import {mkdirShared, sharedDir} from '../../src/store/shared-dir.js';

let top: string;
beforeEach(() => {
  top = mkdtempSync(join(tmpdir(), 'stage-lease-'));
});
afterEach(() => {
  rmSync(top, {recursive: true, force: true});
});

const FAST = {heartbeatMs: 50, staleMs: 2_000, pollMs: 10};

describe('Leases', () => {
  it('gives a free lease to one builder and tells the next who holds it', () => {
    const dir = join(top, 'leases');
    const a = new Leases(dir, FAST);
    const b = new Leases(dir, FAST);
    const first = a.tryAcquire('k', 'gold/A');
    expect(first.kind).toBe('acquired');
    const second = b.tryAcquire('k', 'gold/A');
    expect(second).toMatchObject({kind: 'held', holder: {pid: process.pid, what: 'gold/A'}});
    if (first.kind === 'acquired') first.lease.release();
    const third = b.tryAcquire('k', 'gold/A');
    expect(third.kind).toBe('acquired');
    if (third.kind === 'acquired') third.lease.release();
    // Nothing is left behind: no lease, no temp or moved-aside directories.
    expect(readdirSync(dir)).toEqual([]);
  });

  it('keeps a lease alive with heartbeats and takes over one that stopped beating', async () => {
    const dir = join(top, 'leases');
    const a = new Leases(dir, FAST);
    const got = a.tryAcquire('k', 't');
    if (got.kind !== 'acquired') throw new Error('expected the lease');
    const owner = join(dir, 'k', 'owner.json');
    const old = new Date(Date.now() - 60_000);
    utimesSync(owner, old, old);
    // Its holder is alive and beating: the next heartbeat makes it fresh again.
    await waitUntil(() => Date.now() - statSync(owner).mtimeMs < 1_000);
    expect(new Leases(dir, FAST).tryAcquire('k', 't').kind).toBe('held');
    got.lease.release();
  });

  it('tells a holder that its lease was taken over', async () => {
    const dir = join(top, 'leases');
    const a = new Leases(dir, FAST);
    const got = a.tryAcquire('k', 't');
    if (got.kind !== 'acquired') throw new Error('expected the lease');
    expect(got.lease.lost).toBe(false);
    // Another host decided it was stale and took it: the path now names someone else.
    rmSync(join(dir, 'k'), {recursive: true});
    mkdirSync(join(dir, 'k'));
    writeFileSync(join(dir, 'k', 'owner.json'), JSON.stringify({user: 'y', host: 'elsewhere', pid: 1, token: 'theirs', started: '', what: 't'}));
    await waitUntil(() => got.lease.lost);
    got.lease.release();
    // Releasing does not remove the new holder's lease.
    expect(new Leases(dir, FAST).holder('k')?.token).toBe('theirs');
  });

  it('takes over the lease of a holder on another host that stopped refreshing it', () => {
    const dir = join(top, 'leases');
    mkdirSync(join(dir, 'k'), {recursive: true});
    writeFileSync(join(dir, 'k', 'owner.json'), JSON.stringify({user: 'x', host: 'elsewhere', pid: 1, token: 'old', started: '', what: 't'}));
    const b = new Leases(dir, FAST);
    expect(b.tryAcquire('k', 't').kind).toBe('held');
    const old = new Date(Date.now() - 10_000);
    utimesSync(join(dir, 'k', 'owner.json'), old, old);
    const got = b.tryAcquire('k', 't');
    expect(got.kind).toBe('acquired');
    expect(b.holder('k')?.token).not.toBe('old');
  });

  it('on this host, trusts the process table over the heartbeat', () => {
    const dir = join(top, 'leases');
    const write = (pid: number, token: string): void => {
      mkdirSync(join(dir, 'k'), {recursive: true});
      writeFileSync(join(dir, 'k', 'owner.json'), JSON.stringify({user: 'x', host: hostname(), pid, token, started: '', what: 't'}));
      const old = new Date(Date.now() - 3_600_000);
      utimesSync(join(dir, 'k', 'owner.json'), old, old);
    };
    const b = new Leases(dir, FAST);
    // A live process whose heartbeat is late (a long synchronous step) keeps its lease.
    write(process.ppid, 'parent');
    expect(b.tryAcquire('k', 't').kind).toBe('held');
    // Our own pid on a lease we never took: an earlier process that had this pid.
    rmSync(join(dir, 'k'), {recursive: true});
    write(process.pid, 'earlier');
    expect(b.tryAcquire('k', 't').kind).toBe('acquired');
  });

  it('takes over at once from a holder on this host whose process is gone (kill -9)', async () => {
    const dir = join(top, 'leases');
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      import {Leases} from ${JSON.stringify(new URL('../../lib/store/lease.js', import.meta.url).href)};
      const got = new Leases(${JSON.stringify(dir)}).tryAcquire('k', 'child');
      console.log(got.kind);
      setInterval(() => {}, 1000);
    `], {stdio: ['ignore', 'pipe', 'inherit']});
    const said = await new Promise<string>((res) => child.stdout!.setEncoding('utf8').once('data', (d: string) => res(d.trim())));
    expect(said).toBe('acquired');
    const b = new Leases(dir, {...FAST, staleMs: 3_600_000});
    expect(b.tryAcquire('k', 't').kind).toBe('held');
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
    const got = b.tryAcquire('k', 't');
    expect(got.kind).toBe('acquired');
    if (got.kind === 'acquired') got.lease.release();
  });

  it('lets a waiter end its wait when the result appears, or take the lease when it is released', async () => {
    const dir = join(top, 'leases');
    const a = new Leases(dir, FAST);
    const held = a.tryAcquire('k', 't');
    if (held.kind !== 'acquired') throw new Error('expected the lease');
    let result: string | undefined;
    const waits: unknown[] = [];
    const waiting = a.acquire('k', 't', new AbortController().signal, (h) => waits.push(h), () => result);
    result = 'stored';
    expect(await waiting).toEqual({kind: 'done', value: 'stored'});
    expect(waits).toHaveLength(1);
    const second = a.acquire('k', 't', new AbortController().signal, () => {}, () => undefined);
    held.lease.release();
    expect((await second).kind).toBe('acquired');
  });

  it('stops waiting when the build is interrupted', async () => {
    const dir = join(top, 'leases');
    const a = new Leases(dir, FAST);
    const held = a.tryAcquire('k', 't');
    const ac = new AbortController();
    const waiting = a.acquire('k', 't', ac.signal, () => {}, () => undefined);
    ac.abort();
    expect(await waiting).toEqual({kind: 'aborted'});
    if (held.kind === 'acquired') held.lease.release();
  });

  it('gives a lease to exactly one of many builders racing for it', async () => {
    const dir = join(top, 'leases');
    const racers = Array.from({length: 8}, () => new Leases(dir, FAST));
    for (let round = 0; round < 50; round++) {
      const got = racers.map((l) => l.tryAcquire(`r${round}`, 't'));
      expect(got.filter((g) => g.kind === 'acquired')).toHaveLength(1);
      for (const g of got) if (g.kind === 'acquired') g.lease.release();
    }
  });
});

describe('sharedDir', () => {
  it('makes the directories it creates 2775 under a setgid root, and leaves a plain root alone', () => {
    const lab = join(top, 'lab');
    mkdirSync(lab);
    chmodSync(lab, 0o2775);
    expect(sharedDir(lab).group).toBe(true);
    mkdirShared(join(lab, 'v1', 'blobs', 'ab'));
    for (const d of ['v1', 'v1/blobs', 'v1/blobs/ab']) expect(statSync(join(lab, d)).mode & 0o7777).toBe(0o2775);
    const plain = join(top, 'plain');
    mkdirSync(plain, {mode: 0o755});
    expect(sharedDir(plain).group).toBe(false);
    mkdirShared(join(plain, 'a', 'b'));
    expect(statSync(join(plain, 'a', 'b')).mode & 0o2000).toBe(0);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
