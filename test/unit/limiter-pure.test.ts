/**
 * The limiter's pure parts, table by table: Go durations, rate-limit headers, the window
 * arithmetic and wait decision, the state file's format and the stale-lock rule. The
 * window guarantee is also checked on long simulated backlogs against an independent count.
 */
import {describe, expect, it} from 'vitest';
import {
  addAt,
  applyObservation,
  book,
  cancel,
  chargeExtra,
  checkEndpointId,
  decodeState,
  earliestStart,
  emptyState,
  encodeState,
  fileStemFor,
  isStale,
  lastStart,
  parseGoDuration,
  pauseUntil,
  policyFor,
  prune,
  readRateLimitHeaders,
  usageBetween,
  waitMs,
  windowFit,
  withdraw,
  type Entry,
  type LimiterOptions,
  type WindowPolicy,
  type WindowState,
} from '../../src/llm/limiter/index.js';
import {formatGoDuration} from '../util/openai-server.js';
import {maxInWindow, seeded, simulateBacklog, sustainedFraction} from '../util/limiter-check.js';

describe('parseGoDuration', () => {
  it.each([
    ['6m0s', 360_000],
    ['1s', 1000],
    ['20ms', 20],
    ['1h2m3.5s', 3_723_500],
    ['0', 0],
    ['0s', 0],
    ['.5s', 500],
    ['1.s', 1000],
    ['-1.5s', -1500],
    ['+2m', 120_000],
    ['2us', 0.002],
    ['1.5µs', 0.0015],
    ['1.5μs', 0.0015],
    ['100ns', 0.0001],
    [' 7ms ', 7],
  ])('%j is %d ms', (text, ms) => {
    const r = parseGoDuration(text);
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.value).toBeCloseTo(ms, 9);
  });

  it.each([
    ['', /empty/],
    ['5', /no unit/],
    ['1.5', /no unit/],
    ['1x', /cannot read "1x"/],
    ['s', /cannot read/],
    ['1m junk', /cannot read/],
    ['1.2.3s', /cannot read/],
    ['1m-2s', /cannot read/],
  ])('%j is refused', (text, message) => {
    const r = parseGoDuration(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(message);
  });

  it('reads back whatever the test server writes', () => {
    for (const ms of [0, 1, 20, 999, 1000, 1500, 59_999, 60_000, 61_001, 360_000, 3_723_500, 86_400_000]) {
      expect(parseGoDuration(formatGoDuration(ms))).toEqual({ok: true, value: ms});
    }
  });
});

describe('readRateLimitHeaders', () => {
  const full = {
    'x-ratelimit-limit-requests': '500',
    'x-ratelimit-remaining-requests': '499',
    'x-ratelimit-reset-requests': '120ms',
    'x-ratelimit-limit-tokens': '30000',
    'x-ratelimit-remaining-tokens': '29520',
    'x-ratelimit-reset-tokens': '6m0s',
  };
  it.each([
    ['a Web Headers object', new Headers(full)],
    ['a plain record', full],
    ['a record with other casing', Object.fromEntries(Object.entries(full).map(([k, v]) => [k.toUpperCase(), v]))],
    ['a record of arrays', Object.fromEntries(Object.entries(full).map(([k, v]) => [k, [v]]))],
  ])('reads all six from %s', (_, headers) => {
    expect(readRateLimitHeaders(headers)).toEqual({
      limitRequests: 500,
      remainingRequests: 499,
      resetRequestsMs: 120,
      limitTokens: 30_000,
      remainingTokens: 29_520,
      resetTokensMs: 360_000,
    });
  });
  it.each([
    ['no rate-limit headers', {'content-type': 'application/json'}, undefined],
    ['only some', {'x-ratelimit-remaining-tokens': '10'}, {remainingTokens: 10}],
    ['unreadable values are left out', {'x-ratelimit-remaining-requests': 'lots', 'x-ratelimit-reset-requests': 'soon', 'x-ratelimit-limit-requests': '3'}, {limitRequests: 3}],
    ['negative counts are left out', {'x-ratelimit-remaining-requests': '-1'}, undefined],
    ['a negative reset counts as zero', {'x-ratelimit-reset-tokens': '-1s'}, {resetTokensMs: 0}],
  ])('%s', (_, headers, expected) => {
    expect(readRateLimitHeaders(headers)).toEqual(expected);
  });
});

