import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GitError } from '../../core/git/error.ts';
import { GitMirrorError, GitMirrorReason } from '../../runner/git-mirror/errors.ts';
import { flush, flushMany, type FlushManyOptions, type FlushOptions } from '../../runner/git-mirror/flush.ts';
import { mirrorStatus } from '../../runner/git-mirror/status.ts';
import { sync, type SyncOptions } from '../../runner/git-mirror/sync.ts';
import { snapshotRefName } from '../../runner/observe/snapshot-ref.ts';
import { countingPath } from '../../scripts/bench/counting-path.ts';
import { hermeticGit } from '../../scripts/world/git-server.ts';

// Real git on real bare repositories: an "upstream" reached over file:// and a bare mirror cache.
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
const IDENTITY = {
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@test.invalid',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@test.invalid',
};
const ADAPTER = 'hwlab-node-runtime';
const realGit = () => execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

interface World {
  readonly upstreamDir: string;
  readonly mirrorDir: string;
  readonly url: string;
  git(repo: string, args: string[]): Promise<string>;
  /** A new commit on `branch` in `repo` (parent: the branch tip, or `parent`); returns its sha. */
  commit(repo: string, branch: string, message: string, parent?: string | null): Promise<string>;
  refs(repo: string): Promise<Record<string, string>>;
  syncOpts(over?: Partial<SyncOptions>): SyncOptions;
  flushOpts(over?: Partial<FlushOptions>): FlushOptions;
}

async function world(): Promise<World> {
  const root = mkdtempSync(join(tmpdir(), 'bf-git-mirror-test-'));
  roots.push(root);
  const upstreamDir = join(root, 'upstream.git');
  const mirrorDir = join(root, 'mirror.git');
  const git = (repo: string, args: string[]) =>
    hermeticGit([`--git-dir=${repo}`, ...args], { home: root, env: IDENTITY });
  await hermeticGit(['init', '--bare', '-q', upstreamDir], { home: root });
  await hermeticGit(['init', '--bare', '-q', mirrorDir], { home: root });
  const w: World = {
    upstreamDir,
    mirrorDir,
    url: `file://${upstreamDir}`,
    git,
    async commit(repo, branch, message, parent) {
      const tip =
        parent === undefined
          ? await git(repo, ['rev-parse', '--verify', '-q', `refs/heads/${branch}`]).catch(() => '')
          : (parent ?? '');
      const sha = await git(repo, ['commit-tree', EMPTY_TREE, '-m', message, ...(tip ? ['-p', tip] : [])]);
      await git(repo, ['update-ref', `refs/heads/${branch}`, sha]);
      return sha;
    },
    async refs(repo) {
      const out = await git(repo, ['for-each-ref', '--format=%(refname) %(objectname)']);
      return Object.fromEntries(
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' ') as [string, string]),
      );
    },
    syncOpts: (over = {}) => ({
      mirrorDir,
      upstreamUrl: `file://${upstreamDir}`,
      branches: ['main'],
      snapshots: [{ adapter: ADAPTER, branch: 'main' }],
      transportEnv: {},
      timeoutMs: 30_000,
      dryRun: false,
      ...over,
    }),
    flushOpts: (over = {}) => ({
      mirrorDir,
      upstreamUrl: `file://${upstreamDir}`,
      gitopsRef: 'refs/heads/gitops',
      transportEnv: {},
      timeoutMs: 30_000,
      dryRun: false,
      recheck: { delayMs: 50 },
      ...over,
    }),
  };
  return w;
}

/** Every file under `dir`, path → sha256 of its bytes. */
function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out[relative(dir, path)] = createHash('sha256').update(readFileSync(path)).digest('hex');
  }
  return out;
}

const snapshotRefs = (refs: Record<string, string>) =>
  Object.keys(refs)
    .filter((r) => r.startsWith('refs/unidesk/snapshots/'))
    .sort();

