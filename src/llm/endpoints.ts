import type {EndpointSettings, UserConfig} from '../config/settings.js';
import {err, ok, type Result} from '../util/result.js';
import {EMBEDDED_WORLD, embeddedWorldURL} from './embedded.js';
import type {ModelDecl} from './types.js';

/** Where and how a role is served, resolved from its declaration and the user's settings. */
export interface Endpoint {
  readonly decl: ModelDecl;
  /** The limiter and memo identity: provider family and model, never a URL or key. */
  readonly identity: string;
  readonly settings: EndpointSettings;
  /** Where calls go, for messages (no credentials). */
  readonly where: string;
}

/** The settings of a role: its own, over its model's, over its provider's. */
export function endpointFor(decl: ModelDecl, config: UserConfig): Endpoint {
  const e = config.endpoints ?? {};
  const settings: EndpointSettings = {...e[decl.provider], ...e[decl.model], ...e[decl.role]};
  const where = decl.provider === 'azure'
    ? settings.azure ? `${settings.azure.endpoint} (deployment ${settings.azure.deployment})` : 'Azure (not configured)'
    : settings.baseURL ?? (decl.baseURL === EMBEDDED_WORLD ? 'the embedded model world' : decl.baseURL) ?? (decl.provider === 'openai' ? 'https://api.openai.com/v1' : '(no base URL)');
  return {decl, identity: `${decl.provider === 'openai-compatible' ? 'local' : 'openai'}:${decl.model}`, settings, where};
}

/** The name of the environment variable that holds the role's key. */
export function keyVariable(ep: Endpoint): string {
  return ep.settings.apiKeyEnv ?? (ep.decl.provider === 'azure' ? 'AZURE_OPENAI_API_KEY' : 'OPENAI_API_KEY');
}

export type OpenAIClient = import('openai').OpenAI;

/**
 * Builds the openai client for a role, or says exactly what is missing, naming the role and the
 * setting, before anything is spent. The SDK's own retries are off: our policy retries, with the
 * limiter, and the SDK would otherwise sleep for whatever retry-after says.
 */
export async function clientFor(ep: Endpoint, env: NodeJS.ProcessEnv): Promise<Result<OpenAIClient, string>> {
  const {OpenAI, AzureOpenAI} = await import('openai');
  const variable = keyVariable(ep);
  const apiKey = env[variable];
  const timeout = ep.settings.timeoutMs ?? 120_000;
  const role = `model role "${ep.decl.role}" (${ep.decl.provider} ${ep.decl.model})`;
  switch (ep.decl.provider) {
    case 'openai':
      if (!apiKey) return err(`${role} needs an API key: set ${variable} (or "apiKeyEnv" for this role in the user config)`);
      return ok(new OpenAI({apiKey, baseURL: ep.settings.baseURL ?? null, maxRetries: 0, timeout}));
    case 'azure': {
      const az = ep.settings.azure;
      if (!az) return err(`${role} is served by Azure: set endpoints.${ep.decl.role}.azure = {endpoint, deployment, apiVersion} in the user config`);
      if (!apiKey) return err(`${role} needs an API key: set ${variable}`);
      return ok(new AzureOpenAI({apiKey, endpoint: az.endpoint, deployment: az.deployment, apiVersion: az.apiVersion, maxRetries: 0, timeout}));
    }
    case 'openai-compatible': {
      const declared = ep.settings.baseURL ?? ep.decl.baseURL;
      const baseURL = declared === EMBEDDED_WORLD ? await embeddedWorldURL() : declared;
      if (!baseURL) return err(`${role} needs a base URL: set endpoints.${ep.decl.role}.baseURL in the user config`);
      // Local servers usually take no key; one named in the config must be there.
      if (ep.settings.apiKeyEnv && !apiKey) return err(`${role} needs an API key: set ${variable}`);
      return ok(new OpenAI({apiKey: apiKey ?? 'unused', baseURL, maxRetries: 0, timeout}));
    }
  }
}
