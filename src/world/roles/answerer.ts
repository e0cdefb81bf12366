/**
 * The answerer: answers the task in the oracle's style, but can only state the relevant facts
 * the conversation revealed. Better questions therefore make better answers, which is what the
 * judge's win rate measures.
 */
import type {AttributeValue} from '../attributes.js';
import {composeAnswer} from '../compose.js';
import {allText} from '../conversation.js';
import {findName, findTask, revealedFacts} from '../recognise.js';
import type {Role} from './types.js';

export const answerer: Role = ({messages}) => {
  const text = allText(messages);
  const task = findTask(text);
  const known = revealedFacts(text);
  const stated = (task?.relevant ?? []).map((a) => known[a]).filter((v): v is AttributeValue => v !== undefined);
  return composeAnswer(findName(text), task, stated);
};
