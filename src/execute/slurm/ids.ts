/**
 * A SLURM job id as the SLURM commands accept it: a plain job ("12345") or one task of
 * an array ("12345_7"). It is branded so that an arbitrary string (a target name, a
 * cache key) cannot be passed to scancel or scontrol by mistake: the only way to get
 * one is through `slurmJobId`, which checks the shape.
 */
export type SlurmJobId = string & {readonly __brand: 'SlurmJobId'};

const JOB_ID = /^[0-9]+(?:_[0-9]+)?$/;

/**
 * Checks and brands a job id. Array tasks are written `<arrayJobId>_<taskIndex>`,
 * which is how scontrol, squeue and scancel address a single task.
 */
export function slurmJobId(value: string): SlurmJobId {
  if (!JOB_ID.test(value)) {
    throw new Error(`Not a SLURM job id: ${JSON.stringify(value)} (expected e.g. "12345" or "12345_7")`);
  }
  return value as SlurmJobId;
}