/** A policy with round numbers: window 1000 ms, no margin, buckets of 1 ms, no pacing. */
function policy(o: Partial<LimiterOptions> = {}): WindowPolicy {
  return policyFor({id: 't', windowMs: 1000, marginMs: 0, bucketMs: 1, burst: 1, ...o});
}

function state(entries: Entry[], more: Partial<WindowState> = {}, p: WindowPolicy = policy()): WindowState {
  return {...emptyState(p), entries, ...more};
}

describe('windowFit', () => {
  const entries: Entry[] = [[100, 1, 10], [200, 2, 20], [300, 1, 30]];
  it.each([
    ['fits now', Infinity, Infinity, 0, 1000, 1000],
    ['request limit reached: wait for the oldest to leave', 4, Infinity, 0, 1000, 1100],
    ['needs two out: wait for the second-oldest', 3, Infinity, 0, 1000, 1200],
    ['token limit reached', Infinity, 60, 20, 1000, 1200],
    ['a window that already moved past an entry', 4, Infinity, 0, 1150, 1150],
    ['an empty window always fits', 1, 30, 30, 1400, 1400],
  ])('%s', (_, rpm, tpm, cost, s, expected) => {
    expect(windowFit(entries, s, cost, rpm, tpm, 1000)).toBe(expected);
  });
});

describe('earliestStart', () => {
  const now = 10_000;
  it.each<[string, WindowState, number, WindowPolicy, number]>([
    ['an empty state starts now', state([]), 5, policy({rpm: 2, tpm: 100}), now],
    ['room in both limits', state([[9500, 1, 50]]), 50, policy({rpm: 2, tpm: 100}), now],
    ['requests full: when the oldest leaves the window', state([[9200, 1, 0], [9600, 1, 0]]), 0, policy({rpm: 2}), 10_200],
    ['tokens full: when enough tokens leave', state([[9200, 1, 60], [9600, 1, 30]]), 50, policy({tpm: 100}), 10_200],
    ['the margin keeps starts counted longer', state([[9200, 1, 0], [9600, 1, 0]]), 0, policy({rpm: 2, marginMs: 50}), 10_250],
    ['a call larger than the limit waits for an empty window', state([[9600, 1, 10]]), 500, policy({tpm: 100}), 10_600],
    ['never before the latest booking', state([[10_400, 1, 0]]), 0, policy({rpm: 100}), 10_400],
    ['never during a pause', state([], {pausedUntil: 12_345}), 0, policy({rpm: 100}), 12_345],
    ['an announced limit tightens the configured one', state([[9200, 1, 0]], {observedRpm: 1}), 0, policy({rpm: 100}), 10_200],
    ['an announced limit never loosens it', state([[9200, 1, 0]], {observedRpm: 100}), 0, policy({rpm: 1}), 10_200],
    ['the request pacer', state([], {paceRequests: 10_300}), 0, policy({rpm: 10, burst: 0.1}), 10_300],
    ['the request pacer allows a burst', state([], {paceRequests: 10_300}), 0, policy({rpm: 10, burst: 0.3}), 10_100],
    ['the token pacer', state([], {paceTokens: 10_500}), 10, policy({tpm: 1000, burst: 0.1}), 10_400],
    ['the token pacer ignores calls of no tokens', state([], {paceTokens: 10_500}), 0, policy({tpm: 1000, burst: 0.1}), now],
    ['fractions round up to whole ms', state([[9200.5, 1, 0]]), 0, policy({rpm: 1}), 10_201],
  ])('%s', (_, s, tokens, p, expected) => {
    expect(earliestStart(s, tokens, now, p)).toBe(expected);
    expect(waitMs(s, tokens, now, p)).toBe(expected - now);
  });
});

