/**
 * The judge: which of two responses fits the user better. It reads the persona, the task and
 * the two responses out of the prompt, counts the task's relevant facts each response states
 * correctly, and prefers the higher count. On a tie it says A about 65% of the time, seeded by
 * the request: GPT-4 judges favour the first position, and a pipeline that does not randomise
 * positions should see that.
 */
import {ATTRIBUTE_LABELS} from '../attributes.js';
import {joinAnd} from '../compose.js';
import {allText} from '../conversation.js';
import {parseFacts} from '../persona.js';
import {findMentions, findTask} from '../recognise.js';
import type {Role} from './types.js';

/** How often a tie goes to the response shown first. */
export const TIE_PREFERS_A = 0.65;

interface Label {
  /** `close` for a closing tag: it ends a response's text but starts none. */
  readonly letter: 'A' | 'B' | 'close';
  readonly start: number;
  readonly end: number;
}

// `Response A`, `Answer (B)`, `Assistant A`, `<response_a>` and its closing tag; the letter must
// be a capital unless it follows an underscore, so "answer a question" is no label.
const LABEL = /(?<![\p{L}])(\/)?(?:[Rr]esponse|RESPONSE|[Aa]nswer|ANSWER|[Aa]ssistant|ASSISTANT)(?:[ _-]?\(?([AB])\)?|_([ab]))(?![\p{L}\p{N}])/gu;

/**
 * The texts of response A and response B. Each label's text runs to the next label; of all
 * (A, later B) label pairs, the one whose shorter text is longest wins, which skips labels
 * mentioned in instructions ("compare Response A and Response B") and closing tags.
 */
export function findResponses(text: string): {a: string; b: string} | undefined {
  const labels: Label[] = [...text.matchAll(LABEL)].map((m) => ({
    letter: m[1] ? 'close' : ((m[2] ?? m[3] ?? 'A').toUpperCase() as 'A' | 'B'), start: m.index, end: m.index + m[0].length,
  }));
  // A label's text, without the punctuation and markup around labels (`:`, `**`, `>`, `</`).
  const body = (i: number): string => text.slice(labels[i]!.end, labels[i + 1]?.start ?? text.length)
    .replace(/^[\s:>\]*)#-]+/, '').replace(/[\s<\/\[*#(]+$/, '');
  let best: {a: string; b: string; score: number} | undefined;
  labels.forEach((la, i) => {
    if (la.letter !== 'A') return;
    for (let j = i + 1; j < labels.length; j++) {
      if (labels[j]!.letter !== 'B') continue;
      const a = body(i);
      const b = body(j);
      const score = Math.min(a.length, b.length);
      if (!best || score > best.score) best = {a, b, score};
    }
  });
  return best && {a: best.a, b: best.b};
}

export const judge: Role = ({messages, rng}) => {
  const text = allText(messages);
  const facts = parseFacts(text);
  const relevant = findTask(text)?.relevant ?? [];
  const responses = findResponses(text);
  const score = (response: string): number => {
    const said = new Set(findMentions(response).map((m) => m.value));
    return relevant.filter((a) => facts[a] !== undefined && said.has(facts[a])).length;
  };
  const a = responses ? score(responses.a) : 0;
  const b = responses ? score(responses.b) : 0;
  const details = relevant.length > 0 ? `the ${relevant.length} details that matter for this request (${joinAnd(relevant.map((r) => ATTRIBUTE_LABELS[r]))})` : 'the details that matter for this request';
  let comparison: string;
  let verdict: 'A' | 'B';
  if (a !== b) {
    verdict = a > b ? 'A' : 'B';
    comparison = `Response A reflects ${a} and Response B reflects ${b} of ${details}, so Response ${verdict} fits this user better.`;
  } else {
    verdict = rng() < TIE_PREFERS_A ? 'A' : 'B';
    comparison = `Both responses reflect ${a} of ${details}, so they fit this user about equally well; Response ${verdict} reads slightly better.`;
  }
  return `Comparison: ${comparison}\nFinal Response: ${verdict}`;
};
