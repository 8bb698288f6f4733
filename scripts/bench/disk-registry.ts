import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endOf, runCli } from './cli-run.ts';
import { mirrorsFor, writeRegistryDir } from './registry-dir.ts';

// `validate` of the real CLI on a generated registry directory of n followers (the shipped layout:
// cluster host names, nothing reached), beside the CLI's `--help` in the same run: what loading and
// checking the registry costs on top of starting the CLI.

export interface DiskFigures {
  readonly mirrors: number;
  readonly registryBytes: number;
  readonly validateMs: number;
  readonly validateEnd: string;
  readonly validateRssBytes: number;
}

export async function diskFigures(n: number, limitMs: number): Promise<DiskFigures> {
  const root = mkdtempSync(join(tmpdir(), `bf-bench-disk-${n}-`));
  try {
    const mirrors = mirrorsFor(n);
    const dir = writeRegistryDir(root, n, { mirrors });
    const run = await runCli(['--config', dir.file, 'validate'], { env: { PATH: process.env.PATH ?? '' }, limitMs });
    return {
      mirrors,
      registryBytes: dir.bytes,
      validateMs: run.wallMs,
      validateEnd: endOf(run, limitMs),
      validateRssBytes: run.maxRssBytes,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The CLI's `--help`: the fixed cost `validate` is read against. */
export async function helpMs(limitMs: number): Promise<number> {
  return (await runCli(['--help'], { env: { PATH: process.env.PATH ?? '' }, limitMs })).wallMs;
}
