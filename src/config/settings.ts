import {readFileSync} from 'node:fs';
import {homedir} from 'node:os';
import {join, resolve} from 'node:path';

/**
 * Per-user settings: where the cache lives, where each model role is served, rate limits and
 * spending limits. They come from flags, the environment and the user's config file, never from
 * the Stagefile, and never enter a key.
 */
export interface EndpointSettings {
  /** Base URL of an OpenAI-compatible server, or an override of OpenAI's. */
  readonly baseURL?: string;
  /** The environment variable holding the API key (default OPENAI_API_KEY, or AZURE_OPENAI_API_KEY). */
  readonly apiKeyEnv?: string;
  readonly azure?: {readonly endpoint: string; readonly deployment: string; readonly apiVersion: string};
  readonly rpm?: number;
  readonly tpm?: number;
  /** The window the limits are counted over (default one minute). */
  readonly windowMs?: number;
  /** Calls in flight at once for this endpoint. */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
}

export interface UserConfig {
  readonly cacheDir?: string;
  /**
   * Use `cacheDir` as a consumer: read it, never write it (no entries, blobs, memo lines, leases
   * or use stamps). What this user builds goes to the workspace's own `.stage/cache`.
   */
  readonly cacheReadOnly?: boolean;
  /** Leases on work in progress: heartbeat, takeover and polling periods in ms. */
  readonly leases?: {readonly heartbeatMs?: number; readonly staleMs?: number; readonly pollMs?: number};
  /** Keyed by role, model or provider; a role's settings override its model's and provider's. */
  readonly endpoints?: Readonly<Record<string, EndpointSettings>>;
  /** Dollars; `stage build` stops starting calls before the next one would pass it. */
  readonly budget?: number;
  /** Dollars; above this, `stage build` asks before spending (or needs --yes). */
  readonly confirmAbove?: number;
  readonly prices?: Readonly<Record<string, {input: number; output: number}>>;
  /** Where limiter state shared by this machine's stage processes lives. */
  readonly limitsDir?: string;
  /** Batch API polling: first pause in ms (default 30 s), growing by half each poll up to `maxPollMs` (default 10 × pollMs). */
  readonly batch?: {readonly pollMs?: number; readonly maxPollMs?: number};
  /** Where and how SLURM jobs run on this user's cluster; never part of a key. */
  readonly slurm?: SlurmSettings;
}

/**
 * Site options for SLURM jobs. Moving a job to another partition or account must not change what
 * it computes, so all of this lives here and never in the Stagefile or a key.
 */
export interface SlurmSettings {
  readonly partition?: string;
  readonly account?: string;
  readonly qos?: string;
  /** `--constraint`, node features such as `a100&ib`. */
  readonly constraint?: string;
  /** Other sbatch options, each whole: `--exclusive`, `--nodelist=gpu01`. */
  readonly extraOptions?: readonly string[];
  /** How the job's shell is prepared before `stage exec` runs. */
  readonly environment?: {
    readonly modules?: readonly string[];
    readonly conda?: string;
    readonly venv?: string;
    readonly exports?: Readonly<Record<string, string>>;
  };
  /** First pause between status polls in ms (default 40 s); it grows by half each quiet poll. */
  readonly pollMs?: number;
  /** The longest pause between polls in ms (default 180 s). */
  readonly maxPollMs?: number;
  /**
   * How long a job SLURM reports as finished may take to show its exit marker, in ms (default
   * 90 s): on a shared filesystem the file can lag behind the scheduler.
   */
  readonly markerGraceMs?: number;
}

export interface Settings {
  readonly cacheDir: string;
  /** `--cache-read-only`, $STAGE_CACHE_READ_ONLY=1 or the config's `cacheReadOnly`. */
  readonly cacheReadOnly: boolean;
  readonly config: UserConfig;
  /** Where the config came from, for messages. */
  readonly configPath: string;
}

/** $STAGE_CONFIG, else $XDG_CONFIG_HOME/stage/config.json, else ~/.config/stage/config.json. */
export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env['STAGE_CONFIG'] ?? join(env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'stage', 'config.json');
}

function readUserConfig(path: string): UserConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  try {
    return JSON.parse(text) as UserConfig;
  } catch (e) {
    throw new SettingsError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** A broken config file: reported to the user, not a crash. */
export class SettingsError extends Error {}

/** Flag, then STAGE_CACHE_DIR, then the user config file, then the XDG cache directory. */
export function resolveSettings(flags: {cacheDir?: string | undefined; cacheReadOnly?: boolean | undefined}, env: NodeJS.ProcessEnv = process.env): Settings {
  const configPath = userConfigPath(env);
  const config = readUserConfig(configPath);
  const cacheDir = flags.cacheDir ?? env['STAGE_CACHE_DIR'] ?? config.cacheDir ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'stage');
  const fromEnv = env['STAGE_CACHE_READ_ONLY'];
  const cacheReadOnly = flags.cacheReadOnly ?? (fromEnv !== undefined && fromEnv !== '' && fromEnv !== '0' ? true : config.cacheReadOnly === true);
  return {cacheDir: resolve(cacheDir), cacheReadOnly, config, configPath};
}
