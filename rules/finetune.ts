import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {rule} from 'stage';
import {depFile} from './lib/io.js';

export interface SftHyper {
  learningRate: number;
  epochs: number;
  batchSize: number;
  gradientAccumulation: number;
  maxLength: number;
  warmupRatio: number;
  scheduler: string;
  seed: number;
  numProcesses: number;
}

interface FinetuneParams {
  /** `trl`: TRL's `trl sft`; `world`: the embedded world's trainer (demo and tests). */
  trainer: 'trl' | 'world';
  /** Every iteration starts from m0, never from the previous checkpoint. */
  base: string;
  data: string;
  hyper: SftHyper;
  trainerVersion: string | null;
}

/**
 * TRL's config for one STaR-GATE iteration: the paper's hyperparameters, conversational data,
 * loss only on assistant turns (the questions and the final answer) through a Mistral template
 * with generation markers.
 */
export function trlConfig(p: FinetuneParams, train: string, evalFile: string, out: string, template: string): string {
  const h = p.hyper;
  return [
    `model_name_or_path: ${JSON.stringify(p.base)}`,
    'datasets:',
    '  - path: json',
    `    data_files: {train: ${JSON.stringify(train)}, test: ${JSON.stringify(evalFile)}}`,
    `output_dir: ${JSON.stringify(out)}`,
    `learning_rate: ${h.learningRate}`,
    `num_train_epochs: ${h.epochs}`,
    `per_device_train_batch_size: ${h.batchSize}`,
    `gradient_accumulation_steps: ${h.gradientAccumulation}`,
    `max_length: ${h.maxLength}`,
    `lr_scheduler_type: ${h.scheduler}`,
    `warmup_ratio: ${h.warmupRatio}`,
    `seed: ${h.seed}`,
    'bf16: true',
    'assistant_only_loss: true',
    `chat_template_path: ${JSON.stringify(template)}`,
    'eval_strategy: epoch',
    'save_strategy: "no"',
    'report_to: none',
    `num_processes: ${h.numProcesses}`,
    '',
  ].join('\n');
}

/** `model/m{t+1}`: writes the trainer's config into the output directory and runs the trainer there. */
export const finetune = rule<FinetuneParams>('finetune', async ({deps, inputs, params, out, log, signal}) => {
  const {execa} = await import('execa');
  const data = depFile(deps, params.data);
  const [train, evalFile] = [join(data, 'train.jsonl'), join(data, 'eval.jsonl')];
  const run = async (file: string, args: string[]): Promise<void> => {
    log(`$ ${[file, ...args].join(' ')}`);
    const r = await execa(file, args, {cancelSignal: signal, reject: false, all: true});
    log(r.all ?? '');
    if (r.exitCode !== 0) throw new Error(`${file} exited with ${r.exitCode ?? r.signal}: ${(r.all ?? '').split('\n').slice(-5).join(' | ')}`);
  };
  if (params.trainer === 'trl') {
    const template = inputs.find((f) => f.endsWith('.jinja'));
    if (!template) throw new Error('the trl trainer needs the Mistral training chat template among the inputs');
    writeFileSync(join(out, 'sft.yaml'), trlConfig(params, train, evalFile, out, template));
    await run('trl', ['sft', '--config', join(out, 'sft.yaml')]);
  } else {
    // process.argv[1] is this very stage CLI, on the driver and on a compute node alike.
    await run(process.execPath, [process.argv[1]!, 'world', 'train', '--data', train, '--base', params.base, '--out', out,
      '--lr', String(params.hyper.learningRate), '--epochs', String(params.hyper.epochs)]);
  }
});
