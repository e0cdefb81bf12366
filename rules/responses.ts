import {rule} from 'stage';
import {depFile, readJsonl, writeJsonl} from './lib/io.js';
import {splitKey} from './lib/keys.js';
import {loadPrompt} from './lib/prompt.js';
import {prng, sample, seedOf} from './lib/random.js';
import {mapLimit, servedModel} from './lib/served.js';
import {answerMessages} from './regularizer.js';
import type {Conversations, PersonaName, Response, Task} from './lib/types.js';
import type {Sampling} from './simulate.js';

/**
 * The test keys each model answers, per round-count group, and which of a key's conversations is
 * used: drawn from the seed and the key alone, so every model is judged on the same keys and
 * the same conversation slot, and no oracle information decides which conversation is shown.
 */
export function winrateSelection(rows: readonly Conversations[], perGroup: number, seed: number): {key: string; group: number; conversation: number}[] {
  const picked: {key: string; group: number; conversation: number}[] = [];
  for (let group = 1; group <= 3; group++) {
    const keys = rows.filter((r) => r.rounds === group).map((r) => r.key).sort();
    for (const key of sample(keys, perGroup, prng(seedOf('winrate-keys', seed, group))).sort()) {
      const row = rows.find((r) => r.key === key)!;
      picked.push({key, group, conversation: Math.floor(prng(seedOf('winrate-conversation', seed, key))() * row.conversations.length)});
    }
  }
  return picked;
}

interface ResponseParams {
  /** Whose conversations (m_k's own; the baseline is m0 on m0's). */
  questioner: string;
  perGroup: number;
  seed: number;
  answerer: Sampling;
  concurrency: number;
}

/** `responses/m{k}`: m_k's zero-shot answers after one of its own test conversations per selected key. */
export const answerTest = rule<ResponseParams>('answer-test', async ({deps, inputs, params, out, signal}) => {
  const prompt = loadPrompt(inputs[0]!);
  const sim = readJsonl<Conversations>(depFile(deps, `sim/${params.questioner}/test`));
  const tasks = new Map(readJsonl<Task>(depFile(deps, 'tasks/test')).map((t) => [t.id, t.text]));
  const names = new Map(readJsonl<PersonaName>(depFile(deps, 'names/test')).map((n) => [n.id, n.name]));
  const byKey = new Map(sim.map((r) => [r.key, r]));
  const answerer = servedModel('answerer');
  const rows = await mapLimit(winrateSelection(sim, params.perGroup, params.seed), params.concurrency, async (s): Promise<Response> => {
    const {task, persona} = splitKey(s.key);
    const turns = byKey.get(s.key)!.conversations[s.conversation]!;
    const r = await answerer.chat.completions.create({...params.answerer, messages: answerMessages(prompt, names.get(persona)!, tasks.get(task)!, turns)}, {signal});
    return {key: s.key, group: s.group, conversation: s.conversation, text: (r.choices[0]?.message.content ?? '').trim()};
  }, signal);
  writeJsonl(out, rows);
});
