// The public API a Stagefile imports.
export {target, rule, llmRule, model, profile, sh, cmd, pool} from './config/define.js';
export type {Target, TargetSpec, Rule, LlmRule, RuleContext, RuleFn, Command, JsonValue, ServerSpec, SlurmRequest} from './config/define.js';
export type {CallSpec, CallResult, CallEstimate, ChatMessage, SamplingParams} from './llm/types.js';
export {worldFingerprint} from './world/fingerprint.js';
