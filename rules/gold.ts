import {llmRule} from 'stage';
import {depFile, readJsonl, writeJsonl} from './lib/io.js';
import {pairKey} from './lib/keys.js';
import {chat, loadPrompt} from './lib/prompt.js';
import type {Gold, Persona, Task} from './lib/types.js';

interface GoldParams {
  split: string;
  sampling: {temperature: number; top_p: number; max_tokens: number};
  /** For the plan before personas and tasks exist. */
  expected: {personas: number; tasks: number};
}

/**
 * `gold/{split}`: the oracle, who sees the persona, answers every task for every persona: the
 * answer the questioner's conversations are scored against. The biggest bill of the pipeline,
 * so it may go through the Batch API at half price.
 */
export const oracle = llmRule<GoldParams>('oracle', {
  roles: ['oracle'],
  batchable: true,
  requests: ({deps, inputs, params}) => {
    const prompt = loadPrompt(inputs[0]!);
    const tasks = readJsonl<Task>(depFile(deps, `tasks/${params.split}`));
    const personas = readJsonl<Persona>(depFile(deps, `personas/${params.split}`));
    return personas.flatMap((p) => tasks.map((t) => ({
      id: pairKey(t.id, p.id), role: 'oracle',
      messages: chat(prompt, {persona: p.text, task: t.text}),
      params: params.sampling,
    })));
  },
  assemble: ({out}, results) => {
    writeJsonl(out, results.map((r): Gold => {
      if (!r.ok) throw new Error(`gold answer ${r.id} is missing (${r.reason}: ${r.message})`);
      const [task, persona] = r.id.split('-') as [string, string];
      return {key: r.id, task, persona, text: r.content.trim()};
    }));
  },
  estimate: (p) => ({calls: p.expected.personas * p.expected.tasks, promptTokens: 480, completionTokens: p.sampling.max_tokens, role: 'oracle'}),
});
