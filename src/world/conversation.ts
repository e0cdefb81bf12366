/**
 * Reading a conversation out of a request's messages. Pipelines lay conversations out in many
 * ways (one turn per message, roles flipped for the roleplayer, or the whole history rendered
 * into a single user message), so questions are found by content: a sentence holding one of the
 * world's question templates counts wherever it is, and any question sentence of an assistant
 * turn counts too. Sentences inside a quoted task never count.
 */
import type {Attribute} from './attributes.js';
import {classifyByKeywords, matchTemplate} from './questions.js';
import {findMentions, findTaskMentions, overlaps, sentences} from './recognise.js';

export interface Message {
  readonly role: string;
  readonly content: string;
}

/** A question found in a conversation, with where it was. */
export interface FoundQuestion {
  /** Undefined when an assistant asked something the world cannot place. */
  readonly attribute: Attribute | 'open' | undefined;
  readonly text: string;
  readonly message: number;
  readonly start: number;
}

/** Every question in the messages, in conversation order. */
export function questionsIn(messages: readonly Message[]): FoundQuestion[] {
  const out: FoundQuestion[] = [];
  messages.forEach((m, message) => {
    const tasks = findTaskMentions(m.content);
    for (const s of sentences(m.content)) {
      if (tasks.some((t) => overlaps(t, s))) continue;
      const template = matchTemplate(s.text);
      if (template) out.push({attribute: template, text: s.text, message, start: s.start});
      else if (m.role === 'assistant' && s.text.includes('?')) out.push({attribute: classifyByKeywords(s.text), text: s.text, message, start: s.start});
    }
  });
  return out;
}

/** All message contents as one text, for recognisers that only care what was said. */
export function allText(messages: readonly Message[]): string {
  return messages.map((m) => m.content).join('\n\n');
}

/**
 * The attributes a conversation has already covered: asked about, or revealed by a value
 * phrase anywhere. The questioner never asks about these again.
 */
export function coveredAttributes(messages: readonly Message[]): Set<Attribute> {
  const covered = new Set<Attribute>();
  for (const q of questionsIn(messages)) if (q.attribute !== undefined && q.attribute !== 'open') covered.add(q.attribute);
  for (const m of messages) for (const {value} of findMentions(m.content)) covered.add(value.attribute);
  return covered;
}
