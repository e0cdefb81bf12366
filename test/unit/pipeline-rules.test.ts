import {describe, expect, it} from 'vitest';
import {trlConfig} from '../../rules/finetune.js';
import {verdictOf, modelShownAs} from '../../rules/judge.js';
import {scoringText, sumAnswer} from '../../rules/logprobs.js';
import {nameOf} from '../../rules/names.js';
import {paper} from '../../rules/profiles.js';
import {parsePrompt, render} from '../../rules/lib/prompt.js';
import {roundsFor} from '../../rules/lib/random.js';
import {winrateSelection} from '../../rules/responses.js';
import {sftExample} from '../../rules/sftdata.js';
import {firstHumanTurn} from '../../rules/tasks.js';
import {countVerdicts} from '../../rules/winrates.js';

describe('STaR-GATE rules, pure parts', () => {
  it('splits a conversation job\'s GPUs between its two servers, each tensor-parallel over its own', () => {
    const servers = [paper.simServers('ckpt/m1')].flat();
    expect(servers.map((s) => s.gpus)).toEqual([2, 2]);
    for (const s of servers) expect(s.command[s.command.indexOf('--tensor-parallel-size') + 1]).toBe(String(s.gpus));
    expect(servers.reduce((n, s) => n + (s.gpus ?? 0), 0)).toBeLessThanOrEqual(paper.gpu.simTrain.gpus ?? 0);
  });

  it('cuts a source row to its first human turn', () => {
    expect(firstHumanTurn('Human: How do I bake bread?\n\nAssistant: Like this.')).toBe('How do I bake bread?');
  });

  it('renders prompts and names a missing slot', () => {
    const t = parsePrompt('# system\nBe kind.\n# user\nHello {{name}}.', 'p.md');
    expect(render(t.user, {name: 'Ana'}, t.file)).toBe('Hello Ana.');
    expect(() => render(t.user, {}, t.file)).toThrow('p.md: no value for {{name}}');
  });

  it('extracts names, and finds none where there is none', () => {
    expect(nameOf("I'm Maya Chen. I follow a vegan diet.")).toBe('Maya Chen');
    expect(nameOf('My name is José Álvarez, and I cook.')).toBe('José Álvarez');
    expect(nameOf('A retired teacher who loves gardens.')).toBeUndefined();
  });

  it('draws the same number of rounds for a key whatever the model, about a third each', () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[roundsFor(`t${i}-p1`, 1, 3) - 1]!++;
    for (const c of counts) expect(c).toBeGreaterThan(850);
    expect(roundsFor('t3-p2', 1, 3)).toBe(roundsFor('t3-p2', 1, 3));
  });

  it('scores only the oracle answer, by text offsets', () => {
    const {context, full} = scoringText('qa-experimental', 'Ana', 'Plan meals.', 'persona', [{role: 'assistant', content: 'Diet?'}, {role: 'user', content: 'Vegan.'}], 'Eat beans.');
    expect(context).toBe('[INST] My name is Ana.\n\nPlan meals. [/INST] Diet?</s>[INST] Vegan.\n\nPlan meals. [/INST]');
    expect(full.endsWith(' Eat beans.')).toBe(true);
    const offsets = [0, 10, context.length, context.length + 4, full.length];
    expect(sumAnswer({token_logprobs: [null, -1, -2, -3, -9], text_offset: offsets}, context.length, full.length)).toBe(-5);
  });

  it('builds SFT examples whose last user turn asks the task again', () => {
    const e = sftExample('t1-p2', 'Ana', 'Plan meals.', [{role: 'assistant', content: 'Diet?'}, {role: 'user', content: 'Vegan.'}], 'Beans.');
    expect(e.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
    expect(e.messages[2]!.content).toBe('Vegan.\n\nPlan meals.');
  });

  it('selects the same win-rate keys and conversations for every model', () => {
    const rows = Array.from({length: 30}, (_, i) => ({key: `t${i}-p0`, rounds: 1 + (i % 3), conversations: [[], [], [], []]}));
    const a = winrateSelection(rows, 4, 1);
    expect(a).toHaveLength(12);
    expect(winrateSelection(rows.map((r) => ({...r, conversations: [[], [], [], []]})), 4, 1)).toEqual(a);
  });

  it('reads verdicts and counts ties and unparseable ones apart', () => {
    expect(verdictOf('Comparison: …\nFinal Response: B')).toBe('B');
    expect(verdictOf('Final Response: **A**')).toBe('A');
    expect(verdictOf('I cannot decide.')).toBeUndefined();
    expect(['A', 'B']).toContain(modelShownAs('t1-p1', 1));
    const c = countVerdicts([
      {key: 'k', group: 1, modelShownAs: 'A', winner: 'model', raw: ''},
      {key: 'k', group: 1, modelShownAs: 'A', winner: 'baseline', raw: ''},
      {key: 'k', group: 1, modelShownAs: 'A', winner: 'tie', raw: ''},
      {key: 'k', group: 1, modelShownAs: 'A', winner: 'unparseable', raw: ''},
    ]);
    expect(c).toEqual({wins: 1, losses: 1, ties: 1, unparseable: 1, rate: 0.5});
  });

  it('writes a TRL config with the paper hyperparameters, always from m0', () => {
    const yaml = trlConfig({trainer: 'trl', base: paper.base, data: 'sftdata/m0/A', hyper: paper.hyper, trainerVersion: null}, '/d/train.jsonl', '/d/eval.jsonl', '/o', '/t.jinja');
    for (const line of ['model_name_or_path: "mistralai/Mistral-7B-Instruct-v0.2"', 'learning_rate: 0.00002', 'num_train_epochs: 1', 'per_device_train_batch_size: 4',
      'gradient_accumulation_steps: 16', 'max_length: 1024', 'lr_scheduler_type: cosine', 'warmup_ratio: 0.1', 'seed: 42', 'assistant_only_loss: true', 'chat_template_path: "/t.jinja"']) {
      expect(yaml).toContain(line);
    }
  });
});
