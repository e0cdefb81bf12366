/**
 * The limiter object on a manual clock, with its real state file and lock in a temp directory.
 * Two instances on one directory stand in for two processes: they share nothing but the files,
 * exactly as processes do (the real multi-process tests are in test/integration).
 */
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';
import {EndpointLimiter, limiterFor, type Grant, type LimiterOptions} from '../../src/llm/limiter/index.js';
import type {RateGate} from '../../src/llm/gate.js';
import {ManualClock, settled} from '../util/limiter-clock.js';

let dir: string;
let clock: ManualClock;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stage-limiter-'));
  clock = new ManualClock();
});

afterEach(async () => {
  await settled(); // a cycle still running would make the directory again
  rmSync(dir, {recursive: true, force: true});
});

function limiter(o: Partial<LimiterOptions> = {}): EndpointLimiter {
  return new EndpointLimiter({id: 'openai:gpt-4-0613', windowMs: 1000, marginMs: 0, burst: 1, dir, clock, ...o});
}

/** Starts an acquire and records when (on the manual clock) it was let through. */
function track(l: EndpointLimiter, tokens = 0, signal?: AbortSignal): {at: () => number | undefined; grant: () => Grant | undefined; error: () => unknown} {
  let at: number | undefined;
  let grant: Grant | undefined;
  let error: unknown;
  l.acquire(tokens, signal).then(
    (g) => {
      at = clock.now();
      grant = g;
    },
    (e: unknown) => {
      error = e;
    },
  );
  return {at: () => at, grant: () => grant, error: () => error};
}

