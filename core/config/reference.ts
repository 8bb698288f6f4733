import { z } from 'zod';
import { RegistrySchema } from './schema.ts';

type JsonSchema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  minimum?: number;
  exclusiveMinimum?: number;
  maximum?: number;
};

function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (s.enum) return s.enum.map((e) => `\`${JSON.stringify(e)}\``).join(' \\| ');
  if (s.type === 'array') return `list of ${s.items ? typeOf(s.items) : 'any'}`;
  if (s.type === 'object' && s.additionalProperties && typeof s.additionalProperties === 'object') return 'map';
  if (s.oneOf || s.anyOf) return 'one of';
  const t = Array.isArray(s.type) ? s.type.join(' \\| ') : (s.type ?? 'any');
  if (t === 'integer' && s.exclusiveMinimum === 0) return 'integer > 0';
  if (t === 'integer' && s.minimum === 0) return 'integer ≥ 0';
  return t;
}

function rows(s: JsonSchema, path: string, out: string[][]): void {
  if (path) out.push([`\`${path}\``, typeOf(s), (s.description ?? '').replaceAll('|', '\\|')]);
  for (const variant of s.oneOf ?? s.anyOf ?? []) fields(variant, path, out);
  fields(s, path, out);
  if (s.type === 'array' && s.items) fields(s.items, `${path}[]`, out);
}

function fields(s: JsonSchema, path: string, out: string[][]): void {
  for (const [k, v] of Object.entries(s.properties ?? {})) rows(v, path ? `${path}.${k}` : k, out);
}

// The field reference of docs/registry.md, generated from the schema's own descriptions so the two
// can never drift (a test compares them).
export function registryReference(): string {
  const schema = z.toJSONSchema(RegistrySchema, { unrepresentable: 'any' }) as JsonSchema;
  const out: string[][] = [];
  rows(schema, '', out);
  const seen = new Set<string>();
  const unique = out.filter((r) => !seen.has(r.join('|')) && seen.add(r.join('|')));
  return `${['| field | type | meaning |', '|---|---|---|', ...unique.map((r) => `| ${r.join(' | ')} |`)].join('\n')}\n`;
}
