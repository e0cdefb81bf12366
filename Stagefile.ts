// STaR-GATE (Andukuri et al., 2024) as a build: every artifact is a target, every iteration a
// loop. `stage build winrates --profile demo` runs it against the embedded model world;
// `--profile paper` declares the paper's scale, models and GPU jobs.
import {model, profile, target, type Target} from 'stage';
import {finetune} from './rules/finetune.js';
import {oracle} from './rules/gold.js';
import {judge} from './rules/judge.js';
import {scoreLogprobs, topOne, type Condition} from './rules/logprobs.js';
import {moderate} from './rules/moderation.js';
import {extractNames} from './rules/names.js';
import {writePersonas} from './rules/personas.js';
import {demo, paper, tiny, tinySlurm, type Profile, type Split} from './rules/profiles.js';
import {regularize} from './rules/regularizer.js';
import {renderReport} from './rules/report.js';
import {answerTest} from './rules/responses.js';
import {sftData} from './rules/sftdata.js';
import {simulate} from './rules/simulate.js';
import {extractTasks} from './rules/tasks.js';
import {winrates} from './rules/winrates.js';

const P = pick({paper: () => paper, demo, tiny, 'tiny-slurm': tinySlurm}, profile('demo'));

function pick(profiles: Record<string, () => Profile>, name: string): Profile {
  const make = profiles[name];
  if (!make) throw new Error(`unknown profile "${name}": use ${Object.keys(profiles).join(', ')}`);
  return make();
}
const SPLITS: Split[] = ['A', 'B', 'test'];
const CONDITIONS: Condition[] = ['qa-experimental', 'pos-control-1', 'pos-control-2', 'neg-control'];
const ITERATIONS = 3;
const SEED = 1;

for (const [role, m] of Object.entries(P.apiModels)) model(role, m);

/** The GPU side of a target: where it runs, what it asks for, which servers it starts. */
function gpu(kind: keyof typeof P.gpu, role: 'sim' | 'questioner' | 'scorer' | undefined, checkpoint?: string) {
  const server = role === 'sim' ? P.simServers(checkpoint) : role ? P.servers(role, checkpoint) : undefined;
  return {executor: P.executor, slurm: P.gpu[kind], ...(server ? {server} : {})} as const;
}

const tasks = {} as Record<Split, Target>;
const personas = {} as Record<Split, Target>;
const names = {} as Record<Split, Target>;
const gold = {} as Record<Split, Target>;
for (const s of SPLITS) {
  const [from, to] = P.rows[s];
  tasks[s] = target(`tasks/${s}`, {inputs: [P.source], params: {from, to}, schema: 'schemas/task.json', out: `out/tasks/${s}.jsonl`, run: extractTasks});
  personas[s] = target(`personas/${s}`, {
    inputs: ['prompts/persona-writer.md', 'prompts/persona-examples.json'],
    params: {count: P.personas[s], seed: 1000 + SPLITS.indexOf(s), sampling: {temperature: 1.4, top_p: 0.9, max_tokens: 400}},
    schema: 'schemas/persona.json', out: `out/personas/${s}.jsonl`, run: writePersonas,
  });
  names[s] = target(`names/${s}`, {deps: [personas[s]], params: {split: s}, schema: 'schemas/name.json', out: `out/names/${s}.jsonl`, run: extractNames});
  target(`moderation/${s}`, {deps: [personas[s]], inputs: ['prompts/moderation.md'], params: {split: s, count: P.personas[s]}, schema: 'schemas/moderation.json', out: `out/moderation/${s}.jsonl`, run: moderate});
  gold[s] = target(`gold/${s}`, {
    deps: [tasks[s], personas[s]], inputs: ['prompts/oracle.md'],
    params: {split: s, sampling: {temperature: 0, top_p: 0.9, max_tokens: 300}, expected: {personas: P.personas[s], tasks: to - from}},
    schema: 'schemas/gold.json', out: `out/gold/${s}.jsonl`, run: oracle,
  });
}

/** Simulated conversations of questioner `m` on a split; `checkpoint` is m's model target (none for m0). */
function sim(m: string, s: Split, checkpoint: Target | undefined): Target {
  const ckpt = checkpoint ? `out/${checkpoint.name}` : undefined;
  return target(`sim/${m}/${s}`, {
    deps: [tasks[s], personas[s], names[s], ...(checkpoint ? [checkpoint] : [])],
    inputs: ['prompts/questioner.md', 'prompts/roleplayer.md'],
    params: {split: s, samples: P.samples, maxRounds: P.maxRounds, roundsSeed: SEED, questioner: P.questioner(ckpt), roleplayer: P.roleplayer, concurrency: P.concurrency},
    ...gpu(s === 'test' ? 'simTest' : 'simTrain', 'sim', ckpt), shards: P.shards,
    schema: 'schemas/conversations.json', out: `out/sim/${m}/${s}.jsonl`, run: simulate,
  });
}

