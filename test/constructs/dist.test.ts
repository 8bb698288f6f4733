import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replaceDir } from '../../synth/write-dist.ts';
import { ROOT } from '../../scripts/world/registry.ts';

const CLI = join(ROOT, 'build/branch-follower.js');

function readTree(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  );
}

function synthTo(out: string, env: Record<string, string> = {}, cwd = ROOT): void {
  execFileSync(
    process.execPath,
    [CLI, '--config', join(ROOT, 'config/cicd-branch-followers.yaml'), 'synth', '--out', out],
    {
      cwd,
      env: { ...process.env, ...env },
      stdio: 'pipe',
    },
  );
}

describe('dist/', () => {
  it('holds exactly what synth produces from the committed registry (byte for byte)', () => {
    const out = mkdtempSync(join(tmpdir(), 'bf-dist-'));
    synthTo(join(out, 'dist'));
    expect(readTree(join(out, 'dist'))).toEqual(readTree(join(ROOT, 'dist')));
  });

  it('is byte-identical across time zones, locales and working directories', () => {
    const a = mkdtempSync(join(tmpdir(), 'bf-dist-a-'));
    const b = mkdtempSync(join(tmpdir(), 'bf-dist-b-'));
    synthTo(join(a, 'dist'), { TZ: 'Pacific/Chatham', LANG: 'tr_TR.UTF-8', LC_ALL: 'tr_TR.UTF-8' });
    synthTo(join(b, 'dist'), { TZ: 'UTC', LANG: 'C', LC_ALL: 'C', CDK8S_DISABLE_SORT: '1' }, b);
    expect(readTree(join(a, 'dist'))).toEqual(readTree(join(b, 'dist')));
  });

  it('npm run synth on a clean clone of the committed tree leaves git status clean', () => {
    const clone = join(mkdtempSync(join(tmpdir(), 'bf-clone-')), 'repo');
    execFileSync('git', ['clone', '--quiet', '--no-hardlinks', ROOT, clone]);
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'));
    execFileSync('npm', ['run', '-s', 'synth'], { cwd: clone, stdio: 'pipe' });
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: clone, encoding: 'utf8' })).toBe('');
  });

  it('contains one file per controller object and nothing else', () => {
    expect(readdirSync(join(ROOT, 'dist')).sort()).toEqual([
      'configmap-branch-follower-registry.yaml',
      'configmap-branch-follower-state-0.yaml',
      'cronjob-branch-follower.yaml',
      'lease-branch-follower-leader-0.yaml',
      'lease-branch-follower-leader.yaml',
      'namespace-unidesk-cicd.yaml',
      'role-branch-follower.yaml',
      'rolebinding-branch-follower.yaml',
      'serviceaccount-branch-follower.yaml',
    ]);
  });
});

describe('replaceDir', () => {
  it('removes files of objects no longer synthesized and reports each change', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'bf-replace-')), 'dist');
    mkdirSync(dir);
    writeFileSync(join(dir, 'gone.yaml'), 'old');
    writeFileSync(join(dir, 'same.yaml'), 'same');
    writeFileSync(join(dir, 'changed.yaml'), 'v1');
    const changes = replaceDir(
      dir,
      new Map([
        ['same.yaml', 'same'],
        ['changed.yaml', 'v2'],
        ['new.yaml', 'n'],
      ]),
    );
    expect(readTree(dir)).toEqual({ 'changed.yaml': 'v2', 'new.yaml': 'n', 'same.yaml': 'same' });
    expect(changes.map((c) => [c.file, c.change])).toEqual([
      ['changed.yaml', 'updated'],
      ['gone.yaml', 'removed'],
      ['new.yaml', 'created'],
      ['same.yaml', 'unchanged'],
    ]);
  });

  it('leaves the old directory whole when writing the new one fails', () => {
    const parent = mkdtempSync(join(tmpdir(), 'bf-replace-fail-'));
    const dir = join(parent, 'dist');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.yaml'), 'old');
    // A file name that cannot be created (a directory path inside the staging dir) makes the write fail.
    expect(() =>
      replaceDir(
        dir,
        new Map([
          ['a.yaml', 'new'],
          ['missing/b.yaml', 'x'],
        ]),
      ),
    ).toThrow();
    expect(readTree(dir)).toEqual({ 'a.yaml': 'old' });
    expect(readdirSync(parent)).toEqual(['dist']);
  });

  it('does not touch the directory when nothing changed', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'bf-replace-same-')), 'dist');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.yaml'), 'x');
    const before = statSync(dir).ino;
    expect(replaceDir(dir, new Map([['a.yaml', 'x']]))[0]!.change).toBe('unchanged');
    // a swap would have given the directory a new inode
    expect(statSync(dir).ino).toBe(before);
    expect(replaceDir(dir, new Map([['a.yaml', 'y']]))[0]!.change).toBe('updated');
    expect(statSync(dir).ino).not.toBe(before);
  });
});
