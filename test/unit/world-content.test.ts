import {readFileSync} from 'node:fs';
import {describe, expect, test} from 'vitest';
import {ATTRIBUTES, VALUES} from '../../src/world/attributes.js';
import {NON_ANSWER, NOTHING_ELSE} from '../../src/world/roles/roleplayer.js';
import {classifyByKeywords, matchTemplate, OPEN_QUESTION, QUESTION_TEMPLATES} from '../../src/world/questions.js';
import {findMentions} from '../../src/world/recognise.js';
import {DOMAIN_ADVICE, DOMAINS, TASKS, taskByText, taskRows} from '../../src/world/tasks.js';

// The scorer and every role rely on value phrases appearing only where a fact is stated.
describe('world content', () => {
  test('no question, task, advice or stock reply names a value', () => {
    const texts = [...ATTRIBUTES.flatMap((a) => QUESTION_TEMPLATES[a]), OPEN_QUESTION, NON_ANSWER, NOTHING_ELSE,
      ...TASKS.map((t) => t.text), ...Object.values(DOMAIN_ADVICE)];
    for (const t of texts) expect(findMentions(t), t).toEqual([]);
  });

  test('each value sentence mentions exactly its own value, in both persons', () => {
    for (const v of VALUES) {
      expect(findMentions(v.firstPerson).map((m) => m.value)).toEqual([v]);
      expect(findMentions(v.secondPerson).map((m) => m.value)).toEqual([v]);
    }
  });

  test('every question template is recognised, by template and by keywords alone', () => {
    for (const a of ATTRIBUTES) {
      expect(QUESTION_TEMPLATES[a].length).toBeGreaterThanOrEqual(2);
      for (const q of QUESTION_TEMPLATES[a]) {
        expect(matchTemplate(`AI Assistant: ${q}`)).toBe(a);
        expect(classifyByKeywords(q), q).toBe(a);
      }
    }
    expect(matchTemplate(OPEN_QUESTION)).toBe('open');
  });

  test('30 distinct tasks, 2-3 relevant attributes each, every split covering every domain', () => {
    expect(TASKS).toHaveLength(30);
    expect(new Set(TASKS.map((t) => t.text)).size).toBe(30);
    for (const t of TASKS) {
      expect(t.relevant.length).toBeGreaterThanOrEqual(2);
      expect(t.relevant.length).toBeLessThanOrEqual(3);
      expect(taskByText(` ${t.text}\n`)).toBe(t);
      for (const other of TASKS) if (other !== t) expect(t.text.includes(other.text)).toBe(false);
    }
    for (const [from, to] of [[0, 12], [12, 24], [24, 30]] as const) {
      expect(new Set(TASKS.slice(from, to).map((t) => t.domain))).toEqual(new Set(DOMAINS));
    }
  });

  test('data/demo/tasks.jsonl holds the task table in the Dahoas format', () => {
    const rows = readFileSync(new URL('../../data/demo/tasks.jsonl', import.meta.url), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as {prompt: string});
    expect(rows).toEqual(taskRows());
    // The paper's extraction: the text before the first "Assistant: ", stripped, minus "Human: ".
    const extracted = rows.map((r) => r.prompt.slice(0, r.prompt.indexOf('Assistant: ')).trim().slice(7));
    expect(extracted).toEqual(TASKS.map((t) => t.text));
  });
});
