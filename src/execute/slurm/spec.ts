/**
 * What stage needs to say about one SLURM job, as plain data. The executor fills it in
 * from a target and the user's config; `renderJobScript` turns it into a job script.
 * Keeping the two apart means the script text can be unit-tested without a cluster.
 */

/**
 * What the target itself asks for. These describe the work (a 4-GPU training step
 * stays a 4-GPU training step on every cluster).
 */
export interface SlurmResources {
  /**
   * Wall-clock limit in SLURM's own syntax: "MM", "MM:SS", "HH:MM:SS", "D-HH",
   * "D-HH:MM" or "D-HH:MM:SS" (see `formatSlurmTime`). SLURM rounds up to whole
   * minutes, so the shortest real limit is one minute.
   */
  readonly time?: string | undefined;
  /** --cpus-per-task */
  readonly cpusPerTask?: number | undefined;
  /** Memory per node in SLURM's syntax: an integer with an optional K, M, G or T suffix (default M). */
  readonly mem?: string | undefined;
  /** Number of GPUs, requested as a generic resource: --gres=gpu[:type]:N. */
  readonly gpus?: number | undefined;
  /** GPU model as the site names it in gres.conf ("a100"), when the target needs a specific one. */
  readonly gpuType?: string | undefined;
}

/**
 * Where and on whose budget the job runs. These come from the user's config, never from
 * target keys: moving a job to another partition or account must not change what it
 * computes, so none of this may influence a cache key.
 */
export interface SlurmSiteOptions {
  readonly partition?: string | undefined;
  readonly account?: string | undefined;
  readonly qos?: string | undefined;
  /** --constraint, node features such as "a100&ib". */
  readonly constraint?: string | undefined;
  /**
   * Any other sbatch options, each a whole option: "--exclusive", "--nodelist=gpu01".
   * Options stage manages itself (job name, output, array, chdir) are rejected.
   */
  readonly extraOptions?: readonly string[] | undefined;
}

/** How to prepare the shell before anything runs; each step fails the job with a clear message. */
export interface SlurmEnvironment {
  /** Environment modules to load, in order (`module load NAME`). */
  readonly modules?: readonly string[] | undefined;
  /** A conda environment name or prefix path to activate. */
  readonly conda?: string | undefined;
  /** A Python virtualenv directory to activate (its bin/activate is sourced). */
  readonly venv?: string | undefined;
  /** Extra variables, exported literally (no expansion). */
  readonly exports?: Readonly<Record<string, string>> | undefined;
}

/**
 * A model server (vLLM, TGI, a stand-in) started inside the job, next to the command
 * that uses it, so no port ever has to be reachable from outside the node.
 */
export interface SlurmModelServer {
  /**
   * The server's argv. Every `{port}` inside an element is replaced by the port the job
   * picks at run time; the port is also exported as STAGE_SERVER_PORT.
   */
  readonly command: readonly string[];
  /** Environment variable that receives the base URL, e.g. "OPENAI_BASE_URL". */
  readonly urlEnv: string;
  /** Appended to http://127.0.0.1:PORT in that variable, e.g. "/v1". Default: nothing. */
  readonly urlPath?: string | undefined;
  /** Path polled until it answers 2xx. Default "/health". */
  readonly healthPath?: string | undefined;
  /** How long the server may take to become healthy (model loading can take many minutes). */
  readonly startupTimeoutSeconds: number;
  /** Seconds between health polls. Default 2. */
  readonly pollIntervalSeconds?: number | undefined;
  /** Ports to choose from. Default 20000-39999. */
  readonly portRange?: {readonly min: number; readonly max: number} | undefined;
  /** Where the server's stdout and stderr go. */
  readonly logPath: string;
  /**
   * The slice of the job's GPUs this server sees (CUDA_VISIBLE_DEVICES): `count` of them from
   * position `offset` in the job's list. Absent: all of the job's GPUs.
   */
  readonly gpus?: {readonly offset: number; readonly count: number} | undefined;
}

/** Several shards of one target as a single array job. */
export interface SlurmArray {
  /** Task indices to run. A list rather than a count, so only failed shards can be resubmitted. */
  readonly indices: readonly number[];
  /** At most this many tasks at once (the `%N` suffix), to spare shared GPUs and rate limits. */
  readonly maxParallel?: number | undefined;
}

export interface SlurmJobSpec {
  /** --job-name. No whitespace: scontrol prints it unquoted, and spaces would make its output ambiguous. */
  readonly name: string;
  /** --output (stdout and stderr together). May use SLURM's patterns: %j, %A, %a, %x. */
  readonly logPath: string;
  /** --chdir: where the job starts. Default: the directory sbatch was run from. */
  readonly workDir?: string | undefined;
  readonly resources: SlurmResources;
  readonly site: SlurmSiteOptions;
  readonly array?: SlurmArray | undefined;
  readonly environment?: SlurmEnvironment | undefined;
  /** One model server, or several (each on its own port, all stopped when the job ends). */
  readonly server?: SlurmModelServer | readonly SlurmModelServer[] | undefined;
  /** The work itself, e.g. ["stage", "exec", target, "--key", key]. */
  readonly command: readonly string[];
  /**
   * For array jobs: the option under which the task index is appended to `command`,
   * e.g. "--shard" gives `... --shard "$SLURM_ARRAY_TASK_ID"`.
   */
  readonly arrayTaskFlag?: string | undefined;
  /**
   * Where the job records its exit status. For arrays each task writes its own file,
   * named by `markerFileFor(markerPath, task)`.
   */
  readonly markerPath: string;
}
