import {describe, expect, test} from 'vitest';
import {ATTRIBUTES, valuesOf, type Attribute} from '../../src/world/attributes.js';
import type {Message} from '../../src/world/conversation.js';
import {drawPersona, parsePersona, renderPersona, type Persona} from '../../src/world/persona.js';
import {M0, type Policy} from '../../src/world/policy.js';
import {hashOf, rngFor} from '../../src/world/prng.js';
import {classifyQuestion, OPEN_QUESTION, QUESTION_TEMPLATES} from '../../src/world/questions.js';
import {findMentions} from '../../src/world/recognise.js';
import {findResponses, TIE_PREFERS_A} from '../../src/world/roles/judge.js';
import {ROLES, roleOf, type RoleName} from '../../src/world/roles/index.js';
import {NON_ANSWER, NOTHING_ELSE} from '../../src/world/roles/roleplayer.js';
import {TASKS, type Task} from '../../src/world/tasks.js';

function run(role: RoleName, messages: Message[], opts: {index?: number; temperature?: number; seed?: number; policy?: Policy} = {}): string {
  const temperature = opts.temperature ?? 1;
  const hash = hashOf({role, messages, seed: opts.seed ?? null, temperature});
  return ROLES[role]({messages, temperature, rng: rngFor(hash, opts.index ?? 0), policy: opts.policy ?? M0});
}

const persona: Persona = drawPersona(rngFor('roles-test'));
const meals: Task = TASKS[0]!;
const user = (content: string): Message => ({role: 'user', content});
const assistant = (content: string): Message => ({role: 'assistant', content});
const stated = (text: string): Set<Attribute> => new Set(findMentions(text).map((m) => m.value.attribute));

describe('role selection', () => {
  test('by prefix; the rest of the model name is ignored', () => {
    expect(roleOf('world-questioner@m1')).toBe('world-questioner');
    expect(roleOf('world-scorer')).toBe('world-scorer');
    expect(roleOf('gpt-4')).toBeUndefined();
  });
});

describe('persona writer', () => {
  test('same request, same persona; seed, temperature or choice index change it', () => {
    const ask = [user('Write one persona of a user.')];
    const a = run('world-persona-writer', ask, {seed: 1});
    expect(parsePersona(a)).toBeDefined();
    expect(run('world-persona-writer', ask, {seed: 1})).toBe(a);
    expect(run('world-persona-writer', ask, {seed: 2})).not.toBe(a);
    expect(run('world-persona-writer', ask, {seed: 1, temperature: 1.4})).not.toBe(a);
    expect(run('world-persona-writer', ask, {seed: 1, index: 1})).not.toBe(a);
  });
});

describe('oracle', () => {
  test('states exactly the relevant values, verbatim, wherever the prompt puts persona and task', () => {
    for (const task of TASKS) {
      const out = run('world-oracle', [{role: 'system', content: 'You write personalised answers.'}, user(`Task: ${task.text}\n\nUser:\n${renderPersona(persona)}`)]);
      for (const a of task.relevant) expect(out).toContain(persona.facts[a].secondPerson);
      expect(stated(out)).toEqual(new Set(task.relevant));
      expect(out.startsWith(`${persona.name.split(' ')[0]!}, since `)).toBe(true);
    }
  });
});

describe('roleplayer', () => {
  const prompt = (history: string): Message[] => [user(`You are this person: ${renderPersona(persona)}\nYou asked: ${meals.text}\n${history}\nYou:`)];

  test('answers the latest question with the persona sentence it asks about', () => {
    for (const a of ATTRIBUTES) {
      for (const q of QUESTION_TEMPLATES[a]) expect(run('world-roleplayer', prompt(`AI Assistant: ${q}`))).toBe(persona.facts[a].firstPerson);
    }
    const two = `AI Assistant: ${QUESTION_TEMPLATES.city[0]!}\nYou: ${persona.facts.city.firstPerson}\nAI Assistant: ${QUESTION_TEMPLATES.job[1]!}`;
    expect(run('world-roleplayer', prompt(two))).toBe(persona.facts.job.firstPerson);
  });

  test('works with the conversation as chat turns too', () => {
    const msgs = [user(`Play this person: ${renderPersona(persona)}`), assistant('Do you have a budget in mind for this?')];
    expect(run('world-roleplayer', msgs)).toBe(persona.facts.budget.firstPerson);
  });

  test('politely declines what it cannot place, and closes the catch-all question', () => {
    expect(run('world-roleplayer', [user(renderPersona(persona)), assistant('What is the airspeed of a swallow?')])).toBe(NON_ANSWER);
    expect(run('world-roleplayer', prompt(`AI Assistant: ${OPEN_QUESTION}`))).toBe(NOTHING_ELSE);
    expect(run('world-roleplayer', [user(`No persona here. ${QUESTION_TEMPLATES.diet[0]!}`)])).toBe(NON_ANSWER);
  });

  test('the task quoted in the prompt is never taken for a question', () => {
    expect(run('world-roleplayer', prompt(''))).toBe(NON_ANSWER);
  });
});

