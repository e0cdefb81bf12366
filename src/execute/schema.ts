import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import type {Failure} from '../event.js';
import {messageOf} from '../util/result.js';

type Validate = ((data: unknown) => boolean) & {errors?: {instancePath: string; message?: string}[] | null};
const compiled = new Map<string, Validate>();

/**
 * Checks a target's JSON and JSONL outputs against its schema before anything is stored, so a
 * malformed model reply or a rule bug never reaches the store or a dependent. Ajv is loaded only
 * for targets that declare a schema.
 */
export async function checkSchema(root: string, schemaRel: string, staging: string, files: readonly string[]): Promise<Failure | undefined> {
  let validate = compiled.get(schemaRel);
  if (!validate) {
    const {default: Ajv} = (await import('ajv')) as unknown as {default: new (o: object) => {compile(s: object): Validate}};
    try {
      validate = new Ajv({allErrors: false, strict: false}).compile(JSON.parse(readFileSync(join(root, schemaRel), 'utf8')) as object);
    } catch (e) {
      return {kind: 'schema', path: schemaRel, message: `the schema itself is invalid: ${messageOf(e)}`, schema: schemaRel};
    }
    compiled.set(schemaRel, validate);
  }
  for (const rel of files) {
    const text = readFileSync(join(staging, rel), 'utf8');
    if (rel.endsWith('.jsonl')) {
      const lines = text.split('\n');
      for (let i = 0; i < lines.length; i++) {
        if (lines[i]!.trim() === '') continue;
        const bad = check(validate, lines[i]!);
        if (bad) return {kind: 'schema', path: rel, line: i + 1, message: bad, schema: schemaRel};
      }
    } else if (rel.endsWith('.json')) {
      const bad = check(validate, text);
      if (bad) return {kind: 'schema', path: rel, message: bad, schema: schemaRel};
    }
  }
  return undefined;
}

function check(validate: Validate, text: string): string | undefined {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return `not valid JSON (${messageOf(e)})`;
  }
  if (validate(data)) return undefined;
  const e = validate.errors?.[0];
  return e ? `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}` : 'is invalid';
}
