import {expect, it} from 'vitest';
import type {Event} from '../../src/event.js';
import {HumanLogger} from '../../src/report/human-logger.js';

function render(events: readonly Event[]): string[] {
  let text = '';
  const stream = {isTTY: false, write: (s: string) => ((text += s), true)};
  const logger = new HumanLogger({out: stream, err: stream} as never);
  for (const e of events) logger.log(e);
  return text.split('\n').filter((l) => l !== '');
}

it('prints an API target\'s finished call count once, though the last progress event may repeat', () => {
  const done: Event = {type: 'llm-progress', target: 'gold/A', done: 3, total: 3, memoized: 1, inFlight: 0, failed: 0, dollars: 0.5, etaMs: 0};
  const lines = render([
    {type: 'build-started', total: 1, jobs: 1},
    {type: 'llm-progress', target: 'gold/A', done: 1, total: 3, memoized: 1, inFlight: 2, failed: 0, dollars: 0, etaMs: 100},
    done, done,
  ]);
  expect(lines.filter((l) => l.startsWith('calls'))).toEqual(['calls    gold/A 3/3 (1 memoized, 0 in flight, $0.50, 0ms left)']);
});
