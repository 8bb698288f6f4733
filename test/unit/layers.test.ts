import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The folders are the layers (docs/layers.md): each may import only from the layers below it.
// This reads every source file's relative imports and holds them to that picture.

const ROOT = resolve(import.meta.dirname, '../..');
const FOLDERS = ['bin', 'core', 'runner', 'constructs', 'synth', 'src', 'scripts', 'test'];

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(path);
    return /\.(ts|js)$/.test(e.name) ? [path] : [];
  });
}

interface Import {
  readonly from: string;
  readonly to: string;
}

const imports: Import[] = FOLDERS.flatMap(sources).flatMap((from) => {
  const text = readFileSync(join(ROOT, from), 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) => ({
    from,
    to: relative(ROOT, resolve(ROOT, dirname(from), m[1]!)),
  }));
});

const layerOf = (path: string) => (path.startsWith('src/cli/') ? 'cli' : path.split('/')[0]!);

/** What each layer may import from (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  core: [],
  runner: ['core'],
  constructs: ['core'],
  synth: ['core', 'constructs'],
  cli: ['core', 'runner', 'constructs', 'synth', 'package.json'],
  bin: ['build'],
  scripts: ['core', 'runner', 'constructs', 'synth', 'cli'],
};

const broken = (rule: (i: Import) => boolean) => imports.filter(rule).map((i) => `${i.from} imports ${i.to}`);

describe('layers', () => {
  it('finds the imports it checks', () => {
    expect(imports.length).toBeGreaterThan(300);
  });

  it('each layer imports only from itself and the layers below it', () => {
    expect(
      broken((i) => {
        const from = layerOf(i.from);
        const to = layerOf(i.to);
        return from !== 'test' && from !== to && !(ALLOWED[from] ?? []).includes(to);
      }),
    ).toEqual([]);
  });

  it('the CLI reaches the runner only through runner/index.ts, or runner/read.ts for reading', () => {
    expect(
      broken(
        (i) =>
          layerOf(i.from) === 'cli' &&
          layerOf(i.to) === 'runner' &&
          i.to !== 'runner/index.ts' &&
          i.to !== 'runner/read.ts',
      ),
    ).toEqual([]);
  });

  it('the read door loads no pass, port, process, git or Kubernetes module', () => {
    expect(
      broken(
        (i) =>
          i.from === 'runner/read.ts' &&
          /^(runner\/(pass|process|git-mirror|kube|observe)|core\/(kube|git))/.test(i.to),
      ),
    ).toEqual([]);
  });

  it('the pass imports no Kubernetes client, git or process: only its ports', () => {
    expect(
      broken(
        (i) => i.from === 'runner/pass.ts' && /^(core\/kube|core\/git|runner\/kube|runner\/process-ports)/.test(i.to),
      ),
    ).toEqual([]);
  });

  it('no construct imports the registry types: constructs take plain props', () => {
    expect(broken((i) => layerOf(i.from) === 'constructs' && i.to.startsWith('core/config/'))).toEqual([]);
  });

  it('reasons become exit codes only in the CLI', () => {
    expect(
      broken((i) => layerOf(i.from) !== 'cli' && layerOf(i.from) !== 'test' && i.to === 'src/cli/exit-codes.ts'),
    ).toEqual([]);
  });
});
