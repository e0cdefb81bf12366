/**
 * The STaR-GATE loop against the model world over real HTTP with the real `openai` client:
 * personas, oracle answers, m0's conversations (n = 10), roleplayer replies, prompt log-probs,
 * top-1 selection, regularizer answers, training from m0, then m1..m3 on the test split against
 * m0. The prompts here are a pipeline's own wording; the world finds what it needs by content.
 */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import OpenAI from 'openai';
import {afterAll, beforeAll, describe, expect, test} from 'vitest';
import {trainFiles} from '../../src/world/files.js';
import {hashOf} from '../../src/world/prng.js';
import {classifyQuestion} from '../../src/world/questions.js';
import {startWorldServer, type WorldServer} from '../../src/world/server.js';
import {taskByText, type Task} from '../../src/world/tasks.js';

type Msg = {role: 'system' | 'user' | 'assistant'; content: string};

interface Item {
  readonly persona: string;
  readonly name: string;
  readonly task: Task;
  readonly gold: string;
  readonly turns: number;
}

interface Simulated extends Item {
  /** Ten conversations: question, reply, question, reply, … */
  readonly convs: Msg[][];
  readonly scores: number[];
}

const QUESTIONER = (name: string, task: string): string =>
  `A user named ${name} has come to you for help, and you know nothing about their preferences yet. Ask the single most informative question you can, one question only, and do not answer the request. The initial request is as follows: ${task}`;
const ROLEPLAYER_SYSTEM = 'You play a human user with the characteristics given, and you reply in the first person.';
const ROLEPLAYER = (persona: string, task: string, history: Msg[]): string =>
  `Your characteristics:\n${persona}\n\nYou asked an assistant: ${task}\nThe assistant wants to know more before answering. Reply naturally and briefly, in character.\n\n${history.map((m) => `${m.role === 'assistant' ? 'AI Assistant' : 'You'}: ${m.content}`).join('\n')}\nYou:`;
const ORACLE_SYSTEM = 'You give personalised, satisfying answers that fit the user\'s background.';
const ORACLE = (persona: string, task: string): string =>
  `You are answering for the user described below. Speak to them directly and use their background where it matters.\n\n${persona}\n\nTheir request: ${task}`;
const JUDGE = (persona: string, task: string, a: string, b: string): string =>
  `Decide which response better fits the user's background and preferences.\n\nUser background: ${persona}\nUser query: ${task}\n\nResponse A: ${a}\n\nResponse B: ${b}\n\nCompare them step by step in under 100 words, then give your verdict as\nComparison: <comparison>\nFinal Response: <A or B>`;

/** Runs `fn` over `items` with at most `limit` in flight, keeping order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  }));
  return out;
}

const mean = (xs: readonly number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;

let m0: WorldServer;
const servers: WorldServer[] = [];
const client = (s: WorldServer): OpenAI => new OpenAI({baseURL: s.baseURL, apiKey: 'unused', maxRetries: 0});
const dir = mkdtempSync(join(tmpdir(), 'world-loop-'));

async function chat(c: OpenAI, model: string, messages: Msg[], params: {n?: number; temperature?: number; seed?: number} = {}): Promise<string[]> {
  const r = await c.chat.completions.create({model, messages, max_tokens: 400, ...params});
  return r.choices.map((ch) => ch.message.content ?? '');
}

/** The tasks of a split, as the paper extracts them from the Dahoas rows. */
function tasks(from: number, to: number): Task[] {
  const rows = readFileSync(new URL('../../data/demo/tasks.jsonl', import.meta.url), 'utf8').trim().split('\n').slice(from, to);
  return rows.map((line) => {
    const prompt = (JSON.parse(line) as {prompt: string}).prompt;
    const text = prompt.slice(0, prompt.indexOf('Assistant: ')).trim().slice(7);
    return taskByText(text)!;
  });
}

