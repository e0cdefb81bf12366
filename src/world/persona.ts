/**
 * Personas: a name plus one value per attribute, written as fixed sentences so that any role can
 * read one back out of a prompt. The text is the whole interface; nothing else travels between
 * the persona writer, the oracle, the roleplayer and the judge.
 */
import {ATTRIBUTES, VALUES, valuesOf, type Attribute, type AttributeValue, type Facts} from './attributes.js';
import {pick, type Rng} from './prng.js';
import {escapeRegExp} from './recognise.js';

export interface Persona {
  /** First and last name, e.g. `Maya Chen`. */
  readonly name: string;
  readonly facts: Readonly<Record<Attribute, AttributeValue>>;
}

export const FIRST_NAMES = [
  'Maya', 'Theo', 'Kavita', 'Jonas', 'Amara', 'Felix', 'Lucia', 'Omar', 'Ingrid', 'Ravi', 'Sofia', 'Mateo',
  'Hannah', 'Kenji', 'Priya', 'Elliot', 'Nadia', 'Samuel', 'Yara', 'Tomas', 'Grace', 'Idris', 'Clara', 'Malik',
] as const;

export const LAST_NAMES = [
  'Chen', 'Nguyen', 'Patel', 'Okafor', 'Lindqvist', 'Moreau', 'Haddad', 'Kowalski', 'Silva', 'Tanaka', 'Brennan',
  'Osei', 'Romero', 'Fischer', 'Novak', 'Rahman', 'Dubois', 'Mendes', 'Larsen', 'Kim',
] as const;

/** `I'm Maya Chen. I follow a vegan diet. ...`: the name, then one sentence per attribute in order. */
export function renderPersona(p: Persona): string {
  return [`I'm ${p.name}.`, ...ATTRIBUTES.map((a) => p.facts[a].firstPerson)].join(' ');
}

/** A persona drawn uniformly: a name and one value per attribute. */
export function drawPersona(rng: Rng): Persona {
  const name = `${pick(rng, FIRST_NAMES)} ${pick(rng, LAST_NAMES)}`;
  const facts = Object.fromEntries(ATTRIBUTES.map((a) => [a, pick(rng, valuesOf(a))])) as Record<Attribute, AttributeValue>;
  return {name, facts};
}

const PERSONA_NAME = /\bI'm\s+(\p{Lu}[\p{L}'-]*(?:\s+\p{Lu}[\p{L}'-]*)+)\./u;

const SENTENCES = VALUES.map((value) => ({
  value,
  pattern: new RegExp(`(?<![\\p{L}])${value.firstPerson.split(/\s+/).map(escapeRegExp).join('\\s+')}`, 'iu'),
}));

/** What a text states in persona sentences (first person): the first value found per attribute. */
export function parseFacts(text: string): Facts {
  const found: {value: AttributeValue; at: number}[] = [];
  for (const {value, pattern} of SENTENCES) {
    const m = pattern.exec(text);
    if (m) found.push({value, at: m.index});
  }
  const facts: Facts = {};
  for (const {value} of found.sort((a, b) => a.at - b.at)) facts[value.attribute] ??= value;
  return facts;
}

/**
 * Reads a persona back out of any text that contains one (a prompt, a file): the name from
 * `I'm First Last.` and each attribute from its sentence. Undefined unless all are present.
 */
export function parsePersona(text: string): Persona | undefined {
  const name = PERSONA_NAME.exec(text)?.[1]?.replace(/\s+/g, ' ');
  const facts = parseFacts(text);
  if (name === undefined || ATTRIBUTES.some((a) => facts[a] === undefined)) return undefined;
  return {name, facts: facts as Record<Attribute, AttributeValue>};
}

/** The first name, for addressing the user. */
export function firstName(name: string): string {
  return name.split(/\s+/)[0] ?? name;
}
