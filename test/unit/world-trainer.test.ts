import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {describe, expect, test} from 'vitest';
import type {Attribute} from '../../src/world/attributes.js';
import type {Message} from '../../src/world/conversation.js';
import {loadPolicy, parseExamples, trainFiles} from '../../src/world/files.js';
import {drawPersona} from '../../src/world/persona.js';
import {formatPolicy, logitsFor, M0, parsePolicy} from '../../src/world/policy.js';
import {rngFor} from '../../src/world/prng.js';
import {QUESTION_TEMPLATES} from '../../src/world/questions.js';
import {TASKS} from '../../src/world/tasks.js';
import {decisionsOf, firstQuestionMass, trainPolicy} from '../../src/world/trainer.js';

const persona = drawPersona(rngFor('trainer-test'));

/** An SFT example in the paper's layout: name + task, questions and replies, task again, answer. */
function example(taskIndex: number, asked: readonly Attribute[]): Message[] {
  const task = TASKS[taskIndex]!;
  const msgs: Message[] = [{role: 'user', content: `My name is ${persona.name}.\n\n${task.text}`}];
  asked.forEach((a, i) => {
    msgs.push({role: 'assistant', content: QUESTION_TEMPLATES[a][i % 3]!});
    msgs.push({role: 'user', content: persona.facts[a].firstPerson + (i === asked.length - 1 ? `\n\n${task.text}` : '')});
  });
  msgs.push({role: 'assistant', content: `${persona.name.split(' ')[0]!}, since ${persona.facts[asked[0]!].secondPerson}, here is a plan.`});
  return msgs;
}

describe('decisions', () => {
  test('one per question, with the attributes still open at that point', () => {
    const d = decisionsOf(example(0, ['diet', 'family']));
    expect(d).toEqual([
      {domain: 'meals', open: ['diet', 'budget', 'city', 'job', 'hobby', 'family', 'fitness', 'schedule'], chosen: 'diet'},
      {domain: 'meals', open: ['budget', 'city', 'job', 'hobby', 'family', 'fitness', 'schedule'], chosen: 'family'},
    ]);
  });

  test('no task, no decisions', () => {
    expect(decisionsOf([{role: 'user', content: 'Hi'}, {role: 'assistant', content: QUESTION_TEMPLATES.diet[0]!}])).toEqual([]);
  });
});

describe('training', () => {
  // Kept conversations asked about meals' relevant attributes, with a little noise.
  const data = [
    ...Array.from({length: 8}, () => example(0, ['diet', 'budget'])),
    ...Array.from({length: 6}, () => example(6, ['family'])),
    example(12, ['job']),
  ];

  test('moves probability toward the attributes the kept conversations asked about', () => {
    const {policy, decisions} = trainPolicy(M0, data);
    expect(decisions).toEqual({meals: 23});
    const useful = ['diet', 'budget', 'family'] as const;
    expect(firstQuestionMass(M0, 'meals', useful)).toBeCloseTo(3 / 8, 6);
    expect(firstQuestionMass(policy, 'meals', useful)).toBeGreaterThan(0.8);
    const logits = logitsFor(policy, 'meals');
    expect(logits.job).toBeLessThan(0);
    expect(logits.diet).toBeGreaterThan(logits.job);
    // Domains with no data keep the base's (here: no) weights.
    expect(policy.weights.travel).toBeUndefined();
  });

  test('more epochs or a larger step move further; the fit is deterministic', () => {
    const useful = ['diet', 'budget', 'family'] as const;
    const short = firstQuestionMass(trainPolicy(M0, data, {lr: 1, epochs: 5}).policy, 'meals', useful);
    const long = firstQuestionMass(trainPolicy(M0, data, {lr: 1, epochs: 50}).policy, 'meals', useful);
    expect(long).toBeGreaterThan(short);
    expect(formatPolicy(trainPolicy(M0, data).policy)).toBe(formatPolicy(trainPolicy(M0, data).policy));
  });

  test('starts from the base policy', () => {
    const base = {weights: {travel: {city: 2}}};
    expect(trainPolicy(base, data).policy.weights.travel).toEqual({city: 2});
  });
});

describe('policy and data files', () => {
  test('policy text round-trips; bad files are named in the message', () => {
    const p = trainPolicy(M0, [example(0, ['diet'])]).policy;
    const again = parsePolicy(formatPolicy(p), 'p.json');
    expect(again.ok && again.value).toEqual(p);
    const bad = parsePolicy('{"kind":"stage-world-policy","version":1,"weights":{"meals":{"shoe":1}}}', 'p.json');
    expect(bad.ok || bad.error).toMatch(/p\.json: weights\.meals: unknown attribute "shoe"/);
    expect(parsePolicy('{}', 'q.json').ok).toBe(false);
  });

  test('examples from JSONL, a JSON array, or {messages}', () => {
    const ex = example(0, ['diet']);
    const jsonl = parseExamples(`${JSON.stringify(ex)}\n${JSON.stringify({messages: ex})}\n`, 'd.jsonl');
    expect(jsonl.ok && jsonl.value).toEqual([ex, ex]);
    const array = parseExamples(JSON.stringify([ex, ex, ex], null, 2), 'd.json');
    expect(array.ok && array.value.length).toBe(3);
    const broken = parseExamples(`${JSON.stringify(ex)}\n{oops\n`, 'd.jsonl');
    expect(broken.ok || broken.error).toMatch(/^d\.jsonl:2: not valid JSON/);
  });

  test('trainFiles writes policy.json and config.json, the same bytes every time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'world-train-'));
    const data = join(dir, 'sft.jsonl');
    writeFileSync(data, [example(0, ['diet', 'budget']), example(6, ['family'])].map((e) => JSON.stringify(e)).join('\n'));
    const r = trainFiles({data, base: 'm0', out: join(dir, 'm1'), lr: 0.5, epochs: 20});
    expect(r.ok).toBe(true);
    const first = readFileSync(join(dir, 'm1', 'policy.json'), 'utf8');
    const config = JSON.parse(readFileSync(join(dir, 'm1', 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({kind: 'stage-world-train-config', base: 'm0', lr: 0.5, epochs: 20, decisions: {meals: 3}});
    trainFiles({data, base: 'm0', out: join(dir, 'm1'), lr: 0.5, epochs: 20});
    expect(readFileSync(join(dir, 'm1', 'policy.json'), 'utf8')).toBe(first);
    const loaded = loadPolicy(join(dir, 'm1'));
    expect(loaded.ok && logitsFor(loaded.value.policy, 'meals').diet).toBeGreaterThan(0);
    expect(loadPolicy(join(dir, 'missing.json')).ok).toBe(false);
  });
});
