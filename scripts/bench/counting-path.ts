import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Counts the subprocesses a pass starts, by kind, honestly and cheaply: a directory put first on
// the pass's PATH holds one small sh wrapper per command name, which appends its name to a log and
// execs the real program. Every git, ssh and adapter CLI the pass (or git itself, for ssh) finds
// through PATH is counted once per start; what the real programs start below that is not. A real
// program that is itself a POSIX sh script (the adapter doubles) is sourced by its wrapper rather
// than exec'd: the same script in the same shell, with the same arguments, but without a second
// exec per call, so that counting adds no process start to what is counted.

const SH = '#!/bin/sh\n';

/** Whether a program is a POSIX sh script (its first line). */
function isShScript(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(SH.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.toString('latin1') === SH;
  } finally {
    closeSync(fd);
  }
}

export interface CountingPath {
  /** Put this first on the pass's PATH. */
  readonly dir: string;
  /** Starts by command name since the last `reset()`. */
  counts(): Record<string, number>;
  /** Every start since the last `reset()`, in order: the command name (git: followed by its arguments). */
  lines(): string[];
  reset(): void;
}

/** `programs`: command name → the real executable the wrapper execs (an adapter double, /usr/bin/git …). */
export function countingPath(dir: string, programs: Readonly<Record<string, string>>): CountingPath {
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'starts.log');
  for (const [name, real] of Object.entries(programs)) {
    // One short line per start with O_APPEND (`>>`): concurrent starts never interleave.
    const run = isShScript(real) ? `. '${real}'` : `exec '${real}' "$@"`;
    // git's arguments too (what it was asked to do, and where): `lines()` reads them.
    const say = name === 'git' ? `printf '%s\\n' "git $*"` : `echo ${name}`;
    writeFileSync(join(dir, name), `${SH}${say} >> '${log}'\n${run}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  writeFileSync(log, '');
  const lines = () =>
    existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];
  return {
    dir,
    counts() {
      const out: Record<string, number> = Object.fromEntries(Object.keys(programs).map((n) => [n, 0]));
      for (const line of lines()) {
        const name = line.split(' ', 1)[0]!;
        out[name] = (out[name] ?? 0) + 1;
      }
      return out;
    },
    lines,
    reset: () => writeFileSync(log, ''),
  };
}
