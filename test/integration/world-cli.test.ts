/**
 * `stage world serve|train` as a job script runs them: a real subprocess that announces its
 * address on one stdout line, answers over HTTP, and stops cleanly on SIGTERM; and a trainer
 * that writes a checkpoint directory a server can load.
 */
import {readFileSync} from 'node:fs';
import {describe, expect} from 'vitest';
import {QUESTION_TEMPLATES} from '../../src/world/questions.js';
import {TASKS} from '../../src/world/tasks.js';
import {test, waitFor, type Rig} from '../util/rig.js';

/** Starts `stage world serve` and waits for its `{"baseURL": ...}` line. */
async function serve(rig: Rig, args: string[] = []): Promise<{baseURL: string; fingerprint: string; stop: () => Promise<number | null>}> {
  const run = rig.spawn(['world', 'serve', '--port', '0', ...args]);
  let out = '';
  run.child.stdout!.on('data', (d: string) => (out += d));
  await waitFor(() => out.includes('\n') || run.child.exitCode !== null, 'the baseURL line');
  const info = JSON.parse(out.split('\n')[0]!) as {baseURL: string; fingerprint: string};
  return {
    ...info,
    stop: async () => {
      run.child.kill('SIGTERM');
      return (await run.done).code;
    },
  };
}

async function post(baseURL: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`${baseURL}${path}`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)});
  return (await r.json()) as Record<string, unknown>;
}

describe('stage world', () => {
  test('serve: announces its address, answers, and exits 0 on SIGTERM', async ({rig}) => {
    const server = await serve(rig);
    expect(server.baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const health = await fetch(server.baseURL.replace(/\/v1$/, '/health'));
    expect(health.status).toBe(200);
    const models = (await (await fetch(`${server.baseURL}/models`)).json()) as {data: {id: string}[]};
    expect(models.data.map((m) => m.id)).toContain('world-questioner');
    const chat = await post(server.baseURL, '/chat/completions', {model: 'world-questioner@m0', messages: [{role: 'user', content: TASKS[0]!.text}]});
    expect((chat['choices'] as {message: {content: string}}[])[0]!.message.content).toMatch(/\?$/);
    expect(await server.stop()).toBe(0);
  });

  test('train: writes a checkpoint that serve loads', async ({rig}) => {
    const example = [
      {role: 'user', content: `My name is Maya Chen.\n\n${TASKS[0]!.text}`},
      {role: 'assistant', content: QUESTION_TEMPLATES.diet[0]!},
      {role: 'user', content: `I follow a vegan diet.\n\n${TASKS[0]!.text}`},
      {role: 'assistant', content: 'Maya, since you follow a vegan diet, here is a plan.'},
    ];
    rig.write({'sft.jsonl': `${JSON.stringify(example)}\n`.repeat(5)});
    const r = await rig.run(['world', 'train', '--data', 'sft.jsonl', '--base', 'm0', '--out', 'ckpt/m1', '--lr', '0.5', '--epochs', '10']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/trained on 5 questions from 5 examples/);
    const policy = JSON.parse(readFileSync(rig.path('ckpt/m1/policy.json'), 'utf8')) as {kind: string; weights: {meals: {diet: number}}};
    expect(policy.kind).toBe('stage-world-policy');
    expect(policy.weights.meals.diet).toBeGreaterThan(0);
    expect(JSON.parse(rig.read('ckpt/m1/config.json'))).toMatchObject({lr: 0.5, epochs: 10, base: 'm0'});

    const m0 = await serve(rig);
    const m1 = await serve(rig, ['--policy', 'ckpt/m1']);
    expect(m1.fingerprint).not.toBe(m0.fingerprint);
    expect(await m0.stop()).toBe(0);
    expect(await m1.stop()).toBe(0);
  });

  test('bad arguments get a clear message and exit 2', async ({rig}) => {
    const port = await rig.run(['world', 'serve', '--port', 'eighty']);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--port needs a port number/);
    const policy = await rig.run(['world', 'serve', '--policy', 'missing/policy.json']);
    expect(policy.code).toBe(2);
    expect(policy.stderr).toMatch(/cannot read policy .*missing\/policy\.json/);
    const train = await rig.run(['world', 'train', '--data', 'nope.jsonl']);
    expect(train.code).toBe(2);
    expect(train.stderr).toMatch(/--data, --base and --out are all required/);
    const unknown = await rig.run(['world', 'fly']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown world command "fly"/);
  });
});
