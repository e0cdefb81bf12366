#!/usr/bin/env node
// A client process for the limiter's multi-process tests and benchmark: makes N chat calls to an
// OpenAI-compatible server with the real `openai` client, either through stage's limiter (the
// compiled one in lib/, since a plain `node` cannot load TypeScript) or the way the original
// STaR-GATE scripts did (everything at once, the SDK's default retries). Prints one JSON line.
//
//   node test/util/limiter-worker.mjs '{"baseURL": "...", "mode": "limited", "calls": 60, ...}'
//
// Settings: baseURL, mode ('limited' | 'naive' | 'overhead'), calls, tag, maxTokens (list, used
// in turn), barrier (print "ready", then wait for a line on stdin before calling), and for
// 'limited': id, dir, rpm, tpm, windowMs, marginMs, burst, maxAttempts.
import OpenAI from 'openai';
import {limiterFor} from '../../lib/llm/limiter/index.js';

const settings = JSON.parse(process.argv[2] ?? '{}');
const {baseURL, mode = 'limited', calls = 10, tag = 'w', maxTokens = [16], maxAttempts = 3} = settings;

/** The request of call `i`; its size is the server's own estimate: chars / 4 plus max_tokens. */
function request(i) {
  const content = `worker ${tag} call ${i}: say something short.`;
  const max = maxTokens[i % maxTokens.length];
  return {body: {model: 'test-model', messages: [{role: 'user', content}], max_tokens: max}, estimate: Math.ceil(content.length / 4) + max};
}

/** retry-after-ms, else retry-after in seconds. */
function retryAfterMs(headers) {
  const ms = Number(headers?.get?.('retry-after-ms'));
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const s = Number(headers?.get?.('retry-after'));
  return Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

/** Says "ready" and waits for a line on stdin, so several workers can start calling together. */
async function barrier() {
  process.stdout.write('ready\n');
  for await (const chunk of process.stdin) {
    if (String(chunk).includes('\n')) break;
  }
}

async function limited() {
  const limiter = limiterFor({
    id: settings.id ?? 'local:test-model',
    dir: settings.dir,
    rpm: settings.rpm,
    tpm: settings.tpm,
    windowMs: settings.windowMs,
    marginMs: settings.marginMs,
    burst: settings.burst,
  });
  const client = new OpenAI({apiKey: 'sk-test', baseURL, maxRetries: 0});
  // Stage checks an endpoint (GET /models) before its first paid call; doing the same here also
  // means the first calls are not held up, after being let through, by the HTTP stack loading.
  await client.models.list();
  if (settings.barrier) await barrier();
  const result = {ok: 0, failed: 0, rateLimited: 0, starts: [], waitedMs: 0};
  async function one(i) {
    const {body, estimate} = request(i);
    for (let attempt = 1; ; attempt++) {
      const grant = await limiter.acquire(estimate);
      result.starts.push(grant.startAt);
      result.waitedMs += grant.waitedMs;
      try {
        const {data, response} = await client.chat.completions.create(body).withResponse();
        limiter.observe(response.headers);
        grant.settle((data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0));
        result.ok++;
        return;
      } catch (e) {
        if (e?.status === 429) {
          result.rateLimited++;
          if (e.headers) limiter.observe(e.headers);
          limiter.pauseFor(retryAfterMs(e.headers) ?? 1000);
          if (attempt < maxAttempts) continue;
        }
        result.failed++;
        result.error ??= String(e?.message ?? e);
        return;
      }
    }
  }
  await Promise.all(Array.from({length: calls}, (_, i) => one(i)));
  await limiter.flush();
  return {...result, cycles: limiter.stats.cycles, cycleMs: limiter.stats.cycleMs};
}

async function naive() {
  // The SDK's defaults: maxRetries 2, honouring retry-after.
  const client = new OpenAI({apiKey: 'sk-test', baseURL});
  if (settings.barrier) await barrier();
  const result = {ok: 0, failed: 0};
  await Promise.all(Array.from({length: calls}, async (_, i) => {
    try {
      await client.chat.completions.create(request(i).body);
      result.ok++;
    } catch (e) {
      result.failed++;
      result.error ??= String(e?.message ?? e);
    }
  }));
  return result;
}

/**
 * The limiter's own cost: `calls` acquires one after another, then `calls` at once, with limits
 * far above what is asked so nothing waits and only the bookkeeping (lock, read, decide, write)
 * is measured.
 */
async function overhead() {
  const limiter = limiterFor({id: settings.id ?? 'local:overhead', dir: settings.dir, rpm: 1e9, tpm: 1e12});
  for (let i = 0; i < 50; i++) (await limiter.acquire(100)).settle(100);
  if (settings.barrier) await barrier();
  const cycles0 = limiter.stats.cycles;
  const cycleMs0 = limiter.stats.cycleMs;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) (await limiter.acquire(100)).settle(100);
  const sequentialUs = ((performance.now() - t0) * 1000) / calls;
  const cycleUs = ((limiter.stats.cycleMs - cycleMs0) * 1000) / (limiter.stats.cycles - cycles0);
  const cycles1 = limiter.stats.cycles;
  const t1 = performance.now();
  await Promise.all(Array.from({length: calls}, () => limiter.acquire(100)));
  const burstUs = ((performance.now() - t1) * 1000) / calls;
  return {sequentialUs, cycleUs, burstUs, burstCycles: limiter.stats.cycles - cycles1};
}

const t0 = Date.now();
try {
  const result = mode === 'naive' ? await naive() : mode === 'overhead' ? await overhead() : await limited();
  process.stdout.write(`${JSON.stringify({tag, mode, ...result, wallMs: Date.now() - t0})}\n`);
} catch (e) {
  process.stdout.write(`${JSON.stringify({tag, mode, fatal: String(e?.stack ?? e)})}\n`);
  process.exitCode = 1;
}
