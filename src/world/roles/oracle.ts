/**
 * The oracle: the ideal answer for a persona and a task, stating every relevant fact verbatim.
 * It finds the persona's sentences and the task's text wherever the prompt put them.
 */
import type {AttributeValue} from '../attributes.js';
import {composeAnswer} from '../compose.js';
import {allText} from '../conversation.js';
import {parseFacts} from '../persona.js';
import {findName, findTask} from '../recognise.js';
import type {Role} from './types.js';

export const oracle: Role = ({messages}) => {
  const text = allText(messages);
  const facts = parseFacts(text);
  const task = findTask(text);
  const stated = (task?.relevant ?? []).map((a) => facts[a]).filter((v): v is AttributeValue => v !== undefined);
  return composeAnswer(findName(text), task, stated);
};
