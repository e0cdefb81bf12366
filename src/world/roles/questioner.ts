/**
 * The questioner: one clarifying question about an attribute the conversation has not covered.
 * Which attribute is sampled from a softmax over the policy's logits for the task's domain at
 * the request's temperature; the wording is one of the attribute's templates. This is the part
 * STaR-GATE trains: m0 asks about anything, a trained policy asks about what its domain needs.
 */
import {ATTRIBUTES} from '../attributes.js';
import {allText, coveredAttributes} from '../conversation.js';
import {logitsFor} from '../policy.js';
import {pick, sampleSoftmax} from '../prng.js';
import {OPEN_QUESTION, QUESTION_TEMPLATES} from '../questions.js';
import {findTask} from '../recognise.js';
import type {Role} from './types.js';

export const questioner: Role = ({messages, temperature, rng, policy}) => {
  const covered = coveredAttributes(messages);
  const open = ATTRIBUTES.filter((a) => !covered.has(a));
  if (open.length === 0) return OPEN_QUESTION;
  const logits = logitsFor(policy, findTask(allText(messages))?.domain);
  const attribute = open[sampleSoftmax(rng, open.map((a) => logits[a]), temperature)]!;
  return pick(rng, QUESTION_TEMPLATES[attribute]);
};
