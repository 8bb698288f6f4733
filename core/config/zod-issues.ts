import type { z } from 'zod';
import type { ConfigIssue } from '../errors.ts';
import { valueAt } from './issue-value.ts';
import type { YamlSource } from './yaml-source.ts';

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** What a missing field should have held, in the words of the issue zod raised for it. */
function expectation(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return `expected ${issue.expected}`;
  if (issue.code === 'invalid_value') return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
  return issue.message;
}

// A key that asks for an HTTPS credential gets the reason it cannot exist rather than "check its spelling".
const CREDENTIAL_KEY = /token|password|https|credential/i;

// Turns zod's issues into ConfigIssues with positions and messages in the registry's own words:
// a missing field says "missing", an unknown key points at the key, a wrong type says what it got.
export function toConfigIssues(error: z.ZodError, source: YamlSource): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const why = CREDENTIAL_KEY.test(key)
          ? `unknown field "${key}": there is no token or password transport; the upstream is reached only over SSH ` +
            `with the identity declared in controller.source.githubSsh`
          : `unknown field "${key}" (check its spelling and indentation)`;
        out.push(source.issue([...path, key], why, { atKey: true }));
      }
      continue;
    }
    const value = valueAt(source.data, path);
    if (value === undefined) {
      out.push(source.issue(path, `required field is missing (${expectation(issue)})`));
      continue;
    }
    if (issue.code === 'invalid_type' && issue.expected === 'int' && typeof value === 'number') {
      out.push(source.issue(path, issue.message)); // the schema's own "must be a whole number"
      continue;
    }
    if (issue.code === 'invalid_type') {
      out.push(source.issue(path, `expected ${issue.expected}, got ${describeType(value)}`));
      continue;
    }
    if (issue.code === 'invalid_key') {
      out.push(source.issue(path, issue.issues[0]?.message ?? issue.message));
      continue;
    }
    out.push(source.issue(path, issue.message));
  }
  return out;
}
