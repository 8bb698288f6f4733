import { createRequire } from 'node:module';
import type { SchemaOptions, ToStringOptions } from 'yaml';

// yaml takes about 100 ms to import and only output written as YAML needs it (-o yaml, --raw,
// manifests), so it is loaded at the first document written, not when the CLI starts. require()
// gets the same module an `import` of yaml does (its one Node entry), so nothing is loaded twice.
const require = createRequire(import.meta.url);

/** `value` as a YAML document, with yaml's own options. */
export function yamlText(value: unknown, options: SchemaOptions & ToStringOptions): string {
  return (require('yaml') as typeof import('yaml')).stringify(value, options);
}
