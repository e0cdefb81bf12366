import {relative} from 'node:path';
import type {LlmRule, Rule} from '../config/define.js';
import type {LoadedStagefile} from '../config/load.js';
import type {WorkspaceState} from '../state/state.js';
import {canonicalJson} from './canonical.js';
import {hashText} from './hasher.js';

/**
 * The hash of a rule's code: the module that declared it and every local module it imports,
 * transitively, by content. Editing a rule re-runs exactly the targets that use it. A rule written
 * inline in the Stagefile is identified by its own function text plus the Stagefile's imports, so
 * adding an unrelated target to the Stagefile does not invalidate it.
 */
export class RuleCodeHasher {
  readonly #loaded: LoadedStagefile;
  readonly #state: WorkspaceState;
  readonly #memo = new Map<Rule<unknown> | LlmRule<unknown>, string>();

  constructor(loaded: LoadedStagefile, state: WorkspaceState) {
    this.#loaded = loaded;
    this.#state = state;
  }

  hash(rule: Rule<unknown> | LlmRule<unknown>): string {
    let h = this.#memo.get(rule);
    if (h === undefined) {
      h = this.#compute(rule);
      this.#memo.set(rule, h);
    }
    return h;
  }

  #compute(rule: Rule<unknown> | LlmRule<unknown>): string {
    const {root, file} = this.#loaded;
    const module = this.#loaded.locate(rule.site)?.file ?? file;
    const parts: Record<string, string> = {};
    const seen = new Set<string>();
    const visit = (f: string): void => {
      if (seen.has(f)) return;
      seen.add(f);
      if (f !== file) parts[relative(root, f)] = this.#state.hash(relative(root, f)) ?? 'missing';
      for (const i of this.#loaded.imports.get(f) ?? []) visit(i);
    };
    visit(module);
    if (module === file) {
      const text = rule.kind === 'rule' ? rule.fn.toString() : [rule.requests, rule.assemble, rule.estimate].map(String).join('\n');
      parts['<inline>'] = hashText(text);
    }
    // How many unanswered items an LLM rule tolerates decides whether its output can hold gaps.
    if (rule.kind === 'llm') parts['<max-failures>'] = String(rule.maxFailures ?? 0);
    return hashText(canonicalJson(parts));
  }
}
