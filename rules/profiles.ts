import {worldFingerprint, type ServerSpec, type SlurmRequest} from 'stage';
import type {SftHyper} from './finetune.js';
import type {Sampling} from './simulate.js';

export type Split = 'A' | 'B' | 'test';

/**
 * Everything that differs between running STaR-GATE at the paper's scale and running it as a
 * demo against the embedded model world: counts, models, where GPU work runs and which servers
 * it starts. The Stagefile itself is the same for both.
 */
export interface Profile {
  readonly name: string;
  /** The task source, in the instruct-human-assistant-prompt row format. */
  readonly source: string;
  readonly rows: Readonly<Record<Split, readonly [number, number]>>;
  readonly personas: Readonly<Record<Split, number>>;
  readonly samples: number;
  readonly maxRounds: number;
  readonly winratePerGroup: number;
  /** Model roles called through the model-call layer (memo, limits, budget). */
  readonly apiModels: Readonly<Record<'persona-writer' | 'oracle' | 'judge', {provider: 'openai' | 'openai-compatible'; model: string; baseURL?: string}>>;
  readonly executor: 'local' | 'slurm';
  /** What each GPU step asks the cluster for. */
  readonly gpu: Readonly<Record<'simTrain' | 'simTest' | 'logprobs' | 'regularizer' | 'finetune' | 'responses', SlurmRequest>>;
  /** The servers a GPU job starts: the questioner/answerer (m_t), the roleplayer and the scorer (m0). */
  readonly servers: (role: 'questioner' | 'roleplayer' | 'scorer', checkpoint: string | undefined) => ServerSpec;
  /** A conversation job talks to the questioner and the roleplayer: one server each, or one for both. */
  readonly simServers: (checkpoint: string | undefined) => ServerSpec | readonly ServerSpec[];
  readonly questioner: (checkpoint: string | undefined) => Sampling;
  readonly roleplayer: Sampling;
  readonly scorerModel: string;
  readonly answerer: (checkpoint: string | undefined) => Sampling;
  readonly trainer: 'trl' | 'world';
  readonly base: string;
  /** The trainer's own version where the pipeline cannot see its code (the world's trainer). */
  readonly trainerVersion?: string;
  readonly hyper: SftHyper;
  readonly concurrency: number;
  readonly shards: number;
}

const STAGE = process.argv[1] ?? 'stage';
const PAPER_HYPER: SftHyper = {learningRate: 2e-5, epochs: 1, batchSize: 4, gradientAccumulation: 16, maxLength: 1024, warmupRatio: 0.1, scheduler: 'cosine', seed: 42, numProcesses: 1};

/** A vLLM server for one role, tensor-parallel over `tp` GPUs. */
function vllm(role: 'questioner' | 'roleplayer' | 'scorer', checkpoint: string | undefined, tp: number): ServerSpec {
  return {
    command: ['vllm', 'serve', role === 'roleplayer' ? 'mistralai/Mixtral-8x7B-Instruct-v0.1' : checkpoint ?? 'mistralai/Mistral-7B-Instruct-v0.2',
      '--port', '{port}', '--tensor-parallel-size', String(tp), '--served-model-name', role, ...(role === 'scorer' ? ['--no-enable-prefix-caching'] : [])],
    urlEnv: `STAGE_URL_${role.toUpperCase()}`, urlPath: '/v1', startupTimeoutSeconds: 1800,
  };
}

