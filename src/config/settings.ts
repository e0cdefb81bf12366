import {readFileSync} from 'node:fs';
import {homedir} from 'node:os';
import {join, resolve} from 'node:path';

/**
 * Per-user settings: where the cache lives and how much may run at once. They come from flags,
 * the environment and the user's config file, never from the Stagefile, and never enter a key.
 */
export interface Settings {
  readonly cacheDir: string;
}

interface UserConfig {
  cacheDir?: string;
}

export function userConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'stage', 'config.json');
}

function readUserConfig(env: NodeJS.ProcessEnv): UserConfig {
  try {
    return JSON.parse(readFileSync(userConfigPath(env), 'utf8')) as UserConfig;
  } catch {
    return {};
  }
}

/** Flag, then STAGE_CACHE_DIR, then the user config file, then the XDG cache directory. */
export function resolveSettings(flags: {cacheDir?: string | undefined}, env: NodeJS.ProcessEnv = process.env): Settings {
  const fromConfig = readUserConfig(env).cacheDir;
  const cacheDir = flags.cacheDir ?? env['STAGE_CACHE_DIR'] ?? fromConfig ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'stage');
  return {cacheDir: resolve(cacheDir)};
}