describe('git-mirror sync against real bare repositories', () => {
  it('creates the cache repository on a fresh claim; a dry run only says it would', async () => {
    const w = await world();
    const a = await w.commit(w.upstreamDir, 'main', 'a');
    const fresh = join(w.mirrorDir, '..', 'fresh', 'owner', 'repo.git');
    const dry = await sync(w.syncOpts({ mirrorDir: fresh, dryRun: true }));
    expect(dry).toMatchObject({ dryRun: true, createdCache: true, fetched: [{ branch: 'main', from: null, to: a }] });
    expect(existsSync(fresh)).toBe(false);
    const made = await sync(w.syncOpts({ mirrorDir: fresh }));
    expect(made).toMatchObject({ createdCache: true, snapshots: [{ sha: a, action: 'created' }] });
    expect((await w.refs(fresh))['refs/mirror-stage/main']).toBe(a);
    expect((await sync(w.syncOpts({ mirrorDir: fresh }))).createdCache).toBe(false);
  });

  it('creates exactly one snapshot per new tip, and a re-sync is a no-op', async () => {
    const w = await world();
    const a = await w.commit(w.upstreamDir, 'main', 'a');
    await w.commit(w.upstreamDir, 'other', 'not declared');
    const first = await sync(w.syncOpts());
    expect(first).toEqual({
      dryRun: false,
      createdCache: false,
      fetched: [{ branch: 'main', from: null, to: a }],
      snapshots: [{ ref: snapshotRefName(ADAPTER, 'main', a), sha: a, action: 'created' }],
    });
    const refs = await w.refs(w.mirrorDir);
    expect(refs).toEqual({ 'refs/mirror-stage/main': a, [snapshotRefName(ADAPTER, 'main', a)]: a });

    const unchanged = hashTree(w.mirrorDir);
    const again = await sync(w.syncOpts());
    expect(hashTree(w.mirrorDir)).toEqual(unchanged);
    expect(again.fetched).toEqual([{ branch: 'main', from: a, to: a }]);
    expect(again.snapshots).toEqual([{ ref: snapshotRefName(ADAPTER, 'main', a), sha: a, action: 'exists' }]);
    expect(await w.refs(w.mirrorDir)).toEqual(refs);

    const b = await w.commit(w.upstreamDir, 'main', 'b');
    const third = await sync(w.syncOpts());
    expect(third.fetched).toEqual([{ branch: 'main', from: a, to: b }]);
    expect(third.snapshots).toEqual([{ ref: snapshotRefName(ADAPTER, 'main', b), sha: b, action: 'created' }]);
    expect(snapshotRefs(await w.refs(w.mirrorDir))).toEqual(
      [snapshotRefName(ADAPTER, 'main', a), snapshotRefName(ADAPTER, 'main', b)].sort(),
    );
  });

  it('a read of the mirror as served that holds every tip and snapshot ends the sync on it; any other is not trusted', async () => {
    const w = await world();
    const a = await w.commit(w.upstreamDir, 'main', 'a');
    await sync(w.syncOpts());
    const asServed = async () => new Map(Object.entries(await w.refs(w.mirrorDir)));
    const served = await asServed();

    // Settled on the served read: the cache itself is not read (a directory that is no repository
    // would fail for-each-ref), nothing is written, and the read is handed back for the look.
    const notARepo = mkdtempSync(join(tmpdir(), 'bf-not-a-repo-'));
    roots.push(notARepo);
    const ended = await sync(w.syncOpts({ mirrorDir: notARepo, served: async () => served }));
    expect(ended.served).toBe(served);
    expect(ended.fetched).toEqual([{ branch: 'main', from: a, to: a }]);
    expect(readdirSync(notARepo)).toEqual([]);

    // A served read behind the upstream, or none at all: the sync plans from the cache as always.
    const b = await w.commit(w.upstreamDir, 'main', 'b');
    const behind = await sync(w.syncOpts({ served: async () => served }));
    expect(behind.served).toBeUndefined();
    expect(behind.fetched).toEqual([{ branch: 'main', from: a, to: b }]);
    expect(behind.snapshots).toEqual([{ ref: snapshotRefName(ADAPTER, 'main', b), sha: b, action: 'created' }]);
    const c = await w.commit(w.upstreamDir, 'main', 'c');
    const unreadable = await sync(w.syncOpts({ served: async () => undefined }));
    expect(unreadable.served).toBeUndefined();
    expect(unreadable.snapshots).toEqual([{ ref: snapshotRefName(ADAPTER, 'main', c), sha: c, action: 'created' }]);
    expect((await sync(w.syncOpts({ served: asServed }))).served).toBeDefined();
  });

  it('a forced upstream rewrite moves refs/mirror-stage but never an existing snapshot', async () => {
    const w = await world();
    const a = await w.commit(w.upstreamDir, 'main', 'a');
    const b = await w.commit(w.upstreamDir, 'main', 'b');
    await sync(w.syncOpts());
    // Rewrite: main reset to a sibling of b (not a descendant).
    const c = await w.commit(w.upstreamDir, 'main', 'c', a);
    const r = await sync(w.syncOpts());
    expect(r.fetched).toEqual([{ branch: 'main', from: b, to: c }]);
    expect(r.snapshots).toEqual([{ ref: snapshotRefName(ADAPTER, 'main', c), sha: c, action: 'created' }]);
    const refs = await w.refs(w.mirrorDir);
    expect(refs['refs/mirror-stage/main']).toBe(c);
    expect(refs[snapshotRefName(ADAPTER, 'main', b)]).toBe(b);
    expect(refs[snapshotRefName(ADAPTER, 'main', c)]).toBe(c);
  });

  it('a snapshot ref holding another commit is an error naming both shas, and nothing is written', async () => {
    const w = await world();
    const a = await w.commit(w.upstreamDir, 'main', 'a');
    const b = await w.commit(w.upstreamDir, 'main', 'b');
    await sync(w.syncOpts());
    // Someone wrote the snapshot ref of a future tip with the wrong commit.
    const c = await w.commit(w.upstreamDir, 'main', 'c');
    await w.git(w.mirrorDir, ['update-ref', snapshotRefName(ADAPTER, 'main', c), a]);
    const before = hashTree(w.mirrorDir);
    const error = await sync(w.syncOpts()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitMirrorError);
    expect(error).toMatchObject({
      reason: GitMirrorReason.SnapshotMoved,
      ref: snapshotRefName(ADAPTER, 'main', c),
      existingSha: a,
      newSha: c,
    });
    expect(hashTree(w.mirrorDir)).toEqual(before);
    expect((await w.refs(w.mirrorDir))['refs/mirror-stage/main']).toBe(b);
  });

  it('a dry run reports the same result and leaves the mirror directory byte-identical', async () => {
    const w = await world();
    const a = await w.commit(w.upstreamDir, 'main', 'a');
    await sync(w.syncOpts());
    const b = await w.commit(w.upstreamDir, 'main', 'b');
    const before = hashTree(w.mirrorDir);
    const dry = await sync(w.syncOpts({ dryRun: true }));
    expect(hashTree(w.mirrorDir)).toEqual(before);
    expect(dry).toEqual({
      dryRun: true,
      createdCache: false,
      fetched: [{ branch: 'main', from: a, to: b }],
      snapshots: [{ ref: snapshotRefName(ADAPTER, 'main', b), sha: b, action: 'created' }],
    });
    const real = await sync(w.syncOpts());
    expect({ ...real, dryRun: true }).toEqual(dry);
  });

  it('a declared branch missing upstream fails before anything is fetched', async () => {
    const w = await world();
    await w.commit(w.upstreamDir, 'main', 'a');
    const error = await sync(w.syncOpts({ branches: ['main', 'gone'] })).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: GitMirrorReason.BranchMissing });
    expect(await w.refs(w.mirrorDir)).toEqual({});
  });

  it('an unreachable upstream is a retryable GitMirrorError with git’s message', async () => {
    const w = await world();
    const error = await sync(w.syncOpts({ upstreamUrl: `file://${w.upstreamDir}.missing` })).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: GitMirrorReason.Upstream, retryable: true });
    expect((error as GitMirrorError).message).toMatch(/does not appear to be a git repository|not found|No such file/i);
    expect((error as GitMirrorError).cause).toBeInstanceOf(GitError);
  });
});