describe('addAt', () => {
  it.each<[string, Entry[], number, number, number, Entry[]]>([
    ['appends to an empty log', [], 120, 1, 5, [[120, 1, 5]]],
    ['merges into the same bucket, keeping the latest time', [[105, 1, 5]], 101, 1, 5, [[105, 2, 10]]],
    ['merges forward in time', [[101, 1, 5]], 109, 1, 5, [[109, 2, 10]]],
    ['starts a new bucket', [[101, 1, 5]], 110, 1, 5, [[101, 1, 5], [110, 1, 5]]],
    ['inserts into the past in order', [[100, 1, 0], [300, 1, 0]], 200, 0, 7, [[100, 1, 0], [200, 0, 7], [300, 1, 0]]],
    ['merges into a past bucket', [[100, 1, 0], [205, 1, 0], [300, 1, 0]], 201, 3, 0, [[100, 1, 0], [205, 4, 0], [300, 1, 0]]],
  ])('%s', (_, entries, at, requests, tokens, expected) => {
    expect(addAt(entries, at, requests, tokens, 10)).toEqual(expected);
  });
});

describe('booking, cancelling and settling', () => {
  const p = policy({rpm: 10, tpm: 1000, bucketMs: 10});
  it('book records the start, the latest booking and the pacers', () => {
    const {state: s, ticket} = book(emptyState(p), 5000, 70, p);
    expect(s.entries).toEqual([[5000, 1, 70]]);
    expect(lastStart(s)).toBe(5000);
    expect(s.paceRequests).toBe(5100);
    expect(s.paceTokens).toBe(5070);
    expect(ticket).toEqual({at: 5000, tokens: 70, bucket: 500, epoch: 0});
  });
  it('a call larger than the token limit is booked at the limit', () => {
    expect(book(emptyState(p), 5000, 5000, p).ticket.tokens).toBe(1000);
  });
  it.each<[string, number, number, Entry[]]>([
    ['a cancelled booking gives back its request and tokens', 1, 70, [[5005, 1, 30]]],
    ['a refund gives back tokens only', 0, 20, [[5005, 2, 80]]],
    ['counts never go below zero', 5, 500, []],
  ])('%s', (_, requests, tokens, expected) => {
    // Both land in the bucket 5000..5009, so they share one entry.
    let s = book(emptyState(p), 5001, 30, p).state;
    const booked = book(s, 5005, 70, p);
    s = withdraw(booked.state, booked.ticket, requests, tokens);
    expect(s.entries).toEqual(expected);
  });
  it('a ticket from another bucket slicing is ignored', () => {
    const booked = book(emptyState(p), 5000, 70, p);
    const resliced = prune(booked.state, 5000, {...p, bucketMs: 20});
    expect(resliced.epoch).toBe(1);
    expect(withdraw(resliced, booked.ticket, 1, 70)).toBe(resliced);
  });
  it('a ticket whose entry has expired is ignored', () => {
    const booked = book(emptyState(p), 5000, 70, p);
    const later = prune(booked.state, 7000, p);
    expect(later.entries).toEqual([]);
    expect(withdraw(later, booked.ticket, 1, 70)).toBe(later);
  });
  it('cancelling the latest booking frees its place and winds the pacers back', () => {
    const q = policy({rpm: 10, tpm: 1000, bucketMs: 10, burst: 0.1});
    const first = book(emptyState(q), 5000, 100, q);
    const second = book(first.state, earliestStart(first.state, 100, 5000, q), 100, q);
    expect(second.ticket.at).toBe(5100);
    const s = cancel(second.state, second.ticket, q);
    expect(s.entries).toEqual([[5000, 1, 100]]);
    expect(earliestStart(s, 100, 5000, q)).toBe(5100);
    expect([s.paceRequests, s.paceTokens]).toEqual([first.state.paceRequests, first.state.paceTokens]);
  });
  it('cancelling an earlier booking leaves the later ones and the pacers alone', () => {
    const q = policy({rpm: 10, bucketMs: 10, burst: 0.1});
    const first = book(emptyState(q), 5000, 0, q);
    const second = book(first.state, 5100, 0, q);
    const s = cancel(second.state, first.ticket, q);
    expect(s.entries).toEqual([[5100, 1, 0]]);
    expect(s.paceRequests).toBe(second.state.paceRequests);
  });
  it.each<[string, number, number, number]>([
    ['extra tokens are charged now when nothing is booked ahead', 6000, 5000, 6000],
    ['and after the latest booking when one is', 4000, 5000, 5000],
  ])('%s', (_, now, last, expectedAt) => {
    const s = chargeExtra(state([[last, 1, 70]], {}, p), 25, now, p);
    expect(s.entries.at(-1)).toEqual(expectedAt === last ? [last, 1, 95] : [expectedAt, 0, 25]);
    expect(lastStart(s)).toBe(expectedAt);
  });
  it('nothing extra, nothing charged', () => {
    const s = state([[5000, 1, 70]], {}, p);
    expect(chargeExtra(s, 0, 6000, p)).toBe(s);
  });
  it('a pause is never shortened', () => {
    expect(pauseUntil(state([], {pausedUntil: 900}), 500).pausedUntil).toBe(900);
    expect(pauseUntil(state([], {pausedUntil: 900}), 1500).pausedUntil).toBe(1500);
  });
});