describe('questioner', () => {
  const opener = user(`A user named Maya Chen asks for help. Ask one clarifying question. The initial request is as follows: ${meals.text}`);

  test('asks one templated question, never about something already covered', () => {
    const first = run('world-questioner', [opener]);
    const a = classifyQuestion(first) as Attribute;
    expect(QUESTION_TEMPLATES[a]).toContain(first);
    const convo = [opener, assistant(first), user(persona.facts[a].firstPerson), user(persona.facts.city.firstPerson)];
    for (let i = 0; i < 30; i++) {
      const next = classifyQuestion(run('world-questioner', convo, {index: i}));
      expect(next).not.toBe(a);
      expect(next).not.toBe('city');
    }
  });

  test('asks the catch-all once every attribute is covered', () => {
    const convo = [opener, ...ATTRIBUTES.flatMap((a) => [assistant(QUESTION_TEMPLATES[a][0]!), user(persona.facts[a].firstPerson)])];
    expect(run('world-questioner', convo)).toBe(OPEN_QUESTION);
  });

  test('m0 spreads its questions; a policy concentrates them on its domain\'s favourites', () => {
    const counts = (policy: Policy, temperature: number): Map<string, number> => {
      const m = new Map<string, number>();
      for (let i = 0; i < 400; i++) {
        const a = String(classifyQuestion(run('world-questioner', [opener], {index: i, temperature, policy})));
        m.set(a, (m.get(a) ?? 0) + 1);
      }
      return m;
    };
    const m0 = counts(M0, 0.9);
    expect(m0.size).toBe(ATTRIBUTES.length);
    for (const n of m0.values()) expect(n).toBeGreaterThan(20);
    const trained: Policy = {weights: {meals: {diet: 3, budget: 3}}};
    const m1 = counts(trained, 0.9);
    expect((m1.get('diet') ?? 0) + (m1.get('budget') ?? 0)).toBeGreaterThan(340);
    // Other domains are untouched by the meals weights.
    const travel = run('world-questioner', [user(`Help Maya. ${TASKS[1]!.text}`)], {policy: trained, temperature: 0});
    expect(classifyQuestion(travel)).toBeDefined();
  });

  test('greedy picks the top logit; n choices differ by index', () => {
    const policy: Policy = {weights: {meals: {family: 1}}};
    for (let i = 0; i < 5; i++) expect(classifyQuestion(run('world-questioner', [opener], {index: i, temperature: 0, policy}))).toBe('family');
    const choices = new Set(Array.from({length: 10}, (_, i) => run('world-questioner', [opener], {index: i})));
    expect(choices.size).toBeGreaterThan(3);
  });
});

describe('answerer', () => {
  test('states only the relevant values the conversation revealed', () => {
    const convo = [user(`My name is ${persona.name}.\n\n${meals.text}`), assistant(QUESTION_TEMPLATES.diet[0]!), user(persona.facts.diet.firstPerson),
      assistant(QUESTION_TEMPLATES.job[0]!), user(`${persona.facts.job.firstPerson}\n\n${meals.text}`)];
    const out = run('world-answerer', convo);
    expect(stated(out)).toEqual(new Set(['diet']));
    expect(out).toContain(persona.facts.diet.secondPerson);
    expect(stated(run('world-answerer', [user(`My name is ${persona.name}.\n\n${meals.text}`)]))).toEqual(new Set());
  });
});

describe('judge', () => {
  const oracle = run('world-oracle', [user(`${renderPersona(persona)}\n\n${meals.text}`)]);
  const partial = run('world-answerer', [user(meals.text), assistant(QUESTION_TEMPLATES.diet[0]!), user(persona.facts.diet.firstPerson)]);
  const none = run('world-answerer', [user(meals.text)]);
  const judgePrompt = (a: string, b: string): Message[] => [
    {role: 'system', content: 'You are an expert evaluator.'},
    user(`Compare Response A and Response B for this user.\n\nUser background: ${renderPersona(persona)}\nUser query: ${meals.text}\n\nResponse A: ${a}\n\nResponse B: ${b}\n\nWhich fits better? Reply in the format\nComparison: <text>\nFinal Response: <A or B>`),
  ];
  const verdict = (text: string): string => /Final Response: (A|B)$/.exec(text)![1]!;

  test('prefers the response that states more of the user\'s relevant facts, in either position', () => {
    expect(verdict(run('world-judge', judgePrompt(oracle, partial)))).toBe('A');
    expect(verdict(run('world-judge', judgePrompt(partial, oracle)))).toBe('B');
    expect(verdict(run('world-judge', judgePrompt(none, partial)))).toBe('B');
    expect(run('world-judge', judgePrompt(oracle, none))).toMatch(/^Comparison: .+\nFinal Response: A$/);
  });

  test('facts that do not match the persona earn nothing', () => {
    const facts = {...persona.facts};
    for (const a of meals.relevant) facts[a] = valuesOf(a).find((v) => v !== persona.facts[a])!;
    const wrong = run('world-oracle', [user(`${renderPersona({name: persona.name, facts})}\n\n${meals.text}`)]);
    expect(stated(wrong)).toEqual(new Set(meals.relevant));
    expect(verdict(run('world-judge', judgePrompt(wrong, partial)))).toBe('B');
  });

  test('on a tie it favours position A about 65% of the time', () => {
    let a = 0;
    const trials = 600;
    for (let i = 0; i < trials; i++) if (verdict(run('world-judge', judgePrompt(`${partial} (${i})`, partial))) === 'A') a++;
    expect(Math.abs(a / trials - TIE_PREFERS_A)).toBeLessThan(0.06);
  });

  test('finds the responses past labels in instructions and closing tags', () => {
    expect(findResponses('Compare Response A and Response B.\nResponse A: first text\nResponse B: second text')).toEqual({a: 'first text', b: 'second text'});
    const tagged = findResponses('<response_a>\nalpha\n</response_a>\n<response_b>\nbeta\n</response_b>\nFinal Response: A');
    expect(tagged).toEqual({a: 'alpha', b: 'beta'});
    expect(findResponses('**Response A:** one\n**Response B:** two')).toEqual({a: 'one', b: 'two'});
    expect(findResponses('Please answer a question.')).toBeUndefined();
  });
});