/** The real git, found on this process's PATH as the tests started. */
const REAL_GIT = (process.env.PATH ?? '')
  .split(':')
  .map((dir) => join(dir, 'git'))
  .find((file) => existsSync(file))!;

/** Before the first run of a subcommand, real git runs `args` once (another writer, racing the sync). */
interface Race {
  readonly before: 'fetch' | 'update-ref';
  readonly args: readonly string[];
}

// A `git` first on the sync's PATH that logs each command line and runs the real git: it counts the
// processes a sync starts (git's own children run from its exec-path, not through PATH, so only the
// sync's own calls are logged). A race makes it write a ref just before the sync's fetch or update-ref.
function countingGit(w: World, race?: Race) {
  const dir = mkdtempSync(join(w.mirrorDir, '..', 'counting-git-'));
  const log = join(dir, 'calls.log');
  const hook =
    race === undefined
      ? ''
      : `case " $* " in *" ${race.before} "*) if [ ! -e "${dir}/raced" ]; then : > "${dir}/raced"; ` +
        `"${REAL_GIT}" ${race.args.map((a) => `'${a}'`).join(' ')} || exit 99; fi ;; esac\n`;
  writeFileSync(join(dir, 'git'), `#!/bin/sh\nprintf '%s\\n' "$*" >> "${log}"\n${hook}exec "${REAL_GIT}" "$@"\n`, {
    mode: 0o755,
  });
  return {
    pathEnv: `${dir}:${process.env.PATH}`,
    /** The subcommand of every git the sync started, in order (what follows `-c k=v` and `--git-dir=`). */
    calls(): string[] {
      if (!existsSync(log)) return [];
      return readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const words = line.split(' ');
          for (let i = 0; i < words.length; i++) {
            if (words[i] === '-c') i++;
            else if (!words[i]!.startsWith('--git-dir=')) return words[i]!;
          }
          return '';
        });
    },
  };
}

