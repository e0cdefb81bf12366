import {readFile, writeFile} from 'node:fs/promises';
import {basename} from 'node:path';
import {rule} from 'stage';

/** Writes a Markdown table of the word counts its dependencies produced. */
export const summarise = rule<{title: string}>('summarise', async ({params, deps, out, log}) => {
  const rows: string[] = [];
  for (const [name, files] of Object.entries(deps)) {
    for (const f of files) {
      const n = (await readFile(f, 'utf8')).trim();
      rows.push(`| ${basename(name)} | ${n} |`);
    }
  }
  log(`summarising ${rows.length} counts`);
  await writeFile(out, [`# ${params.title}`, '', '| text | words |', '|---|---|', ...rows, ''].join('\n'));
});
