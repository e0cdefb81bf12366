/**
 * The SLURM commands the driver runs, as thin execa calls that never throw: every outcome,
 * including "sbatch is not installed" and "scontrol hung", comes back as data for the caller's
 * policy to judge. Commands are found on PATH, so a site wrapper (or a test's fake) takes part.
 */
import type {SlurmJobId} from './ids.js';
import type {SubmitAttempt} from './policy.js';

/** A hung controller must not hang the build: each call gets this long. */
const COMMAND_TIMEOUT_MS = 120_000;

export type SlurmCommand = 'sbatch' | 'scontrol' | 'squeue' | 'scancel';

/** Runs one SLURM command to completion and reports what happened. */
export async function runSlurmCommand(command: SlurmCommand, args: readonly string[], cwd?: string): Promise<SubmitAttempt> {
  const {execa} = await import('execa');
  const r = await execa(command, args, {
    reject: false, stdin: 'ignore', timeout: COMMAND_TIMEOUT_MS, ...(cwd !== undefined ? {cwd} : {}),
  });
  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  let stderr = typeof r.stderr === 'string' ? r.stderr : '';
  const notFound = r.code === 'ENOENT';
  if (r.exitCode === undefined && stderr === '' && r.shortMessage) stderr = r.shortMessage;
  return {exitCode: r.exitCode, stdout, stderr, timedOut: r.timedOut, notFound};
}

/**
 * scancel, tried a few times: a job left running would keep its GPUs (and write into a staging
 * directory nobody reads) until its time limit.
 */
export async function cancelJobs(ids: readonly SlurmJobId[]): Promise<string | undefined> {
  if (ids.length === 0) return undefined;
  let last = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await runSlurmCommand('scancel', ids);
    if (r.exitCode === 0) return undefined;
    last = r.stderr.trim() || `scancel exited with status ${r.exitCode ?? 'unknown'}`;
    // A job that already ended is not an error worth retrying for.
    if (/Invalid job id|already completing or completed|Job\/step already/i.test(last)) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 500 * (attempt + 1)));
  }
  return last;
}
