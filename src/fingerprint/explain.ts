import type {KeyComponents} from './key.js';

/**
 * Says which parts of a key differ between the last build and now, in the words a user thinks in:
 * which input file, which parameter, which dependency's output, the rule's code.
 */
export function explainChange(prev: KeyComponents, cur: KeyComponents): string[] {
  const reasons: string[] = [];
  if (prev.schema !== cur.schema) reasons.push(`key schema changed (${prev.schema} -> ${cur.schema}): every key is new once`);
  if (prev.rule.kind !== cur.rule.kind) reasons.push(`rule changed from a ${prev.rule.kind} to a ${cur.rule.kind}`);
  else if (prev.rule.kind === 'command' && cur.rule.kind === 'command') {
    if (prev.rule.text !== cur.rule.text) reasons.push(`command changed: ${JSON.stringify(prev.rule.text)} -> ${JSON.stringify(cur.rule.text)}`);
  } else if (prev.rule.kind !== 'command' && cur.rule.kind !== 'command') {
    if (prev.rule.id !== cur.rule.id) reasons.push(`rule changed: ${prev.rule.id} -> ${cur.rule.id}`);
    else if (prev.rule.code !== cur.rule.code) reasons.push(`code of rule ${cur.rule.id} changed (its module or a local import)`);
  }
  if (prev.params !== cur.params) reasons.push(...paramChanges(prev.params, cur.params));
  for (const [path, hash] of Object.entries(cur.inputs)) {
    const before = prev.inputs[path];
    if (before === undefined) reasons.push(`input ${path} was added`);
    else if (before !== hash) reasons.push(`input ${path} changed`);
  }
  for (const path of Object.keys(prev.inputs)) if (!(path in cur.inputs)) reasons.push(`input ${path} was removed`);
  for (const [dep, digest] of Object.entries(cur.deps)) {
    const before = prev.deps[dep];
    if (before === undefined) reasons.push(`dependency ${dep} was added`);
    else if (before !== digest) reasons.push(`output of dependency ${dep} changed`);
  }
  for (const dep of Object.keys(prev.deps)) if (!(dep in cur.deps)) reasons.push(`dependency ${dep} was removed`);
  for (const [role, m] of Object.entries(cur.models ?? {})) {
    const before = prev.models?.[role];
    if (before !== m) reasons.push(`model of role ${role} changed: ${before ?? '(none)'} -> ${m}`);
  }
  if (prev.outputs.join('\n') !== cur.outputs.join('\n')) reasons.push(`declared outputs changed: ${prev.outputs.join(', ')} -> ${cur.outputs.join(', ')}`);
  return reasons;
}

function paramChanges(prevText: string, curText: string): string[] {
  const prev = JSON.parse(prevText) as unknown;
  const cur = JSON.parse(curText) as unknown;
  if (!isObject(prev) || !isObject(cur)) return [`parameters changed: ${prevText} -> ${curText}`];
  const out: string[] = [];
  for (const k of new Set([...Object.keys(prev), ...Object.keys(cur)])) {
    const a = JSON.stringify(prev[k]);
    const b = JSON.stringify(cur[k]);
    if (a !== b) out.push(`parameter ${k} changed: ${a ?? '(unset)'} -> ${b ?? '(unset)'}`);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
