import {readFileSync, writeFileSync} from 'node:fs';
import {llmRule} from 'stage';
import {chat, loadPrompt} from './lib/prompt.js';
import {prng, sample} from './lib/random.js';
import type {Persona} from './lib/types.js';

interface PersonaParams {
  count: number;
  /** Draws the two few-shot examples of every call; differs per split (the original reused one seed). */
  seed: number;
  sampling: {temperature: number; top_p: number; max_tokens: number};
}

/** `personas/{split}`: one persona writer call per persona, two-shot from the examples file. */
export const writePersonas = llmRule<PersonaParams>('write-personas', {
  roles: ['persona-writer'],
  requests: ({inputs, params}) => {
    const [promptFile, examplesFile] = [inputs.find((f) => f.endsWith('.md'))!, inputs.find((f) => f.endsWith('.json'))!];
    const prompt = loadPrompt(promptFile);
    const examples = JSON.parse(readFileSync(examplesFile, 'utf8')) as string[];
    const rand = prng(params.seed);
    return Array.from({length: params.count}, (_, i) => ({
      id: `p${i}`, role: 'persona-writer',
      messages: chat(prompt, {examples: sample(examples, 2, rand).join('\n\n')}),
      params: {...params.sampling, seed: params.seed + i},
    }));
  },
  assemble: ({out}, results) => {
    const rows: Persona[] = results.map((r) => {
      if (!r.ok) throw new Error(`persona ${r.id} has no text (${r.reason})`);
      return {id: r.id, text: r.content.trim()};
    });
    writeFileSync(out, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
  },
  estimate: (p) => ({calls: p.count, promptTokens: 420, completionTokens: p.sampling.max_tokens, role: 'persona-writer'}),
});
