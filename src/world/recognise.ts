/**
 * Recognition of the world's facts inside free text. Roles never rely on where the pipeline put
 * something in its prompt; they find it by content: value phrases, the task's exact text, names,
 * sentences. Any reasonable prompt wording therefore works, and a prompt edit changes nothing
 * unless it changes what the prompt says.
 */
import {VALUES, type AttributeValue, type Facts} from './attributes.js';
import {TASKS, type Task} from './tasks.js';

export interface Span {
  readonly start: number;
  readonly end: number;
}

/** One occurrence of a value phrase in a text. */
export interface Mention extends Span {
  readonly value: AttributeValue;
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A literal as a pattern that tolerates any run of whitespace where it has a space. */
function loosePattern(literal: string): string {
  return literal.split(/\s+/).map(escapeRegExp).join('\\s+');
}

const WORD_EDGE_BEFORE = '(?<![\\p{L}\\p{N}])';
const WORD_EDGE_AFTER = '(?![\\p{L}\\p{N}])';

/** Longest phrases first, so `gluten-free diet` is never read as a shorter phrase inside it. */
const BY_LENGTH = [...VALUES].sort((a, b) => b.phrase.length - a.phrase.length);
const PHRASES = new RegExp(`${WORD_EDGE_BEFORE}(?:${BY_LENGTH.map((v) => loosePattern(v.phrase)).join('|')})${WORD_EDGE_AFTER}`, 'giu');
const BY_PHRASE = new Map(VALUES.map((v) => [v.phrase.toLowerCase(), v]));

/** Every value phrase in `text`, in order of position. */
export function findMentions(text: string): Mention[] {
  const out: Mention[] = [];
  for (const m of text.matchAll(PHRASES)) {
    const value = BY_PHRASE.get(m[0].replace(/\s+/g, ' ').toLowerCase());
    if (value) out.push({value, start: m.index, end: m.index + m[0].length});
  }
  return out;
}

/** What a text reveals: the first value mentioned for each attribute. */
export function revealedFacts(text: string): Facts {
  const facts: Facts = {};
  for (const {value} of findMentions(text)) facts[value.attribute] ??= value;
  return facts;
}

const TASK_PATTERNS = TASKS.map((task) => ({task, pattern: new RegExp(loosePattern(task.text), 'g')}));

/** One occurrence of a task's text. */
export interface TaskMention extends Span {
  readonly task: Task;
}

/** Every occurrence of a known task's exact text (whitespace may differ), in order of position. */
export function findTaskMentions(text: string): TaskMention[] {
  const out: TaskMention[] = [];
  for (const {task, pattern} of TASK_PATTERNS) {
    for (const m of text.matchAll(pattern)) out.push({task, start: m.index, end: m.index + m[0].length});
  }
  return out.sort((a, b) => a.start - b.start || b.end - a.end);
}

/** The task a text is about: the first one it quotes, if it quotes any. */
export function findTask(text: string): Task | undefined {
  return findTaskMentions(text)[0]?.task;
}

const NAME = /(?:\bI'm|\bI am|\b[Mm]y name is)[ \t]+(\p{Lu}[\p{L}'-]*(?:[ \t]+\p{Lu}[\p{L}'-]*){0,2})/u;

/** The user's name as introduced by `I'm Maya Chen.` or `My name is Maya Chen.` */
export function findName(text: string): string | undefined {
  return NAME.exec(text)?.[1]?.replace(/\s+/g, ' ');
}

/** A sentence of a text, with its position. */
export interface Sentence extends Span {
  readonly text: string;
}

/**
 * Splits text into sentences at `.`, `?` or `!` followed by space, and at line breaks. Good
 * enough for the world's own sentences, which is all that has to be recognised exactly.
 */
export function sentences(text: string): Sentence[] {
  const out: Sentence[] = [];
  let start = 0;
  const cut = (end: number): void => {
    const raw = text.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    const body = raw.trim();
    if (body) out.push({text: body, start: start + lead, end: start + lead + body.length});
  };
  for (const m of text.matchAll(/\n|[.?!]+(?=\s|$)/g)) {
    cut(m[0] === '\n' ? m.index : m.index + m[0].length);
    start = m.index + m[0].length;
  }
  cut(text.length);
  return out;
}

/** Whether two spans overlap. */
export function overlaps(a: Span, b: Span): boolean {
  return a.start < b.end && b.start < a.end;
}
