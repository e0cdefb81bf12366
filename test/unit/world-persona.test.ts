import {describe, expect, test} from 'vitest';
import {ATTRIBUTES, VALUES, valuesOf} from '../../src/world/attributes.js';
import {drawPersona, FIRST_NAMES, LAST_NAMES, parseFacts, parsePersona, renderPersona, type Persona} from '../../src/world/persona.js';
import {rngFor} from '../../src/world/prng.js';
import {findName, findTask, revealedFacts} from '../../src/world/recognise.js';
import {TASKS} from '../../src/world/tasks.js';

const personas = (k: number): Persona[] => Array.from({length: k}, (_, i) => drawPersona(rngFor('persona-test', i)));

describe('personas', () => {
  test('render then parse gives the persona back', () => {
    for (const p of personas(50)) expect(parsePersona(renderPersona(p))).toEqual(p);
  });

  test('every attribute has 4 to 6 values and every value round-trips', () => {
    for (const a of ATTRIBUTES) {
      expect(valuesOf(a).length).toBeGreaterThanOrEqual(4);
      expect(valuesOf(a).length).toBeLessThanOrEqual(6);
    }
    for (const v of VALUES) expect(parseFacts(`Some preamble. ${v.firstPerson} More text.`)[v.attribute]).toBe(v);
  });

  test('the text starts with the name and has one sentence per attribute', () => {
    const [p] = personas(1);
    const text = renderPersona(p!);
    expect(text.startsWith(`I'm ${p!.name}. `)).toBe(true);
    expect(text.split(/(?<=\.) /)).toHaveLength(1 + ATTRIBUTES.length);
    expect(text).toContain(p!.facts.diet.firstPerson);
  });

  test('a persona is found inside any prompt, with whitespace reflowed', () => {
    const [p] = personas(1);
    const prompt = `You are answering for this user:\n\n${renderPersona(p!).replace(/ /g, '\n  ')}\n\nNow answer.`;
    expect(parsePersona(prompt)).toEqual(p);
  });

  test('partial text parses to partial facts and no persona', () => {
    const [p] = personas(1);
    const text = `I'm ${p!.name}. ${p!.facts.city.firstPerson}`;
    expect(parsePersona(text)).toBeUndefined();
    expect(parseFacts(text)).toEqual({city: p!.facts.city});
  });

  test('draws are deterministic per seed and vary across seeds', () => {
    expect(drawPersona(rngFor('s', 3))).toEqual(drawPersona(rngFor('s', 3)));
    expect(new Set(personas(20).map((p) => renderPersona(p))).size).toBe(20);
  });

  test('names are found in persona and opener forms', () => {
    expect(findName("I'm Maya Chen. I follow a vegan diet.")).toBe('Maya Chen');
    expect(findName('My name is Theo Nguyen.\n\nCan you help?')).toBe('Theo Nguyen');
    expect(findName('I am mostly sedentary.')).toBeUndefined();
  });

  test('value phrases are recognised by words, not sentence form', () => {
    const facts = revealedFacts('Well, I mostly eat a VEGAN diet and I live in Boston these days.');
    expect(facts.diet?.phrase).toBe('vegan diet');
    expect(facts.city?.phrase).toBe('Boston');
    expect(revealedFacts('a gluten-free diet').diet?.phrase).toBe('gluten-free diet');
  });

  test('tasks are recognised by exact text anywhere', () => {
    const t = TASKS[7]!;
    expect(findTask(`blah blah. The initial request is as follows: ${t.text}`)).toBe(t);
    expect(findTask('Can you suggest a meal plan?')).toBeUndefined();
  });

  test('no name collides with a value phrase', () => {
    for (const n of [...FIRST_NAMES, ...LAST_NAMES]) expect(revealedFacts(n)).toEqual({});
  });
});
