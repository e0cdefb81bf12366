import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {execa} from 'execa';
import {afterAll, describe, expect, it} from 'vitest';
import {gpuSlices} from '../../src/execute/slurm/job-spec.js';
import {slurmJobId} from '../../src/execute/slurm/ids.js';
import {markerFileFor, parseExitMarker, splitExtension} from '../../src/execute/slurm/marker.js';
import {
  arraySpec, formatSlurmTime, renderJobScript, sbatchArgs, sbatchDirectives, SERVER_FAILED_EXIT, SETUP_FAILED_EXIT,
} from '../../src/execute/slurm/script.js';
import {shellJoin, shellQuote} from '../../src/util/shell.js';
import type {SlurmJobSpec} from '../../src/execute/slurm/spec.js';

const scratch = mkdtempSync(join(tmpdir(), 'stage-slurm-script-'));
/** Stand-in servers whose pid a test read; stopped here even when an assertion failed first. */
const serverPids: number[] = [];
afterAll(() => {
  for (const pid of serverPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(scratch, {recursive: true, force: true});
});

function serverPid(pidFile: string): number {
  const pid = Number(readFileSync(pidFile, 'utf8'));
  serverPids.push(pid);
  return pid;
}
function freshDir(): string {
  return mkdtempSync(join(scratch, 'case-'));
}

function spec(overrides: Partial<SlurmJobSpec> = {}): SlurmJobSpec {
  return {
    name: 'stage-train-0123abcd',
    logPath: '/runs/logs/%x-%j.out',
    resources: {},
    site: {},
    command: ['stage', 'exec', 'train', '--key', 'xxh64:0123456789abcdef'],
    markerPath: '/runs/.stage/slurm/train.rc',
    ...overrides,
  };
}

/** Polls until `check` holds; the sleep is only the polling interval. */
async function pollUntil(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function bashSyntaxOk(script: string): Promise<void> {
  const file = join(freshDir(), 'job.sh');
  writeFileSync(file, script);
  const result = await execa('bash', ['-n', file], {reject: false});
  expect(result.stderr).toBe('');
  expect(result.exitCode).toBe(0);
}

/** A stand-in model server: answers 200 on /health, 404 elsewhere, and records its pid. */
function standInServer(pidFile: string): string[] {
  const code = [
    "const http = require('node:http');",
    "require('node:fs').writeFileSync(process.argv[2], String(process.pid));",
    "http.createServer((req, res) => { res.statusCode = req.url === '/health' ? 200 : 404; res.end('ok'); })",
    "  .listen(Number(process.argv[1]), '127.0.0.1');",
  ].join('\n');
  return [process.execPath, '-e', code, '{port}', pidFile];
}

describe('shellQuote', () => {
  const nasty = [
    '', 'plain', 'with space', "it's", '"double"', '$HOME', '`date`', '$(id)', 'a\\b', 'tab\there', 'new\nline',
    '*', '~', '!', 'semi;colon', '&&', '--key=xxh64:ab', "'", "''", 'ünïcödé', '{port}',
  ];

  it('leaves safe words bare and single-quotes the rest', () => {
    expect(shellQuote('stage')).toBe('stage');
    expect(shellQuote('--key=xxh64:abc/d.e')).toBe('--key=xxh64:abc/d.e');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('$HOME')).toBe("'$HOME'");
  });

  it('round-trips every word through bash unchanged', async () => {
    const {stdout} = await execa('bash', ['-c', `printf '%s\\0' ${shellJoin(nasty)}`], {stripFinalNewline: false});
    expect(stdout.split('\0').slice(0, -1)).toEqual(nasty);
  });

  it('refuses NUL, which no argv can carry', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });
});