/** Followers of `n` adapters on main: one snapshot each per tip. */
const adapters = (n: number) => Array.from({ length: n }, (_, i) => ({ adapter: `adapter-${i}`, branch: 'main' }));

describe('git processes of one sync', () => {
  it('nothing moved upstream: a for-each-ref and an ls-remote, no fetch, no write', async () => {
    const w = await world();
    const a = await w.commit(w.upstreamDir, 'main', 'a');
    await sync(w.syncOpts({ snapshots: adapters(3) }));
    const unchanged = hashTree(w.mirrorDir);
    const git = countingGit(w);
    const r = await sync(w.syncOpts({ snapshots: adapters(3), pathEnv: git.pathEnv }));
    expect(git.calls()).toEqual(['for-each-ref', 'ls-remote']);
    expect(hashTree(w.mirrorDir)).toEqual(unchanged);
    expect(r.fetched).toEqual([{ branch: 'main', from: a, to: a }]);
    expect(r.snapshots.map((s) => s.action)).toEqual(['exists', 'exists', 'exists']);
  });

  it('many new snapshots: one fetch and one update-ref, whatever the number of followers', async () => {
    const w = await world();
    await w.commit(w.upstreamDir, 'main', 'a');
    await sync(w.syncOpts({ snapshots: adapters(40) }));
    const b = await w.commit(w.upstreamDir, 'main', 'b');
    const git = countingGit(w);
    const r = await sync(w.syncOpts({ snapshots: adapters(40), pathEnv: git.pathEnv }));
    expect(git.calls()).toEqual(['for-each-ref', 'ls-remote', 'fetch', 'update-ref']);
    expect(r.snapshots).toHaveLength(40);
    expect(r.snapshots.every((s) => s.action === 'created' && s.sha === b)).toBe(true);
    const refs = await w.refs(w.mirrorDir);
    expect(refs['refs/mirror-stage/main']).toBe(b);
    for (const { adapter } of adapters(40)) expect(refs[snapshotRefName(adapter, 'main', b)]).toBe(b);
  });

  it('a new follower on an unmoved branch gets its snapshot without a fetch', async () => {
    const w = await world();
    const a = await w.commit(w.upstreamDir, 'main', 'a');
    await sync(w.syncOpts());
    const git = countingGit(w);
    const r = await sync(
      w.syncOpts({ snapshots: [...adapters(1), { adapter: ADAPTER, branch: 'main' }], pathEnv: git.pathEnv }),
    );
    expect(git.calls()).toEqual(['for-each-ref', 'ls-remote', 'update-ref']);
    expect(r.snapshots.map((s) => s.action)).toEqual(['created', 'exists']);
    expect((await w.refs(w.mirrorDir))[snapshotRefName('adapter-0', 'main', a)]).toBe(a);
  });

  it('a snapshot written with another commit just before the transaction: refused, and none of the others is written', async () => {
    const w = await world();
    const a = await w.commit(w.upstreamDir, 'main', 'a');
    await sync(w.syncOpts({ snapshots: adapters(5) }));
    const b = await w.commit(w.upstreamDir, 'main', 'b');
    const wrong = snapshotRefName('adapter-3', 'main', b);
    const git = countingGit(w, { before: 'update-ref', args: [`--git-dir=${w.mirrorDir}`, 'update-ref', wrong, a] });
    const error = await sync(w.syncOpts({ snapshots: adapters(5), pathEnv: git.pathEnv })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitMirrorError);
    expect(error).toMatchObject({ reason: GitMirrorReason.SnapshotMoved, ref: wrong, existingSha: a, newSha: b });
    expect(git.calls()).toEqual(['for-each-ref', 'ls-remote', 'fetch', 'update-ref', 'for-each-ref']);
    const refs = await w.refs(w.mirrorDir);
    expect(refs[wrong]).toBe(a);
    expect(snapshotRefs(refs).filter((r) => r.endsWith(`/${b}`))).toEqual([wrong]);
  });

  it('a snapshot another sync created first with the same commit: the rest are created, it is reported as existing', async () => {
    const w = await world();
    await w.commit(w.upstreamDir, 'main', 'a');
    await sync(w.syncOpts({ snapshots: adapters(3) }));
    const b = await w.commit(w.upstreamDir, 'main', 'b');
    const raced = snapshotRefName('adapter-1', 'main', b);
    const git = countingGit(w, { before: 'update-ref', args: [`--git-dir=${w.mirrorDir}`, 'update-ref', raced, b] });
    const r = await sync(w.syncOpts({ snapshots: adapters(3), pathEnv: git.pathEnv }));
    expect(r.snapshots.map((s) => [s.ref, s.action])).toEqual([
      [snapshotRefName('adapter-0', 'main', b), 'created'],
      [raced, 'exists'],
      [snapshotRefName('adapter-2', 'main', b), 'created'],
    ]);
    expect(git.calls()).toEqual(['for-each-ref', 'ls-remote', 'fetch', 'update-ref', 'for-each-ref', 'update-ref']);
    const refs = await w.refs(w.mirrorDir);
    for (const { adapter } of adapters(3)) expect(refs[snapshotRefName(adapter, 'main', b)]).toBe(b);
  });

  it('upstream moved between ls-remote and the fetch: the result and the snapshots follow what the fetch stored', async () => {
    const w = await world();
    const a = await w.commit(w.upstreamDir, 'main', 'a');
    await sync(w.syncOpts());
    const b = await w.commit(w.upstreamDir, 'main', 'b');
    // c is made now but becomes the upstream tip only once the sync has listed b.
    const c = await w.git(w.upstreamDir, ['commit-tree', EMPTY_TREE, '-p', b, '-m', 'c']);
    const git = countingGit(w, {
      before: 'fetch',
      args: [`--git-dir=${w.upstreamDir}`, 'update-ref', 'refs/heads/main', c],
    });
    const r = await sync(w.syncOpts({ pathEnv: git.pathEnv }));
    expect(r.fetched).toEqual([{ branch: 'main', from: a, to: c }]);
    expect(r.snapshots).toEqual([{ ref: snapshotRefName(ADAPTER, 'main', c), sha: c, action: 'created' }]);
    const refs = await w.refs(w.mirrorDir);
    expect(refs['refs/mirror-stage/main']).toBe(c);
    expect(refs[snapshotRefName(ADAPTER, 'main', b)]).toBeUndefined();
    expect(git.calls()).toEqual(['for-each-ref', 'ls-remote', 'fetch', 'update-ref', 'for-each-ref', 'update-ref']);
  });
});

