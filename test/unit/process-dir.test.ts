import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freshProcessDir, freshProcessDirAsync } from '../../runner/process-dir.ts';

// A pid that was alive a moment ago and is gone now: a child that has exited and been reaped.
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('freshProcessDir', () => {
  const roots: string[] = [];
  const root = () => {
    const r = mkdtempSync(join(tmpdir(), 'bf-process-dir-test-'));
    roots.push(r);
    return r;
  };
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });

  it('makes a private parent and a fresh directory of this process in it, another each call', () => {
    const parent = join(root(), 'p');
    const a = freshProcessDir(parent);
    const b = freshProcessDir(parent);
    expect(dirname(a)).toBe(parent);
    expect(basename(a)).toMatch(new RegExp(`^${process.pid}-`));
    expect(a).not.toBe(b);
    expect(statSync(parent).mode & 0o777).toBe(0o700);
    expect(readdirSync(parent).sort()).toEqual([basename(a), basename(b)].sort());
  });

  it("removes a dead process's directory at the first directory made under the parent, and keeps a live one's", () => {
    const parent = join(root(), 'p');
    mkdirSync(parent, { recursive: true });
    const dead = join(parent, `${deadPid()}-abc`);
    const live = join(parent, `${process.ppid}-def`);
    mkdirSync(join(dead, 'inside'), { recursive: true });
    mkdirSync(live);
    const mine = freshProcessDir(parent);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(mine)).toBe(true);
  });

  it('sweeps a parent once per process: a later dead directory waits for the next process', () => {
    const parent = join(root(), 'p');
    freshProcessDir(parent);
    const dead = join(parent, `${deadPid()}-later`);
    mkdirSync(dead);
    freshProcessDir(parent);
    expect(existsSync(dead)).toBe(true);
  });

  it('makes the parent again when it was removed after its sweep', () => {
    const parent = join(root(), 'p');
    freshProcessDir(parent);
    rmSync(parent, { recursive: true, force: true });
    const again = freshProcessDir(parent);
    expect(existsSync(again)).toBe(true);
    expect(statSync(parent).mode & 0o777).toBe(0o700);
  });

  it('makes the same directories without blocking: swept first, fresh each call, the parent made again', async () => {
    const parent = join(root(), 'p');
    mkdirSync(parent, { recursive: true });
    const dead = join(parent, `${deadPid()}-abc`);
    mkdirSync(dead);
    const [a, b] = await Promise.all([freshProcessDirAsync(parent), freshProcessDirAsync(parent)]);
    expect(existsSync(dead)).toBe(false);
    expect(a).not.toBe(b);
    for (const d of [a, b]) expect(basename(d)).toMatch(new RegExp(`^${process.pid}-`));
    rmSync(parent, { recursive: true, force: true });
    const again = await freshProcessDirAsync(parent);
    expect(existsSync(again)).toBe(true);
    expect(statSync(parent).mode & 0o777).toBe(0o700);
  });
});
