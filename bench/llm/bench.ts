/**
 * Benchmark of stage's model-call rate limiter against the loopback OpenAI-compatible server
 * enforcing a sliding-window limit. Started by bench/llm/run.mjs (which checks lib/ is built);
 * the clients are separate node processes (test/util/limiter-worker.mjs) using the real `openai`
 * client, so the numbers include everything a stage process pays.
 *
 * Sections:
 *   (a) one process through the limiter: throughput as a fraction of the limit, 429s, failures;
 *   (b) the same batch fired at once with the SDK's default retries, as the STaR-GATE scripts did;
 *   (c) two processes sharing one limit;
 *   (d) the limiter's own cost per acquire;
 *   (e) the per-call memo journal's cost per answer and its share of time at 200 calls/s.
 */
import {mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {policyFor} from '../../src/llm/limiter/index.js';
import {maxInWindow, simulateBacklog, sustainedFraction} from '../../test/util/limiter-check.js';
import {REPO, runWorker, runWorkersTogether} from '../../test/util/limiter-spawn.js';
import {requestTokenCost, startOpenAIServer} from '../../test/util/openai-server.js';

interface Args {
  rpm: number;
  tpm: number;
  windowMs: number;
  windows: number;
  out: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {rpm: 120, tpm: 12_000, windowMs: 4000, windows: 3, out: join(REPO, 'bench', 'llm', 'results.md')};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[++i];
    const n = Number(value);
    switch (flag) {
      case '--rpm': args.rpm = n; break;
      case '--tpm': args.tpm = n; break;
      case '--window-ms': args.windowMs = n; break;
      case '--windows': args.windows = n; break;
      case '--out': args.out = value ?? args.out; break;
      default: throw new Error(`unknown option ${String(flag)} (options: --rpm N --tpm N --window-ms N --windows N --out FILE)`);
    }
    if (flag !== '--out' && !(n > 0)) throw new Error(`${flag} needs a positive number`);
  }
  return args;
}

/** Max tokens of the calls, used in turn: about tpm/rpm tokens per call, so both limits bind. */
const MAX_TOKENS = [30, 150, 60, 120];

interface WorkerReport {
  ok: number;
  failed: number;
  rateLimited?: number;
  wallMs: number;
  error?: string;
}

interface Row {
  scenario: string;
  processes: number;
  calls: number;
  ok: number;
  failed: number;
  r429: number;
  wallS: number;
  /** Calls completed per window over the whole run, as a fraction of rpm. */
  overWall: number;
  /** Sustained admitted rate the server saw (first to last admission), as a fraction of the binding limit. */
  sustained: number;
  peakAdmitted: number;
  peakTokens: number;
  peakArrived: number;
}

async function scenario(name: string, args: Args, clients: Record<string, unknown>[]): Promise<Row> {
  const limits = {rpm: args.rpm, tpm: args.tpm, windowMs: args.windowMs};
  const server = await startOpenAIServer(limits);
  const dir = mkdtempSync(join(tmpdir(), 'stage-bench-llm-'));
  try {
    const t0 = Date.now();
    const settings = clients.map((c, i) => ({baseURL: server.baseURL, dir, id: 'local:test-model', maxTokens: MAX_TOKENS, tag: String.fromCharCode(65 + i), ...c}));
    const reports = clients.length === 1 ? [await runWorker<WorkerReport>(settings[0]!)] : await runWorkersTogether<WorkerReport>(settings);
    const wallMs = Date.now() - t0;
    const stats = server.stats;
    const admitted = server.requests
      .filter((r) => r.outcome === 'ok' && r.route === 'POST /v1/chat/completions')
      .map((r) => ({at: r.receivedAt, tokens: requestTokenCost('chat', r.body)}))
      .sort((a, b) => a.at - b.at);
    const f = sustainedFraction(admitted, limits);
    const calls = clients.reduce((n, c) => n + Number(c['calls']), 0);
    const ok = reports.reduce((n, r) => n + r.ok, 0);
    const failure = reports.find((r) => r.error)?.error;
    if (failure) process.stderr.write(`  ${name}: first failure: ${failure.slice(0, 160)}\n`);
    return {
      scenario: name,
      processes: clients.length,
      calls,
      ok,
      failed: reports.reduce((n, r) => n + r.failed, 0),
      r429: stats.rateLimited,
      wallS: wallMs / 1000,
      overWall: ok / (wallMs / args.windowMs) / args.rpm,
      sustained: Math.max(f.requests, f.tokens),
      peakAdmitted: maxInWindow(admitted, args.windowMs).requests / args.rpm,
      peakTokens: stats.maxTokensInWindow / args.tpm,
      peakArrived: stats.maxArrivedInWindow / args.rpm,
    };
  } finally {
    await server.close();
    rmSync(dir, {recursive: true, force: true});
  }
}

interface OverheadReport {
  sequentialUs: number;
  cycleUs: number;
  burstUs: number;
  burstCycles: number;
}

