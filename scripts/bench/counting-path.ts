import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Counts the subprocesses a pass starts, by kind, honestly and cheaply: a directory put first on
// the pass's PATH holds one small sh wrapper per command name, which appends its name to a log and
// execs the real program. Every git, ssh and adapter CLI the pass (or git itself, for ssh) finds
// through PATH is counted once per start; what the real programs start below that is not.

export interface CountingPath {
  /** Put this first on the pass's PATH. */
  readonly dir: string;
  /** Starts by command name since the last `reset()`. */
  counts(): Record<string, number>;
  reset(): void;
}

/** `programs`: command name → the real executable the wrapper execs (an adapter double, /usr/bin/git …). */
export function countingPath(dir: string, programs: Readonly<Record<string, string>>): CountingPath {
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'starts.log');
  for (const [name, real] of Object.entries(programs)) {
    // One short line per start with O_APPEND (`>>`): concurrent starts never interleave.
    writeFileSync(join(dir, name), `#!/bin/sh\necho ${name} >> '${log}'\nexec '${real}' "$@"\n`);
    chmodSync(join(dir, name), 0o755);
  }
  writeFileSync(log, '');
  return {
    dir,
    counts() {
      const out: Record<string, number> = Object.fromEntries(Object.keys(programs).map((n) => [n, 0]));
      if (!existsSync(log)) return out;
      for (const line of readFileSync(log, 'utf8').split('\n')) if (line !== '') out[line] = (out[line] ?? 0) + 1;
      return out;
    },
    reset: () => writeFileSync(log, ''),
  };
}