describe('EndpointLimiter', () => {
  it('serves as the model caller\'s rate gate', () => {
    const gate: RateGate = limiter({rpm: 1});
    expect(typeof gate.acquire).toBe('function');
  });

  it('lets calls through up to the limit, then at the window edge, in order', async () => {
    const l = limiter({rpm: 3});
    const t0 = clock.now();
    const calls = Array.from({length: 5}, () => track(l));
    await settled();
    expect(calls.map((c) => c.at())).toEqual([t0, t0, t0, undefined, undefined]);
    await clock.advance(999);
    expect(calls[3]!.at()).toBeUndefined();
    await clock.advance(1);
    expect(calls.map((c) => c.at())).toEqual([t0, t0, t0, t0 + 1000, t0 + 1000]);
    expect(calls[3]!.grant()!.waitedMs).toBe(1000);
  });

  it('does not let small calls overtake a large one', async () => {
    const l = limiter({tpm: 100});
    const t0 = clock.now();
    const first = track(l, 60);
    const large = track(l, 60);
    const small = track(l, 10);
    await settled();
    expect([first.at(), large.at(), small.at()]).toEqual([t0, undefined, undefined]);
    await clock.advance(1000);
    expect([large.at(), small.at()]).toEqual([t0 + 1000, t0 + 1000]);
  });

  it('keeps first come, first served between processes', async () => {
    const a = limiter({tpm: 100});
    const b = limiter({tpm: 100});
    const t0 = clock.now();
    const first = track(a, 60);
    await settled();
    const large = track(a, 60); // books the window edge in the shared state
    await settled();
    const small = track(b, 10); // would fit now, but must queue behind the booking
    await settled();
    expect([first.at(), large.at(), small.at()]).toEqual([t0, undefined, undefined]);
    await clock.advance(1000);
    expect([large.at(), small.at()]).toEqual([t0 + 1000, t0 + 1000]);
  });

  it('shares the limit between processes', async () => {
    const a = limiter({rpm: 4});
    const b = limiter({rpm: 4});
    const t0 = clock.now();
    const calls = [track(a), track(b), track(a), track(b), track(a), track(b)];
    await settled();
    expect(calls.filter((c) => c.at() === t0)).toHaveLength(4);
    await clock.advance(1000);
    expect(calls.every((c) => c.at() !== undefined)).toBe(true);
  });

  it('an aborted wait rejects, and its booked start goes to the next caller', async () => {
    const l = limiter({rpm: 1});
    const t0 = clock.now();
    track(l);
    const ctl = new AbortController();
    const aborted = track(l, 0, ctl.signal);
    const next = track(l);
    await settled();
    ctl.abort(new Error('user gave up'));
    await settled();
    expect((aborted.error() as Error).message).toBe('user gave up');
    await clock.advance(1000);
    expect(next.at()).toBe(t0 + 1000);
    expect(l.readState()!.entries.filter((e) => e[0] >= t0 + 1000).reduce((n, e) => n + e[1], 0)).toBe(1);
  });

  it('an already aborted signal rejects at once', async () => {
    const l = limiter({rpm: 1});
    await expect(l.acquire(1, AbortSignal.abort(new Error('no')))).rejects.toThrow('no');
    expect(l.waiting).toBe(0);
  });

  it('a pause from one process holds every process', async () => {
    const a = limiter({rpm: 100});
    const b = limiter({rpm: 100});
    const t0 = clock.now();
    a.pauseFor(500);
    await a.flush();
    const call = track(b);
    await clock.advance(499);
    expect(call.at()).toBeUndefined();
    await clock.advance(1);
    expect(call.at()).toBe(t0 + 500);
  });

  it('a pause that comes after a start was booked moves that start', async () => {
    const a = limiter({rpm: 1});
    const b = limiter({rpm: 1});
    const t0 = clock.now();
    track(b);
    const waiting = track(b); // booked for t0 + 1000
    await settled();
    a.pauseFor(3000);
    await a.flush();
    await clock.advance(1000);
    expect(waiting.at()).toBeUndefined();
    await clock.advance(2000);
    expect(waiting.at()).toBe(t0 + 3000);
  });

  it('settling above the estimate delays the next call; below it changes nothing by default', async () => {
    const l = limiter({tpm: 100});
    const t0 = clock.now();
    const first = await l.acquire(30);
    first.settle(10); // no refund: the endpoint counted the estimate
    const second = await l.acquire(30);
    second.settle(60); // 30 more than booked
    second.settle(0); // only the first settlement counts
    await settled();
    const third = track(l, 30); // 30 + 30 + 30 extra + 30 > 100
    await settled();
    expect(third.at()).toBeUndefined();
    await clock.advance(1000);
    expect(third.at()).toBe(t0 + 1000);
  });

  it('with refundUnused, settling below the estimate makes room', async () => {
    const l = limiter({tpm: 100, refundUnused: true});
    const t0 = clock.now();
    (await l.acquire(90)).settle(20);
    await settled();
    const next = track(l, 50);
    await settled();
    expect(next.at()).toBe(t0);
  });

  it('learns the announced limit and outside use from response headers', async () => {
    const l = limiter({rpm: 100});
    const t0 = clock.now();
    await l.acquire(0);
    // Two more calls than this machine made: someone else shares the key.
    l.observe(new Headers({'x-ratelimit-limit-requests': '3', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '1s'}));
    await l.flush();
    expect(l.readState()).toMatchObject({observedRpm: 3});
    const next = track(l);
    await settled();
    expect(next.at()).toBeUndefined();
    await clock.advance(1000);
    expect(next.at()).toBe(t0 + 1000);
  });

  it('ignores responses without rate-limit headers', async () => {
    const l = limiter({rpm: 100});
    l.observe({'content-type': 'application/json'});
    await l.flush();
    expect(l.readState()).toBeUndefined();
  });

  it('writes a private state file of times and counts', async () => {
    const l = limiter({rpm: 10});
    await l.acquire(5);
    expect(l.statePath).toBe(join(dir, 'openai%3Agpt-4-0613.json'));
    expect(statSync(l.statePath).mode & 0o777).toBe(0o600);
    expect(readFileSync(l.statePath, 'utf8')).not.toMatch(/gpt|openai|sk-/);
  });

  it('starts afresh from a state file it cannot read', async () => {
    const l = limiter({rpm: 10});
    writeFileSync(l.statePath, 'not json');
    await expect(l.acquire(1)).resolves.toMatchObject({bookedTokens: 1});
    expect(l.readState()!.entries).toHaveLength(1);
  });

  it('fails every waiter when the state cannot be written', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const l = new EndpointLimiter({id: 'openai:x', rpm: 1, dir: join(file, 'limits'), clock});
    await expect(l.acquire(1)).rejects.toThrow(/ENOTDIR/);
  });

  it('refuses an id that looks like a key', () => {
    expect(() => limiter({id: 'openai:sk-abcdefghijklmnopqrstuv'})).toThrow(/API key/);
  });

  it.each<[string, Partial<LimiterOptions>, RegExp]>([
    ['rpm 0', {rpm: 0}, /rpm must be/],
    ['a negative tpm', {tpm: -5}, /tpm must be/],
    ['a zero window', {windowMs: 0}, /windowMs/],
    ['burst above 1', {burst: 2}, /burst/],
  ])('refuses %s', (_, o, message) => {
    expect(() => limiter(o)).toThrow(message);
  });

  it('limiterFor gives one limiter per endpoint and process', () => {
    const a = limiterFor({id: 'openai:gpt-4o', rpm: 5, dir});
    expect(limiterFor({id: 'openai:gpt-4o', rpm: 5, dir})).toBe(a);
    expect(limiterFor({id: 'openai:gpt-4o-mini', rpm: 5, dir})).not.toBe(a);
    expect(() => limiterFor({id: 'openai:gpt-4o', rpm: 6, dir})).toThrow(/other settings/);
  });

  it('batches a burst of calls into few state updates', async () => {
    const l = limiter({rpm: 1000});
    await Promise.all(Array.from({length: 200}, () => l.acquire(1)));
    expect(l.stats.granted).toBe(200);
    expect(l.stats.cycles).toBeLessThanOrEqual(2);
  });
});
