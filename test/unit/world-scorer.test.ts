import {describe, expect, test} from 'vitest';
import type {Attribute} from '../../src/world/attributes.js';
import {drawPersona, renderPersona} from '../../src/world/persona.js';
import {M0} from '../../src/world/policy.js';
import {rngFor} from '../../src/world/prng.js';
import {QUESTION_TEMPLATES} from '../../src/world/questions.js';
import {oracle} from '../../src/world/roles/oracle.js';
import {continuationLogprobs, LOGPROB_OTHER, LOGPROB_SEEN, LOGPROB_UNSEEN, promptLogprobs, sumLogprobFrom, tokenize} from '../../src/world/scorer.js';
import {TASKS} from '../../src/world/tasks.js';

describe('tokenize', () => {
  test('tokens concatenate back to the text and offsets point at each token', () => {
    for (const text of ['', 'Hello', '  Hello,  world!\n\n[INST] gluten-free   ', 'naïve café — 日本語 ok?', 'a\tb\r\nc']) {
      const {tokens, offsets} = tokenize(text);
      expect(tokens.join('')).toBe(text);
      tokens.forEach((t, i) => expect(text.slice(offsets[i]!, offsets[i]! + t.length)).toBe(t));
    }
    expect(tokenize('I follow a vegan diet.').tokens).toEqual(['I', ' follow', ' a', ' vegan', ' diet', '.']);
  });
});

describe('prompt log-probs', () => {
  test('the first token has none; value phrases cost more the first time than after', () => {
    const {tokens, logprobs} = promptLogprobs('I follow a vegan diet. You follow a vegan diet.');
    expect(logprobs[0]).toBeNull();
    const at = (i: number): number => logprobs[i]!;
    expect(tokens[3]).toBe(' vegan');
    expect(at(3)).toBeCloseTo(LOGPROB_UNSEEN, 1);
    expect(at(4)).toBeCloseTo(LOGPROB_UNSEEN, 1);
    expect(tokens[9]).toBe(' vegan');
    expect(at(9)).toBeCloseTo(LOGPROB_SEEN, 1);
    expect(at(1)).toBeCloseTo(LOGPROB_OTHER, 1);
  });

  test('deterministic', () => {
    expect(promptLogprobs('Some text about Chicago.')).toEqual(promptLogprobs('Some text about Chicago.'));
  });

  test('continuation log-probs see the context', () => {
    const seen = continuationLogprobs('I live in Denver.\n\n', 'Since you live in Denver, go hiking.');
    const unseen = continuationLogprobs('I live somewhere.\n\n', 'Since you live in Denver, go hiking.');
    const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);
    expect(seen.tokens.join('')).toBe('Since you live in Denver, go hiking.');
    expect(sum(seen.logprobs) - sum(unseen.logprobs)).toBeCloseTo(LOGPROB_SEEN - LOGPROB_UNSEEN, 1);
  });
});

describe('log p(oracle | conversation)', () => {
  const persona = drawPersona(rngFor('scorer-test'));
  const name = persona.name;

  /** The qa-experimental layout: name and task, the conversation, the task again, then the oracle. */
  function score(taskIndex: number, asked: readonly Attribute[]): number {
    const task = TASKS[taskIndex]!;
    const gold = oracle({messages: [{role: 'user', content: `${renderPersona(persona)}\n\n${task.text}`}], temperature: 0, rng: rngFor('o'), policy: M0});
    const turns = asked.map((a) => `${QUESTION_TEMPLATES[a][0]!}</s>[INST] ${persona.facts[a].firstPerson} [/INST]`).join('\n');
    const prefix = `<s>[INST]My name is ${name}.\n\n${task.text}[/INST]${turns}\n\n${task.text}[/INST]`;
    return sumLogprobFrom(prefix + gold, prefix.length);
  }

  test('rises with every relevant attribute the conversation revealed', () => {
    for (const task of TASKS) {
      const [r1, r2] = task.relevant;
      const none = score(task.index, []);
      const one = score(task.index, [r1!]);
      const two = score(task.index, [r1!, r2!]);
      expect(one).toBeGreaterThan(none + 3);
      expect(two).toBeGreaterThan(one + 3);
      expect(score(task.index, task.relevant)).toBeGreaterThanOrEqual(two);
    }
  });

  test('irrelevant attributes change nothing', () => {
    const task = TASKS[0]!;
    const irrelevant = (['city', 'job', 'hobby', 'fitness', 'schedule'] as const).filter((a) => !task.relevant.includes(a));
    expect(score(0, irrelevant)).toBeCloseTo(score(0, []), 6);
    expect(score(0, ['diet', ...irrelevant])).toBeCloseTo(score(0, ['diet']), 6);
  });
});
