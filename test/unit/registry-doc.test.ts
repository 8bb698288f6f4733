import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registryReference } from '../../core/config/reference.ts';
import { ROOT } from '../../scripts/world/registry.ts';

describe('docs/registry.md', () => {
  it('carries the field reference generated from the schema (run `npm run docs` after a schema change)', () => {
    const doc = readFileSync(join(ROOT, 'docs/registry.md'), 'utf8');
    expect(doc).toContain(registryReference());
  });

  it('describes every field', () => {
    const undescribed = registryReference()
      .split('\n')
      .filter((line) => line.startsWith('| `') && line.trimEnd().endsWith('|  |'));
    expect(undescribed).toEqual([]);
  });
});
