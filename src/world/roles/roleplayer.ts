/**
 * The roleplayer: the user with a hidden persona, answering the latest clarifying question in
 * the first person with the one fact it asks about (the persona's own sentence). It never
 * volunteers anything else, so a conversation reveals exactly what was asked.
 */
import {allText, questionsIn} from '../conversation.js';
import {parseFacts} from '../persona.js';
import type {Role} from './types.js';

/** The reply to a question the world cannot place, or to a question with no persona to answer from. */
export const NON_ANSWER = "I'm not sure how to answer that, but feel free to ask me about something more specific.";

/** The reply to the catch-all question. */
export const NOTHING_ELSE = 'No, I think that covers everything important.';

export const roleplayer: Role = ({messages}) => {
  const question = questionsIn(messages).at(-1);
  if (question?.attribute === 'open') return NOTHING_ELSE;
  const fact = question?.attribute === undefined ? undefined : parseFacts(allText(messages))[question.attribute];
  return fact ? fact.firstPerson : NON_ANSWER;
};
