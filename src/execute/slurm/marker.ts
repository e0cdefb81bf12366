/**
 * The exit-status marker a job script writes when its command returns. SLURM's own
 * record of a job is purged MinJobAge seconds after it ends and sacct may be disabled,
 * but a file on the shared filesystem stays, so a restarted stage can still learn how a
 * job it submitted yesterday ended. A job that is killed (scancel, time limit, OOM)
 * writes no marker: its status would be meaningless, and SLURM's state says why.
 */

/**
 * The marker file of one array task: the task index goes before the extension, so
 * `runs/x/exit.rc` becomes `runs/x/exit.3.rc`. Without a task, the path itself.
 */
export function markerFileFor(markerPath: string, task?: number): string {
  if (task === undefined) return markerPath;
  if (!Number.isInteger(task) || task < 0) throw new Error(`Array task index must be a non-negative integer, got ${task}`);
  const {stem, extension} = splitExtension(markerPath);
  return `${stem}.${task}${extension}`;
}

/** Splits off the last extension of the file name (not of a directory). */
export function splitExtension(path: string): {readonly stem: string; readonly extension: string} {
  const slash = path.lastIndexOf('/');
  const dot = path.lastIndexOf('.');
  if (dot <= slash + 1) return {stem: path, extension: ''};
  return {stem: path.slice(0, dot), extension: path.slice(dot)};
}

/**
 * Reads a marker's content: the exit status as a decimal number and a newline. Anything
 * else (an empty or half-written file from a foreign writer) is undefined rather than a
 * guess, because a wrong "0" would commit a failed result to the cache.
 */
export function parseExitMarker(content: string): number | undefined {
  const match = /^([0-9]{1,3})\n?$/.exec(content);
  if (!match) return undefined;
  const status = Number(match[1]);
  return status <= 255 ? status : undefined;
}