describe('prune', () => {
  const p = policy({rpm: 10, marginMs: 100});
  it.each<[string, WindowState, number, Entry[], number]>([
    ['drops entries older than window + margin', state([[100, 1, 0], [1000, 1, 0], [1001, 1, 0], [2000, 1, 0]]), 2100, [[1001, 1, 0], [2000, 1, 0]], 1100],
    ['keeps entries for a longer window another process uses', state([[100, 1, 0], [1500, 1, 0]], {horizonMs: 5000}), 2100, [[100, 1, 0], [1500, 1, 0]], 5000],
    ['forgets that longer window once nothing is left to keep', state([], {horizonMs: 5000}), 2100, [], 1100],
    ['keeps bookings in the future', state([[9000, 1, 0]]), 2100, [[9000, 1, 0]], 1100],
  ])('%s', (_, s, now, entries, horizon) => {
    const out = prune(s, now, p);
    expect(out.entries).toEqual(entries);
    expect(out.horizonMs).toBe(horizon);
  });
  it('returns the same state when nothing changes', () => {
    const s = state([[2000, 1, 0]], {horizonMs: 1100});
    expect(prune(s, 2100, p)).toBe(s);
  });
});

describe('applyObservation', () => {
  const p = policy({rpm: 100, tpm: 10_000});
  const now = 10_000;
  it('records announced limits', () => {
    const s = applyObservation(emptyState(p), {limitRequests: 60, limitTokens: 5000}, now, p);
    expect([s.observedRpm, s.observedTpm]).toEqual([60, 5000]);
  });
  it('a later announcement replaces an earlier one', () => {
    const s = applyObservation(state([], {observedRpm: 60}), {limitRequests: 80}, now, p);
    expect(s.observedRpm).toBe(80);
  });
  it.each<[string, Entry[], Parameters<typeof applyObservation>[1], Entry[]]>([
    ['no outside use: nothing added', [[9500, 10, 1000]], {limitRequests: 100, remainingRequests: 90, limitTokens: 10_000, remainingTokens: 9000}, [[9500, 10, 1000]]],
    ['our calls still in flight make our count higher: nothing added', [[9500, 10, 1000], [9990, 5, 500]], {remainingRequests: 90, remainingTokens: 9000}, [[9500, 10, 1000], [9990, 5, 500]]],
    ['outside use is added, counted until the reset', [[9500, 10, 1000]], {remainingRequests: 80, resetRequestsMs: 400, remainingTokens: 8500, resetTokensMs: 700}, [[9400, 10, 0], [9500, 10, 1000], [9700, 0, 500]]],
    ['without a reset, it counts for a whole window', [], {remainingRequests: 95}, [[10_000, 5, 0]]],
    ['a reset longer than the window counts as the window', [], {remainingRequests: 95, resetRequestsMs: 60_000}, [[10_000, 5, 0]]],
    ['the announced limit is what "remaining" is measured against', [], {limitRequests: 50, remainingRequests: 45}, [[10_000, 5, 0]]],
    ['future bookings are not our use yet', [[10_500, 10, 0]], {remainingRequests: 95}, [[10_000, 5, 0], [10_500, 10, 0]]],
  ])('%s', (_, entries, obs, expected) => {
    expect(applyObservation(state(entries, {}, p), obs, now, p).entries).toEqual(expected);
  });
  it('with no configured or announced limit, remaining counts say nothing', () => {
    const q = policy();
    expect(applyObservation(emptyState(q), {remainingRequests: 3}, now, q).entries).toEqual([]);
  });
  it('usageBetween counts (from, to]', () => {
    expect(usageBetween([[1, 1, 1], [2, 2, 2], [3, 4, 4]], 1, 3)).toEqual({requests: 6, tokens: 6});
  });
});

