// A small pipeline: count the words of each text, then summarise the counts.
import {sh, target} from 'stage';
import {summarise} from './rules/summarise.js';

const texts = ['alice', 'bob', 'carol'];

const counts = texts.map((name) =>
  target(`count/${name}`, {
    inputs: [`data/${name}.txt`],
    out: `out/count/${name}.txt`,
    run: sh('wc -w < $in > $out'),
  }),
);

export const summary = target('summary', {
  deps: counts,
  params: {title: 'Words per text'},
  out: 'out/summary.md',
  run: summarise,
});
