import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';

// Directories a pass makes on disk for itself (a copy of the SSH key, an adapter command's empty
// working directory) live under one private parent each, named for the process that made them
// (`<pid>-<random>`). The maker removes its own when done; a process killed before that leaves its
// directory behind, and the next process that makes one under the same parent on this machine first
// removes every directory whose process is gone. So nothing a killed pass made outlives the next pass.
// A process sweeps a parent once, at its first directory there: a pass makes one per adapter call, and
// what is left behind can only be a dead process's, which the first sweep already found.

/** The parents this process has made and swept. */
const swept = new Set<string>();

/** Whether the process `pid` still runs (a pid we may not signal is alive, too). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A fresh, empty, private (0700) directory of this process under `parent`; see the file comment. */
export function freshProcessDir(parent: string): string {
  if (!swept.has(parent)) sweep(parent);
  try {
    return mkdtempSync(join(parent, `${process.pid}-`));
  } catch (err) {
    // The parent went away since it was swept (a cleaner of the temporary directory): made again.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    sweep(parent);
    return mkdtempSync(join(parent, `${process.pid}-`));
  }
}

/**
 * freshProcessDir without blocking: once `parent` is swept, the directory is made off the event loop
 * (a pass makes one per adapter call, many at once).
 */
export async function freshProcessDirAsync(parent: string): Promise<string> {
  if (!swept.has(parent)) return freshProcessDir(parent);
  try {
    return await mkdtemp(join(parent, `${process.pid}-`));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return freshProcessDir(parent);
  }
}

/** Makes `parent` private (0700) and removes every directory in it whose process is gone. */
function sweep(parent: string): void {
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  chmodSync(parent, 0o700);
  for (const name of readdirSync(parent)) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) {
      rmSync(join(parent, name), { recursive: true, force: true });
    }
  }
  swept.add(parent);
}
