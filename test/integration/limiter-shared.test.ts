/**
 * The limiter across real processes: two node processes, each with its own limiter object and
 * the real `openai` client, share one endpoint's limit through the state file, against the
 * loopback server enforcing that limit over a short sliding window. Also: the lock survives a
 * holder killed with -9, and it really excludes.
 *
 * Nothing here sleeps to synchronize: the tests wait on process exit and on lines the processes
 * print. The throughput bound is deliberately loose; the exact properties (no 429, no window over
 * the limit) are the ones asserted tightly.
 */
import {mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {afterEach, beforeAll, beforeEach, describe, expect, it} from 'vitest';
import {EndpointLimiter, fileStemFor} from '../../src/llm/limiter/index.js';
import {requestTokenCost, startOpenAIServer, type OpenAIServer} from '../util/openai-server.js';
import {maxInWindow, sustainedFraction} from '../util/limiter-check.js';
import {assertLimiterBuilt, LOCK_WORKER, runWorkersTogether, startNode} from '../util/limiter-spawn.js';

interface WorkerReport {
  ok: number;
  failed: number;
  rateLimited: number;
  starts: number[];
  error?: string;
}

let dir: string;
let servers: OpenAIServer[] = [];

beforeAll(() => {
  assertLimiterBuilt();
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stage-limiter-it-'));
});

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  rmSync(dir, {recursive: true, force: true});
});

describe('two processes sharing one limit', () => {
  it('never exceed it and together come close to it', async () => {
    const limits = {rpm: 60, tpm: 6000, windowMs: 6000};
    const server = await startOpenAIServer(limits);
    servers.push(server);
    const calls = 60; // per process: two windows' worth between them
    // The margin is the allowance for the time between a start and the server seeing the request.
    // It is generous here: with the whole suite running, a two-core machine stalls a process for
    // a few hundred milliseconds now and then. It costs 1 - 6000 / 6500 of the throughput.
    const common = {baseURL: server.baseURL, dir, id: 'local:test-model', ...limits, marginMs: 500, calls, maxTokens: [30, 150, 60, 120]};
    const [a, b] = await runWorkersTogether<WorkerReport>([{...common, tag: 'A'}, {...common, tag: 'B'}]);
    if (!a || !b) throw new Error('two reports expected');

    expect([a.ok, b.ok, a.failed, b.failed], a.error ?? b.error).toEqual([calls, calls, 0, 0]);
    const stats = server.stats;
    const context = JSON.stringify({stats, starts: {a: a.starts.length, b: b.starts.length}});
    expect(stats.rateLimited, context).toBe(0);
    expect(stats.completed).toBe(2 * calls);
    expect(stats.maxAdmittedInWindow).toBeLessThanOrEqual(limits.rpm);
    expect(stats.maxTokensInWindow).toBeLessThanOrEqual(limits.tpm);

    // Both processes were let through all along, not one after the other.
    const lastA = Math.max(...a.starts);
    const lastB = Math.max(...b.starts);
    expect(Math.min(...b.starts)).toBeLessThan(lastA);
    expect(Math.min(...a.starts)).toBeLessThan(lastB);

    // Throughput, as the server saw it: whichever limit binds, near its rate.
    const admitted = server.requests
      .filter((r) => r.outcome === 'ok' && r.route === 'POST /v1/chat/completions')
      .map((r) => ({at: r.receivedAt, tokens: requestTokenCost('chat', r.body)}))
      .sort((x, y) => x.at - y.at);
    const f = sustainedFraction(admitted, limits);
    const fraction = Math.max(f.requests, f.tokens);
    expect(fraction, JSON.stringify(f)).toBeGreaterThanOrEqual(0.85);
    // The server's own count agrees with an independent one over its window.
    expect(maxInWindow(admitted, limits.windowMs).requests).toBe(stats.maxAdmittedInWindow);
  });
});

describe('the lock file', () => {
  it('is taken over from a holder killed with -9', async () => {
    const id = 'local:test-model';
    const lockPath = join(dir, `${fileStemFor(id)}.lock`);
    const holder = startNode(LOCK_WORKER, ['hold', lockPath]);
    expect(await holder.firstLine).toBe('locked');
    const pid = Number(readFileSync(lockPath, 'utf8'));
    expect(pid).toBe(holder.child.pid);
    holder.child.kill('SIGKILL');
    expect((await holder.exited).signal).toBe('SIGKILL');

    const limiter = new EndpointLimiter({id, rpm: 10, dir});
    const grant = await limiter.acquire(1);
    expect(grant.bookedTokens).toBe(1);
    expect(statSync(lockPath, {throwIfNoEntry: false})).toBeUndefined();
  });

  it('is taken over when it names a process that is gone', async () => {
    const id = 'local:test-model';
    const lockPath = join(dir, `${fileStemFor(id)}.lock`);
    // A pid that certainly existed and has certainly exited: a child we waited for.
    const gone = startNode(LOCK_WORKER, ['unknown-mode']);
    await gone.exited;
    writeFileSync(lockPath, `${gone.child.pid}\n`);
    const old = new Date(Date.now() - 5000);
    utimesSync(lockPath, old, old);
    const limiter = new EndpointLimiter({id, rpm: 10, dir});
    await expect(limiter.acquire(1)).resolves.toMatchObject({bookedTokens: 1});
  });

  it('excludes: two processes incrementing one counter lose nothing', async () => {
    const lockPath = join(dir, 'counter.lock');
    const counter = join(dir, 'counter');
    const n = 400;
    const runs = [startNode(LOCK_WORKER, ['count', lockPath, counter, String(n)]), startNode(LOCK_WORKER, ['count', lockPath, counter, String(n)])];
    const done = await Promise.all(runs.map((r) => r.exited));
    expect(done.map((d) => [d.code, d.stdout.trim()])).toEqual([[0, 'done'], [0, 'done']]);
    expect(Number(readFileSync(counter, 'utf8'))).toBe(2 * n);
  });
});