async function overhead(label: string, base: string, processes: number, calls: number): Promise<string> {
  const dir = mkdtempSync(join(base, 'stage-bench-llm-'));
  try {
    const settings = Array.from({length: processes}, (_, i) => ({mode: 'overhead', dir, calls, tag: `o${i}`}));
    const reports = processes === 1 ? [await runWorker<OverheadReport>(settings[0]!)] : await runWorkersTogether<OverheadReport>(settings);
    const mean = (k: keyof OverheadReport): number => reports.reduce((n, r) => n + r[k], 0) / reports.length;
    return `| ${label} | ${processes} | ${mean('sequentialUs').toFixed(0)} | ${mean('cycleUs').toFixed(0)} | ${mean('burstUs').toFixed(1)} (${mean('burstCycles').toFixed(0)} cycles for ${calls}) |`;
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/** The steady state at real window lengths, from the pure functions (a real 60 s run takes minutes). */
function simulated(): string[] {
  const cases: [string, Parameters<typeof policyFor>[0], number][] = [
    ['rpm 500, 60 s window', {id: 's', rpm: 500}, 10],
    ['rpm 10 000, tpm 2 000 000, 60 s window', {id: 's', rpm: 10_000, tpm: 2_000_000}, 150],
    ['tpm 40 000, 60 s window, 400-token calls', {id: 's', tpm: 40_000}, 400],
    ['rpm 3, 60 s window', {id: 's', rpm: 3}, 0],
  ];
  return cases.map(([label, options, tokens]) => {
    const p = policyFor(options);
    const n = Number.isFinite(p.rpm) ? p.rpm * 20 : (p.tpm / tokens) * 20;
    const starts = simulateBacklog(p, Array.from({length: n}, () => tokens));
    const f = sustainedFraction(starts, p);
    const peak = maxInWindow(starts, p.windowMs);
    const rate = Math.max(Number.isFinite(p.rpm) ? f.requests : 0, Number.isFinite(p.tpm) ? f.tokens : 0);
    return `| ${label} | ${pct(rate)} | ${peak.requests} / ${Number.isFinite(p.rpm) ? p.rpm : '∞'} | ${peak.tokens} / ${Number.isFinite(p.tpm) ? p.tpm : '∞'} |`;
  });
}

/**
 * (e) The per-call memo's journal: what appending an answer costs (a JSON line with a checksum,
 * written to the kernel before the call returns), expressed as the share of a process's time it
 * takes at 200 calls/s, and what reloading a 25,500-answer memo costs a resumed build.
 */
async function journalSection(): Promise<string[]> {
  const {initHasher} = await import('../../src/fingerprint/hasher.js');
  const {CallMemo} = await import('../../src/llm/memo.js');
  await initHasher();
  const dir = mkdtempSync(join(tmpdir(), 'stage-bench-memo-'));
  try {
    const answer = 'Since you follow a vegan diet and have a tight budget, here is what I would suggest. '.repeat(14);
    const entry = (i: number) => ({
      response: {model: 'gpt-4-0613', choices: [{index: 0, message: {content: `${answer}${i}`}, finish_reason: 'stop'}], usage: {prompt_tokens: 480, completion_tokens: 260}},
      dollars: 0.03, time: new Date().toISOString(), via: 'realtime' as const,
    });
    const memo = new CallMemo(dir);
    const n = 25_500;
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const e = entry(i);
      const t = performance.now();
      memo.put(`xxh64:${i.toString(16).padStart(16, '0')}` as never, e);
      times.push(performance.now() - t);
    }
    memo.close();
    times.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / n;
    const at = (q: number): number => times[Math.min(n - 1, Math.floor(q * n))]!;
    const t0 = performance.now();
    const reloaded = new CallMemo(dir);
    const size = reloaded.size;
    const reloadMs = performance.now() - t0;
    const us = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`;
    return [
      `${n} answers of about ${Buffer.byteLength(JSON.stringify(entry(0)))} bytes each, appended to one journal segment in ${dir.startsWith('/tmp') ? '/tmp' : tmpdir()}:`,
      '',
      '| append (mean) | p50 | p99 | share of time at 200 calls/s | reload of the whole memo |',
      '|---|---|---|---|---|',
      `| ${us(mean)} | ${us(at(0.5))} | ${us(at(0.99))} | ${(mean * 200 / 10).toFixed(2)}% | ${reloadMs.toFixed(0)} ms for ${size} answers |`,
      '',
      'The share is append time × 200 per second of wall time: what the journal takes from a process making 200 calls a second.',
    ];
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const calls = args.rpm * args.windows;
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  const limiterClient = {mode: 'limited', rpm: args.rpm, tpm: args.tpm, windowMs: args.windowMs};

  log(`limit: rpm ${args.rpm}, tpm ${args.tpm} per ${args.windowMs} ms sliding window; ${calls} calls per scenario`);
  const rows: Row[] = [];
  log('(a) one process through the limiter ...');
  rows.push(await scenario('(a) stage limiter (defaults)', args, [{...limiterClient, calls}]));
  log('(a) same, with pacing off (burst 1) ...');
  rows.push(await scenario('(a) stage limiter, burst 1 (no pacing)', args, [{...limiterClient, burst: 1, calls}]));
  log('(b) naive: everything at once, SDK default retries ...');
  rows.push(await scenario('(b) naive: all at once, maxRetries 2', args, [{mode: 'naive', calls}]));
  log('(c) two processes sharing the limit ...');
  rows.push(await scenario('(c) stage limiter, 2 processes', args, [{...limiterClient, calls: calls / 2}, {...limiterClient, calls: calls / 2}]));

  log('(d) limiter cost per acquire ...');
  const shm = statSync('/dev/shm', {throwIfNoEntry: false})?.isDirectory() ? '/dev/shm' : undefined;
  const overheadRows = [
    await overhead(`${tmpdir()} (this machine: ${process.env['XDG_RUNTIME_DIR'] ? 'XDG_RUNTIME_DIR set' : 'the default here, XDG_RUNTIME_DIR unset'})`, tmpdir(), 1, 2000),
    await overhead(`${tmpdir()}, two processes at once`, tmpdir(), 2, 2000),
    ...(shm ? [await overhead(`${shm} (tmpfs, like /run/user/<uid>)`, shm, 1, 2000), await overhead(`${shm}, two processes at once`, shm, 2, 2000)] : []),
  ];
  const journal = await journalSection();

  const lines = [
    '# bench/llm: model-call rate limiting',
    '',
    `Run: \`npm run build && node bench/llm/run.mjs --rpm ${args.rpm} --tpm ${args.tpm} --window-ms ${args.windowMs} --windows ${args.windows}\``,
    `on ${new Date().toISOString().slice(0, 10)}, Node ${process.version}.`,
    '',
    `The loopback server enforces rpm ${args.rpm} and tpm ${args.tpm} over a sliding ${args.windowMs} ms window`,
    `(a short window stands in for OpenAI's minute). Each scenario makes ${calls} chat calls (${args.windows} windows' worth)`,
    `of about ${Math.round(args.tpm / args.rpm)} tokens each (max_tokens ${MAX_TOKENS.join('/')}), so both limits bind. Clients are`,
    'separate node processes with the real `openai` client; the limited ones use `maxRetries: 0` and retry a 429',
    'themselves (at most 3 attempts) after pausing the limiter for retry-after.',
    '',
    '## Throughput and 429s',
    '',
    '| scenario | procs | calls | ok | failed | 429s | wall (s) | done per window / rpm | sustained rate / limit (server) | peak admitted in a window / rpm | peak tokens / tpm | peak arrivals / rpm |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.processes} | ${r.calls} | ${r.ok} | ${r.failed} | ${r.r429} | ${r.wallS.toFixed(1)} | ${pct(r.overWall)} | ${pct(r.sustained)} | ${pct(r.peakAdmitted)} | ${pct(r.peakTokens)} | ${pct(r.peakArrived)} |`),
    '',
    '- "done per window / rpm": successful calls per window over the whole wall time (process start-up included).',
    '- "sustained rate": admissions the server saw from the first to the last, per window, against whichever limit binds.',
    '  A burst at the start inflates it (a sliding window admits a full window\'s worth at once), so it reads above',
    '  100% for bursty clients over a run of a few windows.',
    '- "peak arrivals": the most requests that reached the server within one window, refused ones included.',
    '- Bursts are fragile: starts handed out at once reach the server spread over time, the spread grows with the',
    '  load on the machine, and once it passes the margin the next window\'s starts collide with the late arrivals of',
    '  the last one (429s). The default paces starts (at most 1/60 of a limit back to back, as OpenAI says it may',
    '  enforce a per-minute limit per second), which keeps that spread to a single request\'s latency.',
    `- With a ${args.windowMs} ms window the default margin (min(500 ms, window/20)) costs about 5% by itself; at 60 s it is 0.8%:`,
    '',
    '| steady state, pure simulation, default settings | sustained rate / limit | peak requests in a window | peak tokens in a window |',
    '|---|---|---|---|',
    ...simulated(),
    '',
    '## Limiter cost per acquire',
    '',
    'Limits far above demand, so nothing waits: lock file (O_EXCL), read the state, decide, write it (temp + rename).',
    '',
    '| state directory | procs | µs per acquire, one after another | µs per lock cycle | µs per acquire, 2000 at once |',
    '|---|---|---|---|---|',
    ...overheadRows,
    '',
    '## Journal overhead',
    '',
    ...journal,
    '',
  ];
  const text = lines.join('\n');
  process.stdout.write(`${text}\n`);
  writeFileSync(args.out, text);
  log(`written to ${args.out}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exitCode = 1;
});