describe('the window guarantee on simulated backlogs', () => {
  const random = seeded(7);
  const cases: [string, LimiterOptions, () => number][] = [
    ['requests only, default pacing', {id: 'a', rpm: 60, windowMs: 3000}, () => 0],
    ['requests only, no pacing', {id: 'b', rpm: 60, windowMs: 3000, burst: 1}, () => 0],
    ['small limit', {id: 'c', rpm: 3, windowMs: 60_000}, () => 0],
    ['both limits, mixed sizes', {id: 'd', rpm: 600, tpm: 60_000, windowMs: 60_000}, () => 20 + Math.floor(random() * 160)],
    ['tokens only, mixed sizes', {id: 'e', tpm: 40_000, windowMs: 60_000}, () => 200 + Math.floor(random() * 1600)],
    ['tokens, some calls half the limit', {id: 'f', tpm: 10_000, windowMs: 60_000}, () => (random() < 0.1 ? 5000 : 300)],
    ['tokens, calls above the limit', {id: 'g', tpm: 1000, windowMs: 1000, burst: 1}, () => (random() < 0.2 ? 1500 : 100)],
    ['coarse buckets and a margin', {id: 'h', rpm: 100, tpm: 5000, windowMs: 1000, bucketMs: 100, marginMs: 50}, () => Math.floor(random() * 100)],
  ];
  it.each(cases)('%s: no window of window + margin ever holds more than the limits', (_, options, cost) => {
    const p = policyFor(options);
    const costs = Array.from({length: 2000}, cost);
    const starts = simulateBacklog(p, costs);
    const peak = maxInWindow(starts, p.windowMs + p.marginMs);
    expect(peak.requests).toBeLessThanOrEqual(p.rpm);
    expect(peak.tokens).toBeLessThanOrEqual(p.tpm);
    // Booked in order, so first come, first served: a large call is never overtaken.
    for (let i = 1; i < starts.length; i++) expect(starts[i]!.at).toBeGreaterThanOrEqual(starts[i - 1]!.at);
  });
  const steady: [string, LimiterOptions, number][] = [
    ['rpm 500 over a minute', {id: 'a', rpm: 500}, 10],
    ['rpm 10 000 and tpm 1 000 000 over a minute', {id: 'b', rpm: 10_000, tpm: 1_000_000}, 100],
    ['rpm 3 over a minute', {id: 'c', rpm: 3}, 0],
    ['tpm 40 000 with equal calls', {id: 'd', tpm: 40_000}, 400],
  ];
  for (const [name, options, tokens] of steady) it(`${name}: the steady rate is at least 95 percent of the limit`, () => {
    const p = policyFor(options);
    const n = Number.isFinite(p.rpm) ? p.rpm * 10 : (p.tpm / tokens) * 10;
    const starts = simulateBacklog(p, Array.from({length: n}, () => tokens));
    const f = sustainedFraction(starts, p);
    expect(Math.max(Number.isFinite(p.rpm) ? f.requests : 0, Number.isFinite(p.tpm) ? f.tokens : 0)).toBeGreaterThanOrEqual(0.95);
    expect(maxInWindow(starts, p.windowMs).requests).toBeLessThanOrEqual(p.rpm);
  });
  it('a plain bucket of capacity = limit lets twice the limit into one window; this does not', () => {
    const rpm = 60;
    const windowMs = 3000;
    // The bucket: full at first, refilled continuously at rpm per window, a start takes one.
    const bucket: {at: number; tokens: number}[] = [];
    let level = rpm;
    let t = 0;
    for (let i = 0; i < 3 * rpm; i++) {
      if (level < 1) {
        t += ((1 - level) * windowMs) / rpm;
        level = 1;
      }
      level -= 1;
      bucket.push({at: t, tokens: 0});
    }
    expect(maxInWindow(bucket, windowMs).requests).toBeGreaterThan(1.9 * rpm);
    const p = policyFor({id: 'x', rpm, windowMs, burst: 1});
    expect(maxInWindow(simulateBacklog(p, Array.from({length: 3 * rpm}, () => 0)), windowMs).requests).toBe(rpm);
  });
});

