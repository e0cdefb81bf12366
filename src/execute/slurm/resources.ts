/**
 * A target's SLURM request as resources for the job script, and as the GPU-hours a plan shows.
 */
import type {SlurmRequest} from '../../config/define.js';
import type {SlurmResources} from './spec.js';

/** What one SLURM target would ask for, and its GPU-hours as an upper bound. */
export interface GpuEstimate {
  readonly gpus: number;
  readonly gpuType?: string | undefined;
  readonly cpus?: number | undefined;
  readonly mem?: string | undefined;
  /** The time limit as written; undefined means the partition's default. */
  readonly time?: string | undefined;
  readonly shards: number;
  /**
   * gpus × time limit × shards, in hours: what the target can use at most (SLURM stops a job at
   * its limit). null when GPUs are requested but the limit is unknown or unlimited.
   */
  readonly gpuHours: number | null;
}

/** The job script's resources for a target's request. */
export function resourcesOf(request: SlurmRequest | undefined): SlurmResources {
  return {
    time: request?.time, cpusPerTask: request?.cpus, mem: request?.mem, gpus: request?.gpus, gpuType: request?.gpuType,
  };
}

/**
 * A SLURM time limit in seconds. Accepts SLURM's forms: "MM", "MM:SS", "HH:MM:SS", "D-HH",
 * "D-HH:MM", "D-HH:MM:SS". UNLIMITED/INFINITE and anything unreadable give undefined. SLURM rounds
 * limits up to whole minutes, and so does this.
 */
export function slurmTimeSeconds(time: string): number | undefined {
  const t = time.trim();
  let days = 0;
  let h = 0;
  let m = 0;
  let s = 0;
  let match: RegExpExecArray | null;
  if ((match = /^([0-9]+)-([0-9]+)(?::([0-9]+)(?::([0-9]+))?)?$/.exec(t))) {
    days = Number(match[1]);
    h = Number(match[2]);
    m = Number(match[3] ?? 0);
    s = Number(match[4] ?? 0);
  } else if ((match = /^([0-9]+):([0-9]+):([0-9]+)$/.exec(t))) {
    h = Number(match[1]);
    m = Number(match[2]);
    s = Number(match[3]);
  } else if ((match = /^([0-9]+)(?::([0-9]+))?$/.exec(t))) {
    m = Number(match[1]);
    s = Number(match[2] ?? 0);
  } else {
    return undefined;
  }
  const seconds = ((days * 24 + h) * 60 + m) * 60 + s;
  return seconds <= 0 ? undefined : Math.ceil(seconds / 60) * 60;
}

/** The plan's view of one SLURM target: its request and GPU-hours at most. */
export function gpuEstimate(request: SlurmRequest | undefined, shards: number): GpuEstimate {
  const gpus = request?.gpus ?? 0;
  const seconds = request?.time === undefined ? undefined : slurmTimeSeconds(request.time);
  const gpuHours = gpus === 0 ? 0 : seconds === undefined ? null : (gpus * seconds * shards) / 3600;
  return {
    gpus, shards, gpuHours,
    ...(request?.gpuType !== undefined ? {gpuType: request.gpuType} : {}),
    ...(request?.cpus !== undefined ? {cpus: request.cpus} : {}),
    ...(request?.mem !== undefined ? {mem: request.mem} : {}),
    ...(request?.time !== undefined ? {time: request.time} : {}),
  };
}
