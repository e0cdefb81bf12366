import {rule, type ChatMessage} from 'stage';
import {depFile, readJsonl, writeJsonl} from './lib/io.js';
import {pairKey} from './lib/keys.js';
import {chat, loadPrompt, type PromptTemplate} from './lib/prompt.js';
import {roundsFor} from './lib/random.js';
import {mapLimit, servedModel, shardOf} from './lib/served.js';
import type {Conversations, Persona, PersonaName, Task, Turns} from './lib/types.js';

export interface Sampling {
  model: string;
  temperature: number;
  top_p: number;
  max_tokens: number;
}

interface SimParams {
  split: string;
  samples: number;
  maxRounds: number;
  roundsSeed: number;
  questioner: Sampling;
  roleplayer: Sampling;
  concurrency: number;
}

/**
 * `sim/m{t}/{split}`: for every persona-task key, `samples` conversations in which the
 * questioner m_t asks and the roleplayer, who holds the persona, answers. The number of rounds
 * (1-3) is drawn per key from a fixed seed, so every questioner gets the same lengths for the
 * same key. Conversations are stored as turns, never as chat-template strings.
 */
export const simulate = rule<SimParams>('simulate', async ({deps, inputs, params, out, shard, log, signal}) => {
  const questionerPrompt = loadPrompt(inputs.find((f) => f.endsWith('questioner.md'))!);
  const roleplayerPrompt = loadPrompt(inputs.find((f) => f.endsWith('roleplayer.md'))!);
  const tasks = readJsonl<Task>(depFile(deps, `tasks/${params.split}`));
  const personas = readJsonl<Persona>(depFile(deps, `personas/${params.split}`));
  const names = new Map(readJsonl<PersonaName>(depFile(deps, `names/${params.split}`)).map((n) => [n.id, n.name]));
  const pairs = shardOf(personas.flatMap((p) => tasks.map((t) => ({p, t}))), shard);
  const questioner = servedModel('questioner');
  const roleplayer = servedModel('roleplayer');
  log(`simulating ${pairs.length} keys x ${params.samples} conversations`);

  const ask = async (messages: ChatMessage[], n: number): Promise<string[]> => {
    const r = await questioner.chat.completions.create({...params.questioner, messages, n}, {signal});
    return r.choices.map((c) => (c.message.content ?? '').trim());
  };
  const reply = async (persona: string, task: string, turns: Turns): Promise<string> => {
    const history = turns.map((m) => `${m.role === 'assistant' ? 'Assistant' : 'You'}: ${m.content}`).join('\n');
    const r = await roleplayer.chat.completions.create({...params.roleplayer, messages: chat(roleplayerPrompt, {persona, task, history})}, {signal});
    return (r.choices[0]?.message.content ?? '').trim();
  };

  const rows = await mapLimit(pairs, params.concurrency, async ({p, t}): Promise<Conversations> => {
    const key = pairKey(t.id, p.id);
    const name = names.get(p.id);
    if (!name) throw new Error(`no name for persona ${p.id}`);
    const opener = chat(questionerPrompt, {name, task: t.text});
    const rounds = roundsFor(key, params.roundsSeed, params.maxRounds);
    const first = await ask(opener, params.samples);
    if (first.length !== params.samples) throw new Error(`${key}: the questioner returned ${first.length} of ${params.samples} questions`);
    const conversations: Turns[] = first.map((q) => [{role: 'assistant', content: q}]);
    for (let round = 1; round <= rounds; round++) {
      for (const turns of conversations) {
        if (round > 1) turns.push({role: 'assistant', content: (await ask(questionerContext(opener, turns), 1))[0]!});
        turns.push({role: 'user', content: await reply(p.text, t.text, turns)});
      }
    }
    return {key, rounds, conversations};
  }, signal);
  writeJsonl(out, rows);
});

/** What the questioner sees on later rounds: its instruction, then the conversation so far. */
export function questionerContext(opener: readonly ChatMessage[], turns: Turns): ChatMessage[] {
  return [...opener, ...turns];
}

export type {PromptTemplate};