export const paper: Profile = {
  name: 'paper',
  source: 'data/dahoas/train.jsonl',
  rows: {A: [0, 250], B: [250, 500], test: [500, 550]},
  personas: {A: 50, B: 50, test: 10},
  samples: 10,
  maxRounds: 3,
  winratePerGroup: 100,
  apiModels: {
    'persona-writer': {provider: 'openai', model: 'gpt-4-0613'},
    oracle: {provider: 'openai', model: 'gpt-4-0613'},
    judge: {provider: 'openai', model: 'gpt-4-0613'},
  },
  executor: 'slurm',
  gpu: {
    simTrain: {gpus: 4, cpus: 64, mem: '468G', time: '48:00:00'},
    simTest: {gpus: 4, cpus: 64, mem: '468G', time: '48:00:00'},
    logprobs: {gpus: 2, cpus: 32, mem: '128G', time: '48:00:00'},
    regularizer: {gpus: 4, cpus: 48, mem: '512G', time: '48:00:00'},
    finetune: {gpus: 4, cpus: 48, mem: '468G', time: '10-16:00:00'},
    responses: {gpus: 4, cpus: 64, mem: '400G', time: '48:00:00'},
  },
  servers: (role, checkpoint) => vllm(role, checkpoint, role === 'roleplayer' ? 2 : 1),
  // The conversation jobs' 4 GPUs, split: 2 for the questioner m_t, 2 for Mixtral (tensor-parallel 2 each).
  simServers: (checkpoint) => [{...vllm('questioner', checkpoint, 2), gpus: 2}, {...vllm('roleplayer', undefined, 2), gpus: 2}],
  questioner: () => ({model: 'questioner', temperature: 0.9, top_p: 0.9, max_tokens: 700}),
  roleplayer: {model: 'roleplayer', temperature: 0, top_p: 1, max_tokens: 700},
  scorerModel: 'scorer',
  answerer: () => ({model: 'questioner', temperature: 0, top_p: 1, max_tokens: 700}),
  trainer: 'trl',
  base: 'mistralai/Mistral-7B-Instruct-v0.2',
  hyper: PAPER_HYPER,
  concurrency: 256,
  shards: 4,
};

const SMALL_JOB: SlurmRequest = {gpus: 1, cpus: 1, mem: '1G', time: '30:00'};

/**
 * The demo, made only when chosen: the world's code is part of its models' identity (a change
 * to it is a new model snapshot), and hashing that code is work the paper profile need not do.
 */
export function demo(): Profile {
  const WORLD = worldFingerprint();
  const profile: Profile = {
    name: 'demo',
    source: 'data/demo/tasks.jsonl',
    rows: {A: [0, 12], B: [12, 24], test: [24, 30]},
    personas: {A: 8, B: 8, test: 6},
    samples: 10,
    maxRounds: 3,
    winratePerGroup: 12,
    apiModels: {
      'persona-writer': {provider: 'openai-compatible', model: `world-persona-writer@${WORLD}`, baseURL: 'embedded:world'},
      oracle: {provider: 'openai-compatible', model: `world-oracle@${WORLD}`, baseURL: 'embedded:world'},
      judge: {provider: 'openai-compatible', model: `world-judge@${WORLD}`, baseURL: 'embedded:world'},
    },
    executor: 'local',
    // Every step of the world's loop fits one (fake) GPU and a CPU for a few minutes.
    gpu: {simTrain: SMALL_JOB, simTest: SMALL_JOB, logprobs: SMALL_JOB, regularizer: SMALL_JOB, finetune: SMALL_JOB, responses: SMALL_JOB},
    // One world server answers every role of a job; the model name picks the role.
    servers: (_role, checkpoint) => ({
      command: [process.execPath, STAGE, 'world', 'serve', '--port', '{port}', ...(checkpoint ? ['--policy', `${checkpoint}/policy.json`] : [])],
      urlEnv: 'STAGE_MODEL_URL', urlPath: '/v1', startupTimeoutSeconds: 60,
    }),
    simServers: (checkpoint) => profile.servers('questioner', checkpoint),
    questioner: () => ({model: `world-questioner@${WORLD}`, temperature: 0.9, top_p: 0.9, max_tokens: 700}),
    roleplayer: {model: `world-roleplayer@${WORLD}`, temperature: 0, top_p: 1, max_tokens: 700},
    scorerModel: `world-scorer@${WORLD}`,
    answerer: () => ({model: `world-answerer@${WORLD}`, temperature: 0, top_p: 1, max_tokens: 700}),
    trainer: 'world',
    base: 'm0',
    trainerVersion: WORLD,
    hyper: {...PAPER_HYPER, learningRate: 1, epochs: 1},
    concurrency: 16,
    shards: 1,
  };
  return profile;
}

/** The demo loop at its smallest, for tests: every target, a few items each. */
export function tiny(): Profile {
  return {
    ...demo(),
    name: 'tiny',
    rows: {A: [0, 4], B: [12, 16], test: [24, 30]},
    personas: {A: 3, B: 3, test: 4},
    samples: 4,
    winratePerGroup: 6,
  };
}

/** The tiny loop with every GPU step as a real SLURM job that starts the world inside the job. */
export function tinySlurm(): Profile {
  return {...tiny(), name: 'tiny-slurm', executor: 'slurm'};
}
