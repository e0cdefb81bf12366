import {readFileSync} from 'node:fs';
import type {ChatMessage} from 'stage';

/**
 * Prompt templates live in prompts/*.md: a `# system` section (optional) and a `# user` section,
 * with `{{slot}}` placeholders. Rendering is a pure function, and a slot without a value is an
 * error naming the file and the slot, never a silently empty prompt.
 */
export interface PromptTemplate {
  readonly file: string;
  readonly system?: string;
  readonly user: string;
}

export function parsePrompt(text: string, file: string): PromptTemplate {
  const sections = new Map<string, string[]>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const head = /^# (system|user)\s*$/.exec(line);
    if (head) {
      current = head[1]!;
      sections.set(current, []);
    } else if (current) sections.get(current)!.push(line);
  }
  const body = (k: string): string | undefined => sections.get(k)?.join('\n').trim();
  const user = body('user');
  if (!user) throw new Error(`${file}: a prompt needs a "# user" section`);
  const system = body('system');
  return system ? {file, system, user} : {file, user};
}

export function loadPrompt(path: string): PromptTemplate {
  return parsePrompt(readFileSync(path, 'utf8'), path);
}

export function render(template: string, vars: Readonly<Record<string, string>>, file: string): string {
  return template.replace(/\{\{(\w+)\}\}/g, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`${file}: no value for {{${name}}}`);
    return v;
  });
}

/** The chat messages of a template: system (if any), then user. */
export function chat(t: PromptTemplate, vars: Readonly<Record<string, string>>): ChatMessage[] {
  const user: ChatMessage = {role: 'user', content: render(t.user, vars, t.file)};
  return t.system ? [{role: 'system', content: render(t.system, vars, t.file)}, user] : [user];
}
