/**
 * The one way the world writes an answer to a task, shared by the oracle (which knows the whole
 * persona) and the answerer (which knows only what the conversation revealed). Sharing it is
 * the point: the two differ only in which facts they can state, so the judge and the scorer
 * measure exactly what the questions drew out.
 */
import type {AttributeValue} from './attributes.js';
import {firstName} from './persona.js';
import {DOMAIN_ADVICE, type Task} from './tasks.js';

const GENERAL_ADVICE = 'Start with the part that matters most to you, break it into small steps, and review how it went after a week.';

/** `a`, `a and b`, `a, b and c`. */
export function joinAnd(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * `Maya, since you follow a vegan diet and you have a tight budget, here is what I would
 * suggest. <advice for the task's domain>` The facts are stated in the order given, verbatim.
 */
export function composeAnswer(name: string | undefined, task: Task | undefined, facts: readonly AttributeValue[]): string {
  const lead = facts.length > 0
    ? `since ${joinAnd(facts.map((f) => f.secondPerson))}, here is what I would suggest.`
    : 'here is what I would suggest in general.';
  const opening = name ? `${firstName(name)}, ${lead}` : capitalize(lead);
  return `${opening} ${task ? DOMAIN_ADVICE[task.domain] : GENERAL_ADVICE}`;
}