/** Log p_m0(gold | context) for every conversation of `m` on a split, under one condition. */
function logprobs(name: string, m: string, s: Split, simT: Target, condition: Condition): Target {
  return target(name, {
    deps: [simT, gold[s], tasks[s], personas[s], names[s]],
    params: {split: s, questioner: m, condition, scorer: {model: P.scorerModel}, concurrency: P.concurrency},
    ...gpu('logprobs', 'scorer'), shards: P.shards,
    schema: 'schemas/logprobs.json', out: `out/${name}.jsonl`, run: scoreLogprobs,
  });
}

// Expert iteration: m_t talks on split A (t even) or B (t odd); the conversations that make the
// oracle's answer most likely teach m_{t+1}, always finetuned from m0.
const models: (Target | undefined)[] = [undefined];
for (let t = 0; t < ITERATIONS; t++) {
  const m = `m${t}`;
  const s: Split = t % 2 === 0 ? 'A' : 'B';
  const ckpt = models[t] ? `out/${models[t]!.name}` : undefined;
  const simT = sim(m, s, models[t]);
  const lp = logprobs(`logprobs/${m}/${s}`, m, s, simT, 'qa-experimental');
  const top = target(`top1/${m}/${s}`, {deps: [lp], params: {scores: lp.name}, schema: 'schemas/top1.json', out: `out/top1/${m}/${s}.jsonl`, run: topOne});
  const reg = target(`regularizer/${m}/${s}`, {
    deps: [top, simT, tasks[s], names[s], ...(models[t] ? [models[t]!] : [])], inputs: ['prompts/regularizer.md'],
    params: {split: s, questioner: m, answerer: P.answerer(ckpt), concurrency: P.concurrency},
    ...gpu('regularizer', 'questioner', ckpt), schema: 'schemas/regularizer.json', out: `out/regularizer/${m}/${s}.jsonl`, run: regularize,
  });
  const data = target(`sftdata/${m}/${s}`, {
    deps: [top, simT, reg, tasks[s], names[s]], params: {split: s, questioner: m, evalFraction: 0.05, seed: 42},
    schema: 'schemas/sft-example.json', out: `out/sftdata/${m}/${s}/`, run: sftData,
  });
  models.push(target(`model/m${t + 1}`, {
    deps: [data], inputs: P.trainer === 'trl' ? ['prompts/mistral-training.jinja'] : [],
    params: {trainer: P.trainer, base: P.base, data: data.name, hyper: P.hyper, trainerVersion: P.trainerVersion ?? null},
    ...gpu('finetune', undefined), out: `out/model/m${t + 1}/`, run: finetune,
  }));
}

// Evaluation on the test split for m0..m3: conversations, log-probs under the four conditions,
// top-1, and each model's zero-shot answers (m0's on m0's conversations are the baseline).
const responses: Target[] = [];
const evaluation: Target[] = [];
for (let k = 0; k <= ITERATIONS; k++) {
  const m = `m${k}`;
  const ckpt = models[k] ? `out/${models[k]!.name}` : undefined;
  const simT = sim(m, 'test', models[k]);
  const lps = CONDITIONS.map((c) => logprobs(`logprobs/${m}/test/${c}`, m, 'test', simT, c));
  evaluation.push(...lps, target(`top1/${m}/test`, {deps: [lps[0]!], params: {scores: lps[0]!.name}, schema: 'schemas/top1.json', out: `out/top1/${m}/test.jsonl`, run: topOne}));
  responses.push(target(`responses/${m}`, {
    deps: [simT, tasks.test, names.test, ...(models[k] ? [models[k]!] : [])], inputs: ['prompts/answer.md'],
    params: {questioner: m, perGroup: P.winratePerGroup, seed: SEED, answerer: P.answerer(ckpt), concurrency: P.concurrency},
    ...gpu('responses', 'questioner', ckpt), schema: 'schemas/response.json', out: `out/responses/${m}.jsonl`, run: answerTest,
  }));
}

const judgments = [1, 2, 3].map((k) => target(`judgments/m${k}`, {
  deps: [responses[k]!, responses[0]!, personas.test, tasks.test], inputs: ['prompts/judge.md'],
  params: {model: `m${k}`, baseline: 'm0', seed: SEED, sampling: {temperature: 0, top_p: 0.9, max_tokens: 300}, expected: 3 * P.winratePerGroup},
  schema: 'schemas/judgment.json', out: `out/judgments/m${k}.jsonl`, run: judge,
}));

const summary = target('winrates', {
  deps: [...judgments, ...evaluation],
  params: {models: ['m1', 'm2', 'm3'], iterations: ['m0', 'm1', 'm2', 'm3'], conditions: CONDITIONS},
  schema: 'schemas/winrates.json', out: 'out/winrates.json', run: winrates,
});

target('report', {deps: [summary], out: 'out/report/', run: renderReport});