async function items(split: string, personaCount: number, splitTasks: Task[]): Promise<Item[]> {
  const c = client(m0);
  const personas = await mapLimit(Array.from({length: personaCount}, (_, i) => i), 8, async (i) =>
    (await chat(c, 'world-persona-writer', [{role: 'user', content: 'Write one creative, unpredictable persona of a user, in under ten sentences.'}], {temperature: 1.4, seed: hashOf([split, i]).charCodeAt(0) * 1000 + i}))[0]!);
  const pairs = personas.flatMap((persona, p) => splitTasks.map((task, t) => ({persona, p, task, t})));
  return mapLimit(pairs, 16, async ({persona, p, task, t}) => {
    const gold = (await chat(c, 'world-oracle', [{role: 'system', content: ORACLE_SYSTEM}, {role: 'user', content: ORACLE(persona, task.text)}], {temperature: 0}))[0]!;
    // The paper's stopping rule gives every conversation of a key the same length: 1, 2 or 3 turns.
    return {persona, name: /^I'm (.+?)\./.exec(persona)![1]!, task, gold, turns: 1 + ((p * 5 + t) % 3)};
  });
}

/**
 * Scores log p(gold | conversation) for a key's conversations in one request (a list of
 * prompts), from the scorer's prompt log-probs, in the paper's layout.
 */
async function score(name: string, task: string, convs: Msg[][], gold: string): Promise<number[]> {
  const prefixes = convs.map((conv) => {
    const mid = conv.map((m) => (m.role === 'assistant' ? `${m.content}</s>` : `[INST] ${m.content} [/INST]`)).join('\n');
    return `<s>[INST]My name is ${name}.\n\n${task}[/INST]${mid}\n\n${task}[/INST]`;
  });
  const r = await client(m0).completions.create({model: 'world-scorer', prompt: prefixes.map((p) => p + gold), echo: true, logprobs: 1, max_tokens: 1, temperature: 0});
  return r.choices.map((choice, i) => {
    const lp = choice.logprobs!;
    const n = lp.tokens!.length - 1; // the last token is the generated one
    let sum = 0;
    for (let j = 0; j < n; j++) if (lp.text_offset![j]! >= prefixes[i]!.length) sum += lp.token_logprobs![j]!;
    return sum;
  });
}

async function simulate(server: WorldServer, model: string, keys: readonly Item[]): Promise<Simulated[]> {
  const c = client(server);
  const rp = client(m0);
  return mapLimit(keys, 12, async (item) => {
    const opener: Msg = {role: 'user', content: QUESTIONER(item.name, item.task.text)};
    const first = await chat(c, model, [opener], {n: 10, temperature: 0.9});
    const convs: Msg[][] = first.map((q) => [{role: 'assistant', content: q}]);
    for (let turn = 0; turn < item.turns; turn++) {
      await Promise.all(convs.map(async (conv) => {
        if (turn > 0) conv.push({role: 'assistant', content: (await chat(c, model, [opener, ...conv], {temperature: 0.9}))[0]!});
        const reply = await chat(rp, 'world-roleplayer', [{role: 'system', content: ROLEPLAYER_SYSTEM}, {role: 'user', content: ROLEPLAYER(item.persona, item.task.text, conv)}], {temperature: 0});
        conv.push({role: 'user', content: reply[0]!});
      }));
    }
    const scores = await score(item.name, item.task.text, convs, item.gold);
    return {...item, convs, scores};
  });
}

/** The answerer's messages for a conversation: name and task, the turns, the task re-asked. */
function answerPrompt(it: Item, conv: Msg[]): Msg[] {
  const last = conv.at(-1)!;
  return [{role: 'user', content: `My name is ${it.name}.\n\n${it.task.text}`}, ...conv.slice(0, -1), {role: 'user', content: `${last.content}\n\n${it.task.text}`}];
}

/** Top-1 conversation per key plus the questioner's own final answer: the SFT data. */
async function sftData(server: WorldServer, model: string, sims: Simulated[]): Promise<Msg[][]> {
  const c = client(server);
  return mapLimit(sims, 16, async (s) => {
    const best = s.convs[s.scores.indexOf(Math.max(...s.scores))]!;
    const msgs = answerPrompt(s, best);
    return [...msgs, {role: 'assistant', content: (await chat(c, model, msgs, {temperature: 0}))[0]!}];
  });
}

/** Share of questions that asked about an attribute the task needs. */
function relevantShare(sims: Simulated[]): number {
  const hits = sims.flatMap((s) => s.convs.flatMap((conv) => conv.filter((m) => m.role === 'assistant')
    .map((m) => (s.task.relevant.includes(classifyQuestion(m.content) as never) ? 1 : 0))));
  return mean(hits);
}

/** m_t's answers against m0's under the judge, positions randomised; the win rate of m_t. */
async function winRate(server: WorldServer, model: string, mine: Simulated[], base: Simulated[], samples: number): Promise<{wins: number; total: number}> {
  const pairs = mine.flatMap((it, k) => Array.from({length: samples}, (_, s) => ({it, k, s})));
  const results = await mapLimit(pairs, 16, async ({it, k, s}) => {
    const ours = (await chat(client(server), model.replace('questioner', 'answerer'), answerPrompt(it, it.convs[s]!), {temperature: 0}))[0]!;
    const theirs = (await chat(client(m0), 'world-answerer@m0', answerPrompt(base[k]!, base[k]!.convs[s]!), {temperature: 0}))[0]!;
    const flip = hashOf(['flip', k, s]).charCodeAt(0) % 2 === 1;
    const [a, b] = flip ? [ours, theirs] : [theirs, ours];
    const verdict = (await chat(client(m0), 'world-judge', [{role: 'system', content: 'You are an expert evaluator of how well responses fit a user.'}, {role: 'user', content: JUDGE(it.persona, it.task.text, a, b)}], {temperature: 0}))[0]!;
    const label = /Final Response:\s*([AB])\s*$/.exec(verdict)![1];
    return (label === 'A') === flip ? 1 : 0;
  });
  return {wins: results.reduce((s: number, x: number) => s + x, 0), total: results.length};
}

/** One expert iteration: m_t's conversations on a split, top-1, SFT data, train from m0. */
async function iterate(server: WorldServer, model: string, keys: Item[], t: number): Promise<WorldServer> {
  const sims = await simulate(server, model, keys);
  const data = await sftData(server, model.replace('questioner', 'answerer'), sims);
  const file = join(dir, `sft-m${t}.jsonl`);
  writeFileSync(file, data.map((d) => JSON.stringify(d)).join('\n') + '\n');
  const trained = trainFiles({data: file, base: 'm0', out: join(dir, `m${t + 1}`), lr: 1, epochs: 1});
  expect(trained.ok).toBe(true);
  const next = await startWorldServer({port: 0, policy: join(dir, `m${t + 1}`)});
  servers.push(next);
  return next;
}

beforeAll(async () => {
  m0 = await startWorldServer({port: 0});
  servers.push(m0);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('STaR-GATE against the model world', () => {
  let splitA: Item[];
  let splitB: Item[];
  let test_: Item[];
  const models: {server: WorldServer; model: string}[] = [];
  const evals: Simulated[][] = [];

  beforeAll(async () => {
    splitA = await items('A', 6, tasks(0, 12));
    splitB = await items('B', 6, tasks(12, 24));
    test_ = await items('test', 4, tasks(24, 30));
    models.push({server: m0, model: 'world-questioner@m0'});
    evals.push(await simulate(m0, 'world-questioner@m0', test_));
  });

  test('m1, trained on m0\'s best conversations, asks relevant questions more often and wins against m0', async () => {
    const m1 = await iterate(m0, 'world-questioner@m0', splitA, 0);
    expect(m1.fingerprint).not.toBe(m0.fingerprint);
    models.push({server: m1, model: 'world-questioner@m1'});
    evals.push(await simulate(m1, 'world-questioner@m1', test_));
    const [r0, r1] = [relevantShare(evals[0]!), relevantShare(evals[1]!)];
    const wr = await winRate(m1, 'world-questioner@m1', evals[1]!, evals[0]!, 5);
    const [lp0, lp1] = [mean(evals[0]!.flatMap((s) => s.scores)), mean(evals[1]!.flatMap((s) => s.scores))];
    console.log(`m0: relevant questions ${r0.toFixed(3)}, mean log p(oracle | conv) ${lp0.toFixed(2)}`);
    console.log(`m1: relevant questions ${r1.toFixed(3)}, mean log p(oracle | conv) ${lp1.toFixed(2)}, win rate vs m0 ${(wr.wins / wr.total).toFixed(3)} (${wr.wins}/${wr.total})`);
    expect(r1).toBeGreaterThan(r0 + 0.1);
    expect(lp1).toBeGreaterThan(lp0);
    expect(wr.wins / wr.total).toBeGreaterThan(0.5);
  }, 300_000);

  test('m2 (from m1 on B) and m3 (from m2 on A) keep improving over m0', async () => {
    const m2 = await iterate(models[1]!.server, models[1]!.model, splitB, 1);
    models.push({server: m2, model: 'world-questioner@m2'});
    const m3 = await iterate(m2, 'world-questioner@m2', splitA, 2);
    models.push({server: m3, model: 'world-questioner@m3'});
    for (const t of [2, 3]) evals.push(await simulate(models[t]!.server, models[t]!.model, test_));
    const lps = evals.map((e) => mean(e.flatMap((s) => s.scores)));
    for (const t of [2, 3]) {
      const wr = await winRate(models[t]!.server, models[t]!.model, evals[t]!, evals[0]!, 5);
      console.log(`m${t}: relevant questions ${relevantShare(evals[t]!).toFixed(3)}, mean log p(oracle | conv) ${lps[t]!.toFixed(2)}, win rate vs m0 ${(wr.wins / wr.total).toFixed(3)} (${wr.wins}/${wr.total})`);
      expect(wr.wins / wr.total).toBeGreaterThan(0.5);
    }
    // Everything in the world is seeded, so the trend is exact, not a sampling accident.
    expect(lps[1]!).toBeGreaterThan(lps[0]!);
    expect(lps[2]!).toBeGreaterThan(lps[1]!);
    expect(lps[3]!).toBeGreaterThanOrEqual(lps[2]!);
  }, 300_000);
});
