import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli } from '../../src/cli/run.ts';
import type { Entry } from '../../src/cli/program.ts';
import { ROOT } from '../../scripts/world/registry.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with captured streams, as a user in `cwd` would. */
export async function cli(
  argv: string[],
  opts: { cwd?: string; entry?: Entry; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    argv,
    {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      cwd: opts.cwd ?? ROOT,
      env: opts.env ?? {},
    },
    opts.entry ?? 'branch-follower',
  );
  return { code, stdout, stderr };
}

// Expected CLI output lives in test/golden/ and changes only on purpose: `UPDATE_GOLDEN=1 npm test`.
export function expectGolden(name: string, actual: string): void {
  const file = join(ROOT, 'test/golden', name);
  if (process.env.UPDATE_GOLDEN === '1' && !process.env.CI) {
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file)) throw new Error(`golden file test/golden/${name} is missing; create it with UPDATE_GOLDEN=1`);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}
