/**
 * A Stagefile with one API target making `n` fixed calls. `label` changes the target's key (it
 * is a parameter) but not its calls: two builders with different labels need the same answers.
 */
export function sameCallsStagefile(label: string, n: number): string {
  return `import {writeFileSync} from 'node:fs';
import {llmRule, model, target} from 'stage';
model('writer', {provider: 'openai-compatible', model: 'test-model-1'});
const write = llmRule<{label: string}>('write', {
  roles: ['writer'],
  requests: () => Array.from({length: ${n}}, (_, i) => ({id: \`item-\${i}\`, role: 'writer', messages: [{role: 'user' as const, content: \`Item \${i}.\`}], params: {temperature: 0, max_tokens: 8}})),
  assemble: ({out, params}, results) => writeFileSync(out, params.label + ' ' + results.map((r) => (r.ok ? r.content : '!')).join('|') + '\\n'),
  estimate: () => ({calls: ${n}, promptTokens: 10, completionTokens: 8, role: 'writer'}),
});
target('answers', {params: {label: '${label}'}, out: 'out/answers.txt', run: write});
`;
}