describe('state file format', () => {
  const p = policy({rpm: 10});
  const good = book(emptyState(p), 1234, 5, p).state;
  it('round-trips', () => {
    expect(decodeState(encodeState(good))).toEqual(good);
  });
  it.each<[string, string]>([
    ['not JSON', '{'],
    ['not an object', '[1,2]'],
    ['another version', JSON.stringify({...good, version: 2})],
    ['a broken entry', JSON.stringify({...good, entries: [[1, -1, 0]]})],
    ['a missing field', JSON.stringify({...good, pausedUntil: undefined})],
    ['a zero bucket', JSON.stringify({...good, bucketMs: 0})],
  ])('refuses %s', (_, text) => {
    expect(decodeState(text)).toBeUndefined();
  });
  it('holds times and counts only', () => {
    expect(Object.keys(JSON.parse(encodeState(good)) as object).sort()).toEqual(
      ['bucketMs', 'entries', 'epoch', 'horizonMs', 'observedRpm', 'observedTpm', 'paceRequests', 'paceTokens', 'pausedUntil', 'version'],
    );
  });
  it.each([
    ['openai:gpt-4-0613', 'openai%3Agpt-4-0613'],
    ['local:mistral-7b/instruct v2', 'local%3Amistral-7b%2Finstruct%20v2'],
    ['..', '%2E.'],
  ])('names the file for %j as %j', (id, stem) => {
    expect(fileStemFor(id)).toMatch(new RegExp(`^${stem.replace(/[.%]/g, (c) => `\\${c}`)}`));
  });
  it('keeps long ids short and distinct', () => {
    const a = fileStemFor(`openai:${'x'.repeat(300)}a`);
    const b = fileStemFor(`openai:${'x'.repeat(300)}b`);
    expect(a.length).toBeLessThanOrEqual(120);
    expect(a).not.toBe(b);
  });
  it.each<[string, RegExp | undefined]>([
    ['openai:gpt-4-0613', undefined],
    ['local:http://gpu07:8000/v1:mistral', undefined],
    ['', /empty/],
    ['openai:sk-proj-abcdefghijklmnop', /API key/],
    ['local:http://user:secret@host/v1', /credentials/],
  ])('id %j', (id, problem) => {
    const r = checkEndpointId(id);
    if (problem) expect(r).toMatch(problem);
    else expect(r).toBeUndefined();
  });
});

describe('isStale', () => {
  const options = {staleMs: 250, hardTimeoutMs: 10_000};
  const alive = (pid: number) => pid === 42;
  it.each<[string, number, number | undefined, boolean]>([
    ['a fresh lock whose holder is gone is left alone (it may not have written its pid yet)', 100, 7, false],
    ['an older lock whose holder is gone is taken over', 300, 7, true],
    ['an older lock with no readable pid is taken over', 300, undefined, true],
    ['a lock whose holder lives is kept', 5000, 42, false],
    ['past the hard timeout, even a live holder loses it', 10_000, 42, true],
  ])('%s', (_, age, pid, expected) => {
    expect(isStale(age, pid, alive, options)).toBe(expected);
  });
});