describe('#SBATCH directives', () => {
  it('renders every resource and site option in a fixed order', () => {
    const lines = sbatchDirectives(spec({
      logPath: '/runs/my logs/%x-%A_%a.out',
      workDir: '/runs',
      resources: {time: '1-02:00:00', cpusPerTask: 8, mem: '64G', gpus: 2, gpuType: 'a100'},
      site: {
        partition: 'gpu', account: 'lab-x', qos: 'high', constraint: 'a100&ib',
        extraOptions: ['--exclusive', '--nodelist=gpu01', '--comment=run #3'],
      },
      array: {indices: [0, 1, 2, 3, 7, 9, 10], maxParallel: 2},
    }));
    expect(lines).toEqual([
      '#SBATCH --job-name=stage-train-0123abcd',
      '#SBATCH --output="/runs/my logs/%x-%A_%a.out"',
      '#SBATCH --chdir=/runs',
      '#SBATCH --time=1-02:00:00',
      '#SBATCH --cpus-per-task=8',
      '#SBATCH --mem=64G',
      '#SBATCH --gres=gpu:a100:2',
      '#SBATCH --partition=gpu',
      '#SBATCH --account=lab-x',
      '#SBATCH --qos=high',
      '#SBATCH --constraint=a100&ib',
      '#SBATCH --array=0-3,7,9-10%2',
      '#SBATCH --exclusive',
      '#SBATCH --nodelist=gpu01',
      '#SBATCH --comment="run #3"',
    ]);
  });

  it('omits what is not asked for, including zero GPUs', () => {
    expect(sbatchDirectives(spec({resources: {gpus: 0}}))).toEqual([
      '#SBATCH --job-name=stage-train-0123abcd',
      '#SBATCH --output=/runs/logs/%x-%j.out',
    ]);
  });

  it('places the directives straight after the shebang, before any command', () => {
    const lines = renderJobScript(spec({resources: {time: '10'}})).split('\n');
    expect(lines.slice(0, 4)).toEqual([
      '#!/bin/bash',
      '#SBATCH --job-name=stage-train-0123abcd',
      '#SBATCH --output=/runs/logs/%x-%j.out',
      '#SBATCH --time=10',
    ]);
  });

  it.each([
    ['a job name with a blank', spec({name: 'train it'}), /job name/],
    ['a job name with a quote', spec({name: 'train"'}), /job name/],
    ['a time limit in the wrong syntax', spec({resources: {time: '2h'}}), /Time limit "2h"/],
    ['memory in the wrong syntax', spec({resources: {mem: '64GB'}}), /Memory "64GB"/],
    ['fractional CPUs', spec({resources: {cpusPerTask: 1.5}}), /cpusPerTask must be a positive integer/],
    ['a GPU type without GPUs', spec({resources: {gpuType: 'a100'}}), /gpuType "a100" is set but gpus is not/],
    ['a double quote in a value', spec({site: {account: 'a"b'}}), /cannot be written in an #SBATCH line/],
    ['a backslash in a value', spec({logPath: 'C:\\logs\\x.out'}), /cannot be written in an #SBATCH line/],
    ['a line break in a value', spec({site: {qos: 'a\nb'}}), /cannot be written in an #SBATCH line/],
    ['an extra option stage manages', spec({site: {extraOptions: ['--output=/tmp/x']}}), /set by stage itself/],
    ['an extra option with a separate value', spec({site: {extraOptions: ['-N 2']}}), /must look like/],
    ['an empty partition', spec({site: {partition: ' '}}), /partition must not be empty/],
    ['an empty array', spec({array: {indices: []}}), /at least one task index/],
    ['a negative task index', spec({array: {indices: [-1]}}), /non-negative integers/],
  ])('rejects %s', (_what, job, message) => {
    expect(() => renderJobScript(job)).toThrow(message);
  });
});

describe('small helpers', () => {
  it('compresses array indices into ranges, ignoring order and duplicates', () => {
    expect(arraySpec({indices: [2, 0, 1]})).toBe('0-2');
    expect(arraySpec({indices: [5, 3, 3, 9], maxParallel: 1})).toBe('3,5,9%1');
    expect(arraySpec({indices: [4]})).toBe('4');
  });

  it('formats seconds as a SLURM time limit', () => {
    expect(formatSlurmTime(59.2)).toBe('00:01:00');
    expect(formatSlurmTime(3600)).toBe('01:00:00');
    expect(formatSlurmTime(90061)).toBe('1-01:01:01');
    expect(() => formatSlurmTime(0)).toThrow(/positive/);
  });

  it('builds the sbatch argv with submit-time options', () => {
    expect(sbatchArgs('/runs/job.sh')).toEqual(['--parsable', '/runs/job.sh']);
    expect(sbatchArgs('/runs/job.sh', {
      dependency: {type: 'afterok', jobs: [slurmJobId('12'), slurmJobId('13_2')]},
      hold: true,
    })).toEqual(['--parsable', '--dependency=afterok:12:13_2', '--kill-on-invalid-dep=yes', '--hold', '/runs/job.sh']);
  });

  it('names array markers after their task and reads markers strictly', () => {
    expect(markerFileFor('/r/exit.rc')).toBe('/r/exit.rc');
    expect(markerFileFor('/r/exit.rc', 3)).toBe('/r/exit.3.rc');
    expect(markerFileFor('/r.d/exit', 0)).toBe('/r.d/exit.0');
    expect(splitExtension('/r/.hidden')).toEqual({stem: '/r/.hidden', extension: ''});
    expect(parseExitMarker('3\n')).toBe(3);
    expect(parseExitMarker('0')).toBe(0);
    expect(parseExitMarker('')).toBeUndefined();
    expect(parseExitMarker('3\n4\n')).toBeUndefined();
    expect(parseExitMarker('256\n')).toBeUndefined();
  });
});

describe('generated scripts are valid bash', () => {
  it.each([
    ['a plain job', spec()],
    ['an array with every option', spec({
      workDir: '/runs/my dir',
      resources: {time: '04:00:00', cpusPerTask: 4, mem: '16G', gpus: 1},
      site: {partition: 'gpu', extraOptions: ['--exclusive']},
      array: {indices: [0, 1, 2], maxParallel: 2},
      arrayTaskFlag: '--shard',
      environment: {modules: ['cuda/12.1', "odd 'module'"], conda: 'my env', venv: '/opt/venv/', exports: {A: "x'y", B: '$HOME'}},
      server: {
        command: ['vllm', 'serve', '/models/m', '--port', '{port}', '--host=127.0.0.1:{port}'],
        urlEnv: 'OPENAI_BASE_URL', urlPath: '/v1', startupTimeoutSeconds: 900, logPath: '/runs/logs/server log.txt',
      },
    })],
  ])('%s passes bash -n', async (_what, job) => {
    await bashSyntaxOk(renderJobScript(job));
  });

  it('substitutes the port inside argv words and exports the URL', () => {
    const script = renderJobScript(spec({
      server: {
        command: ['srv', '--port', '{port}', '--bind=127.0.0.1:{port}'], urlEnv: 'MODEL_URL', urlPath: '/v1',
        startupTimeoutSeconds: 60, logPath: '/runs/server.log',
      },
    }));
    expect(script).toContain('srv --port "$STAGE_SERVER_PORT" --bind=127.0.0.1:"$STAGE_SERVER_PORT" </dev/null >>/runs/server.log 2>&1 &');
    expect(script).toContain('export MODEL_URL="http://127.0.0.1:$STAGE_SERVER_PORT"/v1');
    expect(script).toContain('stage_cleanup() { stage_stop_server; }');
    expect(script).toContain('until stage_healthy "$STAGE_SERVER_PORT" /health; do');
  });

  it('ends with the main command and the marker, and appends the array task for shards', () => {
    const script = renderJobScript(spec({array: {indices: [0, 1]}, arrayTaskFlag: '--shard'}));
    expect(script.trimEnd().split('\n').slice(-3)).toEqual([
      '# The work itself.',
      'stage exec train --key xxh64:0123456789abcdef --shard "$SLURM_ARRAY_TASK_ID"',
      'stage_finish "$?"',
    ]);
    expect(script).toContain('stage_marker=/runs/.stage/slurm/train."${SLURM_ARRAY_TASK_ID:?');
  });

  it('refuses a task flag on a job that is not an array', () => {
    expect(() => renderJobScript(spec({arrayTaskFlag: '--shard'}))).toThrow(/only meaningful for array jobs/);
  });
});

describe('generated scripts run under bash without SLURM', () => {
  it('starts the server, exports its URL, runs the command, writes the marker and stops the server', async () => {
    const dir = freshDir();
    const pidFile = join(dir, 'server.pid');
    const probe = [
      "const url = process.env.MODEL_URL;",
      "fetch(url.replace(/\\/v1$/, '') + '/health').then((r) => r.text()).then((body) => {",
      "  require('node:fs').writeFileSync(process.argv[1], JSON.stringify({url, body, port: process.env.STAGE_SERVER_PORT, args: process.argv.slice(2)}));",
      "  process.exit(3);",
      "});",
    ].join('\n');
    const job = spec({
      logPath: join(dir, 'job.out'),
      markerPath: join(dir, 'markers', 'exit.rc'),
      array: {indices: [0, 1, 2]},
      arrayTaskFlag: '--shard',
      environment: {exports: {ODD: "a'b \"c\" $HOME `x`"}},
      server: {
        command: standInServer(pidFile), urlEnv: 'MODEL_URL', urlPath: '/v1',
        startupTimeoutSeconds: 30, pollIntervalSeconds: 0.1, logPath: join(dir, 'logs', 'server.log'),
      },
      command: [process.execPath, '-e', probe, join(dir, 'seen.json'), "it's", 'a b'],
    });
    const script = join(dir, 'job.sh');
    writeFileSync(script, renderJobScript(job));

    const result = await execa('bash', [script], {cwd: dir, reject: false, env: {SLURM_ARRAY_TASK_ID: '2'}, all: true});
    expect(result.exitCode, result.all).toBe(3);
    expect(result.all).toMatch(/stage: the model server is ready at http:\/\/127\.0\.0\.1:\d+\/v1/);

    const seen = JSON.parse(readFileSync(join(dir, 'seen.json'), 'utf8')) as {url: string; body: string; port: string; args: string[]};
    expect(seen.url).toBe(`http://127.0.0.1:${seen.port}/v1`);
    expect(Number(seen.port)).toBeGreaterThanOrEqual(20000);
    expect(Number(seen.port)).toBeLessThanOrEqual(39999);
    expect(seen.body).toBe('ok');
    expect(seen.args).toEqual(["it's", 'a b', '--shard', '2']);

    // The marker carries the task index, holds the status, and no temp file is left over.
    expect(readFileSync(markerFileFor(job.markerPath, 2), 'utf8')).toBe('3\n');
    expect(readdirSync(join(dir, 'markers'))).toEqual(['exit.2.rc']);
    // The EXIT trap stopped the server before bash returned.
    expect(alive(serverPid(pidFile))).toBe(false);
  });

  it('exports variables literally', async () => {
    const dir = freshDir();
    const odd = "a'b \"c\" $HOME `x` \\n";
    const job = spec({
      markerPath: join(dir, 'exit.rc'),
      environment: {exports: {ODD: odd}},
      command: ['bash', '-c', 'printf %s "$ODD" > "$1"', 'bash', join(dir, 'odd.txt')],
    });
    writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
    const result = await execa('bash', [join(dir, 'job.sh')], {cwd: dir, reject: false});
    expect(result.exitCode).toBe(0);
    expect(readFileSync(join(dir, 'odd.txt'), 'utf8')).toBe(odd);
    expect(readFileSync(join(dir, 'exit.rc'), 'utf8')).toBe('0\n');
  });

  it('fails clearly when the server dies during startup', async () => {
    const dir = freshDir();
    const job = spec({
      markerPath: join(dir, 'exit.rc'),
      server: {
        command: [process.execPath, '-e', "console.error('CUDA out of memory (pretend)'); process.exit(7)"],
        urlEnv: 'MODEL_URL', startupTimeoutSeconds: 60, pollIntervalSeconds: 0.1, logPath: join(dir, 'server.log'),
      },
      command: ['touch', join(dir, 'main-ran')],
    });
    writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
    const result = await execa('bash', [join(dir, 'job.sh')], {cwd: dir, reject: false, all: true});
    expect(result.exitCode).toBe(SERVER_FAILED_EXIT);
    expect(result.all).toContain('stage: the model server exited with status 7 before it became healthy.');
    expect(result.all).toContain('CUDA out of memory (pretend)');
    expect(readFileSync(join(dir, 'exit.rc'), 'utf8')).toBe(`${SERVER_FAILED_EXIT}\n`);
    expect(existsSync(join(dir, 'main-ran'))).toBe(false);
  });

  it('starts several servers, each on its own port, and stops them all', async () => {
    const dir = freshDir();
    const [pidA, pidB] = [join(dir, 'a.pid'), join(dir, 'b.pid')];
    const check = "Promise.all([process.env.Q_URL, process.env.R_URL].map((u) => fetch(u + '/health').then((r) => r.status))).then((s) => require('node:fs').writeFileSync(process.argv[1], JSON.stringify([s, process.env.Q_URL !== process.env.R_URL])))";
    const job = spec({
      markerPath: join(dir, 'exit.rc'),
      server: [
        {command: standInServer(pidA), urlEnv: 'Q_URL', startupTimeoutSeconds: 60, pollIntervalSeconds: 0.1, logPath: join(dir, 'q.log')},
        {command: standInServer(pidB), urlEnv: 'R_URL', startupTimeoutSeconds: 60, pollIntervalSeconds: 0.1, logPath: join(dir, 'r.log')},
      ],
      command: [process.execPath, '-e', check, join(dir, 'seen.json')],
    });
    writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
    const result = await execa('bash', [join(dir, 'job.sh')], {cwd: dir, reject: false, all: true});
    expect(result.exitCode, result.all).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'seen.json'), 'utf8'))).toEqual([[200, 200], true]);
    for (const f of [pidA, pidB]) {
      const pid = Number(readFileSync(f, 'utf8'));
      expect(() => process.kill(pid, 0)).toThrow();
    }
  });

  it('gives each server that asks for GPUs its own slice of the job\'s, and fails clearly when they do not fit', async () => {
    const dir = freshDir();
    // A stand-in server that writes down which GPUs it was given.
    const seeing = (name: string): string[] => [process.execPath, '-e', [
      "require('node:fs').writeFileSync(process.argv[2], process.env.CUDA_VISIBLE_DEVICES ?? 'all');",
      "require('node:http').createServer((req, res) => { res.statusCode = req.url === '/health' ? 200 : 404; res.end('ok'); }).listen(Number(process.argv[1]), '127.0.0.1');",
    ].join('\n'), '{port}', join(dir, `${name}.gpus`)];
    const servers = gpuSlices([
      {command: seeing('questioner'), urlEnv: 'Q_URL', gpus: 1},
      {command: seeing('roleplayer'), urlEnv: 'R_URL', gpus: 2},
      {command: seeing('scorer'), urlEnv: 'S_URL'},
    ]).map(({s, gpus}) => ({command: s.command, urlEnv: s.urlEnv, startupTimeoutSeconds: 60, pollIntervalSeconds: 0.1, logPath: join(dir, `${s.urlEnv}.log`), gpus}));
    const run = async (gpus: number, env: Record<string, string>): Promise<{code: number | undefined; all: string}> => {
      const job = spec({markerPath: join(dir, 'exit.rc'), resources: {gpus}, server: servers, command: ['bash', '-c', 'printf %s "$CUDA_VISIBLE_DEVICES" > rule.gpus']});
      writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
      const r = await execa('bash', [join(dir, 'job.sh')], {cwd: dir, reject: false, all: true, env, extendEnv: false});
      return {code: r.exitCode, all: r.all ?? ''};
    };
    const read = (name: string): string => readFileSync(join(dir, `${name}.gpus`), 'utf8');
    // SLURM bound GPUs 4-7 to the job: the servers get 4, then 5 and 6; one that did not ask sees all; so does the rule.
    const bound = await run(4, {PATH: process.env['PATH']!, CUDA_VISIBLE_DEVICES: '4,5,6,7'});
    expect(bound.code, bound.all).toBe(0);
    expect([read('questioner'), read('roleplayer'), read('scorer'), readFileSync(join(dir, 'rule.gpus'), 'utf8')]).toEqual(['4', '5,6', '4,5,6,7', '4,5,6,7']);
    expect(bound.all).toContain('with GPUs 5,6');
    // No binding (outside SLURM): the job's N GPUs are counted from 0.
    const unbound = await run(3, {PATH: process.env['PATH']!});
    expect(unbound.code, unbound.all).toBe(0);
    expect([read('questioner'), read('roleplayer')]).toEqual(['0', '1,2']);
    // Too few: the job ends with a message that says what to change, before starting the server that does not fit.
    const short = await run(2, {PATH: process.env['PATH']!, CUDA_VISIBLE_DEVICES: '0,1'});
    expect(short.code).not.toBe(0);
    expect(short.all).toContain('the model servers ask for 3 GPUs in all, but this job has 2: request more, or give the servers fewer');
  });

  it('picks another port when the chosen one is taken before the server binds it', async () => {
    const dir = freshDir();
    const tried = join(dir, 'tried');
    // The first start fails as a server does when its port was taken meanwhile; the second serves.
    const code = [
      "const fs = require('node:fs');",
      "if (!fs.existsSync(process.argv[2])) { fs.writeFileSync(process.argv[2], process.argv[1]); console.error('Error: listen EADDRINUSE: address already in use 127.0.0.1:' + process.argv[1]); process.exit(2); }",
      "require('node:http').createServer((req, res) => { res.statusCode = req.url === '/health' ? 200 : 404; res.end('ok'); }).listen(Number(process.argv[1]), '127.0.0.1');",
    ].join('\n');
    const job = spec({
      markerPath: join(dir, 'exit.rc'),
      server: {command: [process.execPath, '-e', code, '{port}', tried], urlEnv: 'MODEL_URL', startupTimeoutSeconds: 60, pollIntervalSeconds: 0.1, logPath: join(dir, 'server.log')},
      command: ['bash', '-c', 'printf %s "$STAGE_SERVER_PORT" > "$1"', 'bash', join(dir, 'port')],
    });
    writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
    const result = await execa('bash', [join(dir, 'job.sh')], {cwd: dir, reject: false, all: true});
    expect(result.exitCode, result.all).toBe(0);
    expect(result.all).toMatch(/port \d+ was taken meanwhile; trying another/);
    expect(result.all.match(/starting the model server on port/g)).toHaveLength(2);
    expect(readFileSync(join(dir, 'port'), 'utf8')).toMatch(/^\d+$/);
  });

  it('gives up at the startup deadline and stops the silent server', async () => {
    const dir = freshDir();
    const pidFile = join(dir, 'server.pid');
    const silent = "require('node:fs').writeFileSync(process.argv[1], String(process.pid)); setInterval(() => {}, 1000);";
    const job = spec({
      markerPath: join(dir, 'exit.rc'),
      server: {
        command: [process.execPath, '-e', silent, pidFile], urlEnv: 'MODEL_URL',
        startupTimeoutSeconds: 2, pollIntervalSeconds: 0.2, logPath: join(dir, 'server.log'),
      },
      command: ['touch', join(dir, 'main-ran')],
    });
    writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
    const result = await execa('bash', [join(dir, 'job.sh')], {cwd: dir, reject: false, all: true});
    expect(result.exitCode).toBe(SERVER_FAILED_EXIT);
    expect(result.all).toContain('stage: the model server did not answer /health within 2 s.');
    expect(readFileSync(join(dir, 'exit.rc'), 'utf8')).toBe(`${SERVER_FAILED_EXIT}\n`);
    expect(alive(serverPid(pidFile))).toBe(false);
    expect(existsSync(join(dir, 'main-ran'))).toBe(false);
  });

  it('on SIGTERM (scancel, time limit) stops the server and writes no marker', async () => {
    const dir = freshDir();
    const pidFile = join(dir, 'server.pid');
    const started = join(dir, 'started');
    const job = spec({
      markerPath: join(dir, 'exit.rc'),
      server: {
        command: standInServer(pidFile), urlEnv: 'MODEL_URL',
        startupTimeoutSeconds: 30, pollIntervalSeconds: 0.1, logPath: join(dir, 'server.log'),
      },
      command: ['bash', '-c', 'touch "$1"; exec sleep 120', 'bash', started],
    });
    writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
    // In a process group of its own, like a job step, so the whole job can be signalled at once.
    const run = execa('bash', [join(dir, 'job.sh')], {cwd: dir, reject: false, detached: true, all: true});
    await pollUntil(() => existsSync(started), 'the main command to start');
    const server = serverPid(pidFile);
    expect(alive(server)).toBe(true);
    // SLURM signals every process of the job; the server sits in its own group, so only
    // the EXIT trap can stop it here.
    process.kill(-run.pid!, 'SIGTERM');
    const result = await run;
    // Killed by the signal itself, not an `exit 143`, so SLURM reports ExitCode 0:15 as for any killed job.
    expect(result.signal, result.all).toBe('SIGTERM');
    expect(result.exitCode).toBeUndefined();
    expect(existsSync(join(dir, 'exit.rc'))).toBe(false);
    expect(alive(server)).toBe(false);
  });

  it('fails setup with its own status when the virtualenv is missing', async () => {
    const dir = freshDir();
    const job = spec({
      markerPath: join(dir, 'exit.rc'),
      environment: {venv: join(dir, 'no-such-venv')},
      command: ['touch', join(dir, 'main-ran')],
    });
    writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
    const result = await execa('bash', [join(dir, 'job.sh')], {cwd: dir, reject: false, all: true});
    expect(result.exitCode).toBe(SETUP_FAILED_EXIT);
    expect(result.all).toContain(`stage: no virtualenv: ${join(dir, 'no-such-venv')}/bin/activate is missing`);
    expect(readFileSync(join(dir, 'exit.rc'), 'utf8')).toBe(`${SETUP_FAILED_EXIT}\n`);
    expect(existsSync(join(dir, 'main-ran'))).toBe(false);
  });

  it('activates a virtualenv before the command', async () => {
    const dir = freshDir();
    const venv = join(dir, 'venv dir');
    await execa('mkdir', ['-p', join(venv, 'bin')]);
    writeFileSync(join(venv, 'bin', 'activate'), 'export VIRTUAL_ENV="$(dirname "$(dirname "${BASH_SOURCE[0]}")")"\n');
    const job = spec({
      markerPath: join(dir, 'exit.rc'),
      environment: {venv},
      command: ['bash', '-c', 'printf %s "$VIRTUAL_ENV" > "$1"', 'bash', join(dir, 'venv.txt')],
    });
    writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
    const result = await execa('bash', [join(dir, 'job.sh')], {cwd: dir, reject: false, all: true});
    expect(result.exitCode, result.all).toBe(0);
    expect(readFileSync(join(dir, 'venv.txt'), 'utf8')).toBe(venv);
  });

  it('activates a conda environment through the shell hook', async () => {
    const dir = freshDir();
    const bin = join(dir, 'bin');
    await execa('mkdir', ['-p', bin]);
    // A stand-in conda whose hook defines the shell function real conda defines.
    const hook = 'conda() { if [ "$1" = activate ]; then export CONDA_DEFAULT_ENV="$2"; else return 1; fi; }';
    writeFileSync(join(bin, 'conda'), `#!/bin/bash\n[ "$1 $2" = "shell.bash hook" ] && echo ${shellQuote(hook)}\n`, {mode: 0o755});
    const job = spec({
      markerPath: join(dir, 'exit.rc'),
      environment: {conda: 'my env'},
      command: ['bash', '-c', 'printf %s "$CONDA_DEFAULT_ENV" > "$1"', 'bash', join(dir, 'env.txt')],
    });
    writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
    const result = await execa('bash', [join(dir, 'job.sh')], {
      cwd: dir, reject: false, all: true, env: {PATH: `${bin}:${process.env['PATH'] ?? ''}`},
    });
    expect(result.exitCode, result.all).toBe(0);
    expect(readFileSync(join(dir, 'env.txt'), 'utf8')).toBe('my env');
  });

  it('fails setup clearly when environment modules are not available', async () => {
    const dir = freshDir();
    const job = spec({markerPath: join(dir, 'exit.rc'), environment: {modules: ['cuda/12.1']}, command: ['true']});
    writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
    const result = await execa('bash', [join(dir, 'job.sh')], {cwd: dir, reject: false, all: true});
    if (result.exitCode === 0) return; // this machine has environment modules installed
    expect(result.exitCode).toBe(SETUP_FAILED_EXIT);
    expect(result.all).toMatch(/stage: (the 'module' command is not available|module load cuda\/12\.1 failed)/);
    expect(readFileSync(join(dir, 'exit.rc'), 'utf8')).toBe(`${SETUP_FAILED_EXIT}\n`);
  });

  it('refuses to run an array script outside an array task', async () => {
    const dir = freshDir();
    const job = spec({markerPath: join(dir, 'exit.rc'), array: {indices: [0]}, command: ['true']});
    writeFileSync(join(dir, 'job.sh'), renderJobScript(job));
    const result = await execa('bash', [join(dir, 'job.sh')], {cwd: dir, reject: false, all: true, env: {SLURM_ARRAY_TASK_ID: ''}});
    expect(result.exitCode).not.toBe(0);
    expect(result.all).toContain('SLURM_ARRAY_TASK_ID is not set');
    expect(readdirSync(dir)).toEqual(['job.sh']);
  });
});
