/** The key of a persona-task pair: `t{task}-p{persona}`, as every artifact uses it. */
export function pairKey(task: string, persona: string): string {
  return `${task}-${persona}`;
}

export function splitKey(key: string): {task: string; persona: string} {
  const m = /^(t\d+)-(p\d+)$/.exec(key);
  if (!m) throw new Error(`"${key}" is not a persona-task key (t{i}-p{j})`);
  return {task: m[1]!, persona: m[2]!};
}
