import type {Settings} from '../config/settings.js';
import type {Event} from '../event.js';
import {Budget} from './budget.js';
import type {BatchOptions} from './batch/executor.js';
import {batchStateDir} from './batch/state.js';
import type {Leases} from '../store/lease.js';
import {ModelCaller} from './caller.js';
import type {Endpoint} from './endpoints.js';
import {unlimited, type RateGate} from './gate.js';
import {limiterFor} from './limiter/index.js';
import {CallMemo} from './memo.js';
import {stopEmbeddedWorld} from './embedded.js';
import type {ModelDecl} from './types.js';

/** The model-call machinery of one build, made on first use: a build without API targets pays nothing for it. */
export interface LlmRuntime {
  readonly caller: ModelCaller;
  readonly memo: CallMemo;
  readonly budget: Budget;
  /** How this build uses the Batch API. */
  readonly batch: BatchOptions;
  /** Set while an API target runs, so retries are reported against it. */
  current: {target: string} | undefined;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** The store's directories, written first: the memo is read from all, written to the first. */
  readonly storeDirs: readonly string[];
  /** The store's leases: a call someone else is making is waited for, not made twice. */
  readonly leases?: Leases;
  readonly settings: Settings;
  readonly models: ReadonlyMap<string, ModelDecl>;
  readonly budget: number | undefined;
  readonly env: NodeJS.ProcessEnv;
  readonly emit: (e: Event) => void;
  readonly gateFor?: (ep: Endpoint) => RateGate;
  /** `--batch`: every API target goes through the Batch API. */
  readonly forceBatch?: boolean;
}

export function createRuntime(o: RuntimeOptions): LlmRuntime {
  const memo = new CallMemo(o.storeDirs);
  const budget = new Budget(o.budget ?? o.settings.config.budget);
  const runtime: LlmRuntime = {
    memo, budget, current: undefined,
    batch: {force: o.forceBatch === true, stateDir: batchStateDir(o.storeDirs[0]!), config: o.settings.config, models: o.models},
    caller: new ModelCaller({
      models: o.models, memo, budget, config: o.settings.config, env: o.env,
      gateFor: o.gateFor ?? ((ep) => gateFor(ep, o.settings.config.limitsDir)),
      leases: o.leases,
      onWait: (holder) => o.emit({type: 'target-waiting', target: runtime.current?.target ?? '', holder: holder ? `${holder.user}@${holder.host} (pid ${holder.pid})` : 'another builder', what: 'call'}),
      onRetry: (item, why, waitMs, attempt) => o.emit({type: 'llm-retry', target: runtime.current?.target ?? '', item, why, waitMs, attempt}),
    }),
    close: async () => {
      memo.close();
      await stopEmbeddedWorld();
    },
  };
  return runtime;
}

/**
 * The rate gate of an endpoint: the limiter shared by every stage process on this machine when
 * the user configured limits for it, else none (local servers usually have no limits).
 */
function gateFor(ep: Endpoint, dir: string | undefined): RateGate {
  const {rpm, tpm, windowMs} = ep.settings;
  if (rpm === undefined && tpm === undefined) return unlimited;
  return limiterFor({id: ep.identity, ...(rpm !== undefined ? {rpm} : {}), ...(tpm !== undefined ? {tpm} : {}), ...(windowMs !== undefined ? {windowMs} : {}), ...(dir !== undefined ? {dir} : {})});
}
