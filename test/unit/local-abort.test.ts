import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {expect, it} from 'vitest';
import {runLocal} from '../../src/execute/local.js';

it('a command whose build was aborted before it spawned is stopped, not left running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stage-abort-'));
  try {
    const ac = new AbortController();
    ac.abort();
    const failure = await runLocal({
      target: 't', root: dir, run: {kind: 'command', shell: 'sleep 60'}, params: {}, inputs: [], deps: {}, outs: [],
      log: join(dir, 't.log'), signal: ac.signal,
    });
    expect(failure).toEqual({kind: 'cancelled'});
  } finally {
    rmSync(dir, {recursive: true, force: true});
  }
}, 20_000);
