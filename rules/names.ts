import {rule} from 'stage';
import {depFile, readJsonl, writeJsonl} from './lib/io.js';
import type {Persona, PersonaName} from './lib/types.js';

/**
 * `names/{split}`: each persona's name, from its opening ("I'm Ana Costa." or "My name is …").
 * The original kept these in a hand-edited file; a persona without a recognisable name stops the
 * build with its id rather than shifting every later name by one.
 */
export const extractNames = rule<{split: string}>('extract-names', ({deps, out, params}) => {
  const personas = readJsonl<Persona>(depFile(deps, `personas/${params.split}`));
  const names: PersonaName[] = personas.map((p) => {
    const name = nameOf(p.text);
    if (!name) throw new Error(`persona ${p.id} does not start with "I'm <name>." or "My name is <name>.": ${JSON.stringify(p.text.slice(0, 80))}`);
    return {id: p.id, name};
  });
  writeJsonl(out, names);
});

export function nameOf(text: string): string | undefined {
  const m = /^\s*(?:I'm|I am|My name is)\s+(\p{Lu}[\p{L}'-]*(?:\s+\p{Lu}[\p{L}'-]*){0,3})[.,]/u.exec(text);
  return m?.[1];
}
