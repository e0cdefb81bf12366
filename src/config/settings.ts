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
  /** Calls in flight at once for this endpoint. */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
}

export interface UserConfig {
  readonly cacheDir?: string;
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
}

export interface Settings {
  readonly cacheDir: string;
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
export function resolveSettings(flags: {cacheDir?: string | undefined}, env: NodeJS.ProcessEnv = process.env): Settings {
  const configPath = userConfigPath(env);
  const config = readUserConfig(configPath);
  const cacheDir = flags.cacheDir ?? env['STAGE_CACHE_DIR'] ?? config.cacheDir ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'stage');
  return {cacheDir: resolve(cacheDir), config, configPath};
}
