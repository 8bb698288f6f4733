import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** What happened to one file of the output directory. */
type FileChange = 'created' | 'updated' | 'unchanged' | 'removed';

export interface WrittenFile {
  readonly file: string;
  readonly bytes: number;
  readonly change: FileChange;
}

function readDir(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) out.set(name, readFileSync(join(dir, name), 'utf8'));
  return out;
}

/** Compares what is on disk with what would be written; reads only. */
function compareDir(dir: string, files: ReadonlyMap<string, string>): WrittenFile[] {
  const before = readDir(dir);
  const result: WrittenFile[] = [];
  for (const [name, content] of files) {
    const old = before.get(name);
    const change: FileChange = old === undefined ? 'created' : old === content ? 'unchanged' : 'updated';
    result.push({ file: name, bytes: Buffer.byteLength(content), change });
  }
  for (const name of before.keys()) {
    if (!files.has(name)) result.push({ file: name, bytes: 0, change: 'removed' });
  }
  return result.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
}

// Replaces the whole output directory at once: the new files are written beside it first and
// swapped in by rename, so a reader (or a crash) sees the old dist/ or the new one, never a mix,
// and files of objects no longer synthesized disappear with the old directory.
export function replaceDir(dir: string, files: ReadonlyMap<string, string>): WrittenFile[] {
  const changes = compareDir(dir, files);
  if (changes.every((c) => c.change === 'unchanged')) return changes;
  const parent = dirname(dir);
  const staging = join(parent, `${basename(dir)}.tmp-${process.pid}`);
  const retired = join(parent, `${basename(dir)}.old-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    for (const [name, content] of files) writeFileSync(join(staging, name), content);
    if (existsSync(dir)) renameSync(dir, retired);
    renameSync(staging, dir);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(dir) && existsSync(retired)) renameSync(retired, dir);
    throw err;
  }
  rmSync(retired, { recursive: true, force: true });
  return changes;
}
