// The public API a Stagefile imports.
export {target, rule, sh, cmd, pool} from './config/define.js';
export type {Target, TargetSpec, Rule, RuleContext, RuleFn, Command, JsonValue} from './config/define.js';
