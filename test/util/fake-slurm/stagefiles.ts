/**
 * Stagefiles for the SLURM executor tests. Each rule is small and deterministic, so an output
 * proves which shards ran and in what order they were merged.
 */

/** A target `squares` of `shards` shards (each writes the squares of its items as JSONL) plus any extra lines. */
export function squaresStagefile(opts: {shards: number; executor?: 'slurm' | 'local'; slurm?: string; extra?: string}): string {
  return `import {existsSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {cmd, rule, sh, target} from 'stage';

const square = rule<{items: number}>('square', ({params, shard, out, log}) => {
  const {index, count} = shard ?? {index: 0, count: 1};
  log(\`shard \${index} of \${count} in job \${process.env.SLURM_JOB_ID ?? '-'}\`);
  const lines = [];
  for (let i = index; i < params.items; i += count) lines.push(JSON.stringify({i, sq: i * i, shard: index}) + '\\n');
  writeFileSync(out, lines.join(''));
});

target('squares', {
  params: {items: 7}, ${opts.shards > 1 ? `shards: ${opts.shards}, ` : ''}out: 'out/squares.jsonl', run: square,
  executor: '${opts.executor ?? 'slurm'}', slurm: ${opts.slurm ?? "{time: '5', mem: '100M'}"},
});
${opts.extra ?? ''}
`;
}

/** The squares a sharded run must leave in out/squares.jsonl: shard 0's items, then shard 1's, … */
export function expectedSquares(items: number, shards: number): string {
  const lines: string[] = [];
  for (let s = 0; s < shards; s++) {
    for (let i = s; i < items; i += shards) lines.push(`${JSON.stringify(shards > 1 ? {i, sq: i * i, shard: s} : {i, sq: i * i, shard: 0})}\n`);
  }
  return lines.join('');
}

/**
 * A stand-in model server for Node's `-e`: answers GET /health and GET /v1/echo?q=… with JSON,
 * listens on the port given as its first argument, and writes its pid to the file given as the
 * second (so a test can check it was stopped).
 */
export const ECHO_SERVER = [
  "const http = require('node:http');",
  "if (process.argv[2]) require('node:fs').writeFileSync(process.argv[2] + '.' + process.pid, '');",
  'http.createServer((req, res) => {',
  "  const url = new URL(req.url, 'http://localhost');",
  "  if (url.pathname === '/health') { res.end('ok'); return; }",
  "  if (url.pathname === '/v1/echo') {",
  "    res.setHeader('content-type', 'application/json');",
  "    res.end(JSON.stringify({echo: url.searchParams.get('q'), pid: process.pid}));",
  '    return;',
  '  }',
  '  res.statusCode = 404;',
  "  res.end('no such endpoint');",
  "}).listen(Number(process.argv[1]), '127.0.0.1');",
].join('\n');

/**
 * A target `ask` whose rule calls the model server through the URL in MODEL_URL, once per shard;
 * the server's pid files go to `pidDir`.
 */
export function serverStagefile(opts: {executor: 'slurm' | 'local'; shards: number; pidDir: string}): string {
  return `import {writeFileSync} from 'node:fs';
import {rule, target} from 'stage';

const ask = rule('ask', async ({out, shard}) => {
  const base = process.env.MODEL_URL ?? '';
  const res = await fetch(\`\${base}/v1/echo?q=shard-\${shard?.index ?? 0}\`);
  const body = (await res.json()) as {echo: string; pid: number};
  writeFileSync(out, JSON.stringify({url: base.replace(/:[0-9]+$/, ':PORT'), status: res.status, echo: body.echo}) + '\\n');
});

target('ask', {
  out: 'out/asked.jsonl', run: ask, ${opts.shards > 1 ? `shards: ${opts.shards}, ` : ''}executor: '${opts.executor}',
  slurm: {time: '5', mem: '200M', gpus: 1},
  server: {
    command: [${JSON.stringify(process.execPath)}, '-e', ${JSON.stringify(ECHO_SERVER)}, '{port}', ${JSON.stringify(`${opts.pidDir}/server`)}],
    urlEnv: 'MODEL_URL', startupTimeoutSeconds: 60,
  },
});
`;
}