describe('how git is run', () => {
  it('the transport env reaches git: forbidding the file protocol there makes the sync fail', async () => {
    const w = await world();
    await w.commit(w.upstreamDir, 'main', 'a');
    const error = await sync(w.syncOpts({ transportEnv: { GIT_ALLOW_PROTOCOL: 'ssh' } })).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: GitMirrorReason.Upstream });
    expect((error as Error).message).toMatch(/transport 'file' not allowed/);
  });

  it('the transport env may not replace the hermetic variables', async () => {
    const w = await world();
    await expect(sync(w.syncOpts({ transportEnv: { GIT_CONFIG_GLOBAL: '/tmp/x', GIT_DIR: '/tmp' } }))).rejects.toThrow(
      /may not set GIT_CONFIG_GLOBAL, GIT_DIR/,
    );
  });

  it('git variables of this process do not reach git', async () => {
    const w = await world();
    const a = await w.commit(w.upstreamDir, 'main', 'a');
    const saved = { ...process.env };
    process.env.GIT_DIR = join(w.upstreamDir, 'nowhere');
    process.env.GIT_ALLOW_PROTOCOL = 'ssh';
    try {
      expect((await sync(w.syncOpts())).fetched).toEqual([{ branch: 'main', from: null, to: a }]);
    } finally {
      delete process.env.GIT_DIR;
      delete process.env.GIT_ALLOW_PROTOCOL;
      Object.assign(process.env, saved);
    }
  });

  it('a transport that does not answer is killed after timeoutMs', async () => {
    const w = await world();
    const ssh = join(w.upstreamDir, '..', 'hang-ssh');
    writeFileSync(ssh, '#!/bin/sh\nexec sleep 3\n', { mode: 0o755 });
    const started = Date.now();
    const error = await sync(
      w.syncOpts({ upstreamUrl: 'ssh://git@example.invalid/r.git', transportEnv: { GIT_SSH: ssh }, timeoutMs: 300 }),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ reason: GitMirrorReason.Upstream, retryable: true });
    expect((error as Error).message).toMatch(/no answer within 300ms, git was killed/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

/** Upstream `gitops` at g0, synced into the mirror; the mirror's refs/heads/gitops one commit ahead. */
/**
 * A post-push recheck whose upstream really disappears after the push and comes back before the
 * recovery (real git failures); `attempts` records which rechecks ran.
 */
function vanishingUpstream(w: World, attempts: number[]) {
  const away = `${w.upstreamDir}.away`;
  return {
    delayMs: 50,
    read: async <T>(attempt: 1 | 2, readUpstream: () => Promise<T>): Promise<T> => {
      attempts.push(attempt);
      if (attempt === 1) renameSync(w.upstreamDir, away);
      else renameSync(away, w.upstreamDir);
      return readUpstream();
    },
  };
}

async function gitopsWorld() {
  const w = await world();
  await w.commit(w.upstreamDir, 'main', 'a');
  const g0 = await w.commit(w.upstreamDir, 'gitops', 'g0');
  await sync(w.syncOpts({ branches: ['main', 'gitops'] }));
  const g1 = await w.commit(w.mirrorDir, 'gitops', 'g1', g0);
  return { w, g0, g1 };
}

describe('git-mirror flush against real bare repositories', () => {
  it('fast-forwards upstream, rechecks it and records it in the mirror-stage cache', async () => {
    const { w, g0, g1 } = await gitopsWorld();
    const mirrorBefore = hashTree(w.mirrorDir);
    const upstreamBefore = hashTree(w.upstreamDir);
    const dry = await flush(w.flushOpts({ dryRun: true }));
    expect(hashTree(w.mirrorDir)).toEqual(mirrorBefore);
    expect(hashTree(w.upstreamDir)).toEqual(upstreamBefore);
    expect(dry).toMatchObject({
      ok: false,
      dryRun: true,
      action: 'fast-forward',
      pushed: false,
      upstreamBefore: g0,
      pendingFlush: true,
      githubInSync: false,
    });
    expect((await w.refs(w.upstreamDir))['refs/heads/gitops']).toBe(g0);

    const r = await flush(w.flushOpts());
    expect(r).toMatchObject({
      ok: true,
      action: 'fast-forward',
      pushed: true,
      localSha: g1,
      upstreamBefore: g0,
      upstreamSha: g1,
      githubInSync: true,
      pendingFlush: false,
      partialSuccess: null,
      partialSuccessRecovered: null,
      postPushRecovery: null,
    });
    expect((await w.refs(w.upstreamDir))['refs/heads/gitops']).toBe(g1);
    expect((await w.refs(w.mirrorDir))['refs/mirror-stage/gitops']).toBe(g1);

    const again = await flush(w.flushOpts());
    expect(again).toMatchObject({
      ok: true,
      action: 'up-to-date',
      pushed: false,
      githubInSync: true,
      pendingFlush: false,
    });
  });

  it('refuses a non-fast-forward, says it never forces, and leaves upstream unchanged', async () => {
    const { w, g0 } = await gitopsWorld();
    const other = await w.commit(w.upstreamDir, 'gitops', 'someone else', g0);
    const error = await flush(w.flushOpts()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitMirrorError);
    expect(error).toMatchObject({ reason: GitMirrorReason.NonFastForward, retryable: false, existingSha: other });
    expect((error as Error).message).toMatch(/never forced/);
    expect((await w.refs(w.upstreamDir))['refs/heads/gitops']).toBe(other);
  });

  it('a recheck failure after a good push recovers with one controlled recheck', async () => {
    const { w, g1 } = await gitopsWorld();
    const attempts: number[] = [];
    const r = await flush(w.flushOpts({ recheck: vanishingUpstream(w, attempts) }));
    expect(attempts).toEqual([1, 2]);
    expect(r).toMatchObject({
      ok: true,
      pushed: true,
      partialSuccess: 'push-succeeded-fetch-failed',
      partialSuccessRecovered: true,
      postPushRecovery: { attempts: 1 },
      githubInSync: true,
      pendingFlush: false,
      upstreamSha: g1,
    });
    expect(Number.isNaN(Date.parse(r.postPushRecovery!.at))).toBe(false);
    expect((await w.refs(w.mirrorDir))['refs/mirror-stage/gitops']).toBe(g1);
  });

  it('a recheck failure that persists gives ok=false and names the sync command', async () => {
    const { w, g0, g1 } = await gitopsWorld();
    const away = `${w.upstreamDir}.away`;
    try {
      const r = await flush(
        w.flushOpts({
          recheck: {
            delayMs: 50,
            read: async (attempt, readUpstream) => {
              if (attempt === 1) renameSync(w.upstreamDir, away);
              return readUpstream();
            },
          },
        }),
      );
      expect(r).toMatchObject({
        ok: false,
        pushed: true,
        partialSuccess: 'push-succeeded-fetch-failed',
        partialSuccessRecovered: false,
        postPushRecovery: null,
        githubInSync: false,
        pendingFlush: true,
      });
      expect(r.message).toContain('branch-follower git-mirror sync --confirm --wait');
      expect((await w.refs(w.mirrorDir))['refs/mirror-stage/gitops']).toBe(g0);
    } finally {
      renameSync(away, w.upstreamDir);
    }
    expect((await w.refs(w.upstreamDir))['refs/heads/gitops']).toBe(g1);
  });
});

/**
 * One mirror with six GitOps refs against its upstream: `same` equal, `behind` one commit behind the
 * mirror's, `fresh` absent upstream, `diverged` rebuilt in the mirror off the upstream's commit,
 * `foreign` moved upstream by someone else (a commit the mirror does not have), `missing` never
 * published into the mirror.
 */
async function manyRefsWorld() {
  const w = await world();
  const ref = (name: string) => `refs/heads/gitops/${name}`;
  const before: Record<string, string> = {};
  for (const name of ['same', 'behind', 'diverged', 'foreign'])
    before[name] = await w.commit(w.upstreamDir, `gitops/${name}`, `${name} 0`);
  await w.git(w.mirrorDir, ['fetch', '-q', w.url, 'refs/heads/gitops/*:refs/heads/gitops/*']);
  const local: Record<string, string> = { same: before.same! };
  local.behind = await w.commit(w.mirrorDir, 'gitops/behind', 'behind 1');
  local.fresh = await w.commit(w.mirrorDir, 'gitops/fresh', 'fresh 1');
  local.diverged = await w.commit(w.mirrorDir, 'gitops/diverged', 'diverged rebuilt', null);
  const foreign = await w.commit(w.upstreamDir, 'gitops/foreign', 'someone else');
  local.foreign = await w.commit(w.mirrorDir, 'gitops/foreign', 'foreign 1');
  const refs = ['same', 'behind', 'fresh', 'diverged', 'foreign', 'missing'].map(ref);
  const many = (over: Partial<FlushManyOptions> = {}): FlushManyOptions => {
    const { gitopsRef: _, recheck: __, ...one } = w.flushOpts();
    return { ...one, recheck: { delayMs: 50 }, gitopsRefs: refs, ...over };
  };
  return { w, ref, before, local, foreign, refs, many };
}

describe('git-mirror flush of many refs of one mirror', () => {
  it('pushes every ref in one go: each ends on its own, and a refused one holds back no other', async () => {
    const { w, ref, before, local, foreign, many } = await manyRefsWorld();
    const r = await flushMany(many());
    expect(r.get(ref('same'))).toMatchObject({ ok: true, action: 'up-to-date', pushed: false, githubInSync: true });
    for (const name of ['behind', 'fresh']) {
      expect(r.get(ref(name))).toMatchObject({
        ok: true,
        action: 'fast-forward',
        pushed: true,
        localSha: local[name],
        upstreamBefore: before[name] ?? null,
        upstreamSha: local[name],
        githubInSync: true,
        pendingFlush: false,
        partialSuccess: null,
      });
    }
    expect(r.get(ref('diverged'))).toMatchObject({
      reason: GitMirrorReason.NonFastForward,
      existingSha: before.diverged,
      newSha: local.diverged,
    });
    // The upstream commit is not in the mirror at all: git says "fetch first", which is the same refusal.
    expect(r.get(ref('foreign'))).toMatchObject({ reason: GitMirrorReason.NonFastForward, existingSha: foreign });
    expect(r.get(ref('missing'))).toMatchObject({ reason: GitMirrorReason.Cache });
    const upstream = await w.refs(w.upstreamDir);
    expect(upstream).toMatchObject({
      [ref('same')]: before.same,
      [ref('behind')]: local.behind,
      [ref('fresh')]: local.fresh,
      [ref('diverged')]: before.diverged,
      [ref('foreign')]: foreign,
    });
    const cache = await w.refs(w.mirrorDir);
    for (const name of ['same', 'behind', 'fresh']) expect(cache[`refs/mirror-stage/gitops/${name}`]).toBe(local[name]);
    expect(cache['refs/mirror-stage/gitops/diverged']).toBeUndefined();
    expect(cache['refs/mirror-stage/gitops/foreign']).toBeUndefined();
  });

  it('starts as many git processes for six refs as for one', async () => {
    const counts: number[] = [];
    for (const size of [1, 6]) {
      const { w, refs, many } = await manyRefsWorld();
      const path = countingPath(join(w.mirrorDir, '..', 'counting'), { git: realGit() });
      // Both batches push and record: `behind` first, then the other five.
      const gitopsRefs = size === 1 ? [refs[1]!] : [refs[1]!, ...refs.filter((_, i) => i !== 1)];
      const r = await flushMany(many({ gitopsRefs, pathEnv: `${path.dir}:${process.env.PATH}` }));
      expect(r.get(refs[1]!)).toMatchObject({ ok: true, pushed: true });
      counts.push(path.counts().git!);
    }
    expect(counts[0]).toBeGreaterThanOrEqual(5); // for-each-ref, ls-remote, push, ls-remote, update-ref
    expect(counts[1]).toBe(counts[0]);
  });

  it('a dry run reports each ref as the flush would end it and writes nothing', async () => {
    const { w, ref, local, many } = await manyRefsWorld();
    const mirrorBefore = hashTree(w.mirrorDir);
    const upstreamBefore = hashTree(w.upstreamDir);
    const r = await flushMany(many({ dryRun: true }));
    expect(hashTree(w.mirrorDir)).toEqual(mirrorBefore);
    expect(hashTree(w.upstreamDir)).toEqual(upstreamBefore);
    expect(r.get(ref('same'))).toMatchObject({ ok: true, dryRun: true, action: 'up-to-date' });
    for (const name of ['behind', 'fresh'])
      expect(r.get(ref(name))).toMatchObject({
        ok: false,
        dryRun: true,
        action: 'fast-forward',
        localSha: local[name],
      });
    for (const name of ['diverged', 'foreign'])
      expect(r.get(ref(name))).toMatchObject({ reason: GitMirrorReason.NonFastForward });
    expect(r.get(ref('missing'))).toMatchObject({ reason: GitMirrorReason.Cache });
  });

  it('one recheck covers every pushed ref: a failure gets the one controlled recheck for all of them', async () => {
    const { w, ref, local, many } = await manyRefsWorld();
    const attempts: number[] = [];
    const r = await flushMany(many({ recheck: vanishingUpstream(w, attempts) }));
    expect(attempts).toEqual([1, 2]);
    for (const name of ['behind', 'fresh']) {
      expect(r.get(ref(name))).toMatchObject({
        ok: true,
        partialSuccess: 'push-succeeded-fetch-failed',
        partialSuccessRecovered: true,
        postPushRecovery: { attempts: 1 },
        upstreamSha: local[name],
      });
    }
    expect(r.get(ref('same'))).toMatchObject({ ok: true, partialSuccess: null });
    expect(r.get(ref('diverged'))).toMatchObject({ reason: GitMirrorReason.NonFastForward });
  });
});

describe('git-mirror status', () => {
  it('shows every field from the mirror cache alone, without contacting the upstream', async () => {
    const { w, g0, g1 } = await gitopsWorld();
    const a = (await w.refs(w.upstreamDir))['refs/heads/main']!;
    const opts = {
      mirrorDir: w.mirrorDir,
      branches: ['main'],
      snapshots: [
        { adapter: ADAPTER, branch: 'main' },
        { adapter: 'other', branch: 'main' },
      ],
      gitopsRef: 'refs/heads/gitops',
      timeoutMs: 30_000,
    };
    // The upstream is gone: status must not need it.
    rmSync(w.upstreamDir, { recursive: true, force: true });
    const s = await mirrorStatus(opts);
    expect(s.source).toBe('yaml');
    expect(s.transport).toBe('ssh');
    expect(s.refSources).toEqual({ githubFieldsAreMirrorStageCache: true, fetchedAt: 'reflog' });
    expect(s.gitops).toEqual({
      ref: 'refs/heads/gitops',
      sha: g1,
      mirrorStageRef: 'refs/mirror-stage/gitops',
      cacheSha: g0,
    });
    expect(s.branches).toHaveLength(1);
    const row = s.branches[0]!;
    expect(row).toMatchObject({
      branch: 'main',
      mirrorStageRef: 'refs/mirror-stage/main',
      cacheSha: a,
      snapshots: [
        { adapter: ADAPTER, ref: snapshotRefName(ADAPTER, 'main', a), present: true },
        { adapter: 'other', ref: snapshotRefName('other', 'main', a), present: false },
      ],
      gitopsSha: g1,
      pendingFlush: true,
      githubInSync: false,
    });
    expect(Math.abs(Date.parse(row.fetchedAt!) - Date.now())).toBeLessThan(120_000);

    const never = await mirrorStatus({
      ...opts,
      branches: ['never'],
      snapshots: [{ adapter: ADAPTER, branch: 'never' }],
    });
    expect(never.branches[0]).toMatchObject({
      cacheSha: null,
      fetchedAt: null,
      snapshots: [{ adapter: ADAPTER, ref: null, present: false }],
    });
  });

  it('after a flush, status reports githubInSync=true and pendingFlush=false', async () => {
    const { w } = await gitopsWorld();
    expect((await flush(w.flushOpts())).ok).toBe(true);
    const s = await mirrorStatus({
      mirrorDir: w.mirrorDir,
      branches: ['main'],
      snapshots: [],
      gitopsRef: 'refs/heads/gitops',
      timeoutMs: 30_000,
    });
    expect(s.branches[0]).toMatchObject({ pendingFlush: false, githubInSync: true });
  });
});
