import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

// Directories a pass makes on disk for itself (a copy of the SSH key, an adapter command's empty
// working directory) live under one private parent each, named for the process that made them
// (`<pid>-<random>`). The maker removes its own when done; a process killed before that leaves its
// directory behind, and the next one made under the same parent on this machine first removes every
// directory whose process is gone. So nothing a killed pass made outlives the next pass.

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
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  chmodSync(parent, 0o700);
  for (const name of readdirSync(parent)) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) {
      rmSync(join(parent, name), { recursive: true, force: true });
    }
  }
  return mkdtempSync(join(parent, `${process.pid}-`));
}
