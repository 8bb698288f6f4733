import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gitopsRefOf, loadRegistry, type LoadedRegistry } from '../../core/config/load.ts';
import type { Registry } from '../../core/config/schema.ts';
import { GitError } from '../../core/git/error.ts';
import { readMirror } from '../../runner/observe/read-mirror.ts';
import { MirrorError } from '../../runner/observe/mirror-error.ts';
import { observe, type FollowerObservation, type GitopsObserved } from '../../runner/observe/observe.ts';
import { hermeticGit, startGitServer, type GitServer } from '../../scripts/world/git-server.ts';
import { makeFixture, REGISTRY, removeFixtures } from '../helpers/registry-fixture.ts';

// Observation against real git over git:// on loopback. Two daemons: A serves HWLAB (two followers
// share it) plus decoy copies; B serves unidesk. The agentrun mirror is followed by nobody here.
// As git-mirror sync leaves them, each repository holds the branch tips under refs/mirror-stage/
// (what observation reads) and each follower's GitOps ref under refs/heads/gitops/..., confirmed
// upstream when refs/mirror-stage/gitops/... holds the same commit. The mirror's own refs/heads/v0.3
// has moved past its cached copy: it is never the tip.

const PATH = process.env.PATH!;
const OPTS = { timeoutMs: 10_000, pathEnv: PATH, concurrency: 4 };
const HWLAB = 'pikasTech/HWLAB.git';
const UNIDESK = 'pikasTech/unidesk.git';
const DECOY_HWLAB = 'decoy/HWLAB.git';
const MIRROR_HOST = 'git://git-mirror.unidesk-cicd.svc.cluster.local/';

let a: GitServer;
let b: GitServer;
let registry: Registry;
/** follower id → its GitOps ref (refs/heads/gitops/...), from the target entries. */
let gitopsRefs: ReadonlyMap<string, string>;
/** The mirror cache's tips (refs/mirror-stage/<branch>), as the commits were made. */
const tips = { v03: '', v02: '', master: '', v03Old: '', v03Unsynced: '' };
/** GitOps commits: hwlab v0.3's published and confirmed; agentrun v0.2's published over an older confirmed one. */
const gitops = { v03: '', v02Old: '', v02: '' };
const scratch: string[] = [];

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

const refOf = (adapter: string, branch: string, sha: string) => `refs/unidesk/snapshots/${adapter}/${branch}/${sha}`;
const stageOf = (branch: string) => `refs/mirror-stage/${branch}`;
const branchOf = (ref: string) => ref.slice('refs/heads/'.length);
const gitopsRefsOf = (loaded: LoadedRegistry) =>
  new Map(loaded.registry.followers.map((f) => [f.id, gitopsRefOf(loaded, f.id)]));
const gitopsRef = (id: string) => gitopsRefs.get(id)!;

/** Commits onto `branch` (refs/heads) and records the result as git-mirror sync would: refs/mirror-stage/<branch>. */
async function commitSynced(server: GitServer, repo: string, branch: string, message: string): Promise<string> {
  const sha = await server.commit(repo, branch, message);
  await server.setRef(repo, stageOf(branch), sha);
  return sha;
}

/** What observe must report when the mirrors are healthy. */
function expected(): Record<string, FollowerObservation> {
  const g = (id: string, sha: string | null, cacheSha: string | null): GitopsObserved => ({
    ref: gitopsRef(id),
    sha,
    cacheSha,
    pendingFlush: sha !== null && sha !== cacheSha,
    githubInSync: sha !== null && sha === cacheSha,
  });
  return {
    'hwlab-jd01-v03': {
      mirror: 'hwlab',
      url: a.url(HWLAB),
      tip: tips.v03,
      snapshotRef: refOf('hwlab-node-runtime', 'v0.3', tips.v03),
      snapshotPresent: true,
      snapshotSha: tips.v03,
      // Published and confirmed upstream.
      gitops: g('hwlab-jd01-v03', gitops.v03, gitops.v03),
    },
    'agentrun-jd01-v02': {
      mirror: 'hwlab',
      url: a.url(HWLAB),
      tip: tips.v02,
      snapshotRef: refOf('agentrun-yaml-lane', 'v0.2', tips.v02),
      snapshotPresent: false,
      snapshotSha: null,
      // Published; upstream confirmed only the commit before it: pending a flush.
      gitops: g('agentrun-jd01-v02', gitops.v02, gitops.v02Old),
    },
    'web-probe-sentinel-master': {
      mirror: 'unidesk',
      url: b.url(UNIDESK),
      tip: tips.master,
      snapshotRef: refOf('web-probe-sentinel-cicd', 'master', tips.master),
      snapshotPresent: true,
      snapshotSha: tips.master,
      // Nothing published yet.
      gitops: g('web-probe-sentinel-master', null, null),
    },
  };
}

beforeAll(async () => {
  [a, b] = await Promise.all([startGitServer(), startGitServer()]);
  await a.createRepo(HWLAB);
  tips.v03Old = await commitSynced(a, HWLAB, 'v0.3', 'hwlab v0.3 one');
  await a.setRef(HWLAB, refOf('hwlab-node-runtime', 'v0.3', tips.v03Old), tips.v03Old);
  tips.v03 = await commitSynced(a, HWLAB, 'v0.3', 'hwlab v0.3 two');
  await a.setRef(HWLAB, refOf('hwlab-node-runtime', 'v0.3', tips.v03), tips.v03);
  // The mirror's own branch ref moves on; its cached copy (the tip) does not until the next sync.
  tips.v03Unsynced = await a.commit(HWLAB, 'v0.3', 'hwlab v0.3 three, not synced');
  tips.v02 = await commitSynced(a, HWLAB, 'v0.2', 'hwlab v0.2 one');
  // Decoys: what a leaked url.insteadOf would make git read instead of the mirror.
  await a.createRepo(DECOY_HWLAB);
  await commitSynced(a, DECOY_HWLAB, 'v0.3', 'decoy v0.3');
  await commitSynced(a, DECOY_HWLAB, 'v0.2', 'decoy v0.2');
  await b.createRepo(UNIDESK);
  tips.master = await commitSynced(b, UNIDESK, 'master', 'unidesk master one');
  await b.setRef(UNIDESK, refOf('web-probe-sentinel-cicd', 'master', tips.master), tips.master);

  const { root } = makeFixture([
    { from: `${MIRROR_HOST}pikasTech/HWLAB.git`, to: a.url(HWLAB) },
    { from: `${MIRROR_HOST}pikasTech/agentrun.git`, to: a.url('pikasTech/agentrun.git') },
    { from: `${MIRROR_HOST}pikasTech/unidesk.git`, to: b.url(UNIDESK) },
    // The second follower moves onto the hwlab mirror, so two followers share one URL.
    {
      from: 'source: { repo: pikasTech/agentrun, branch: v0.2, mirror: agentrun }',
      to: 'source: { repo: pikasTech/HWLAB, branch: v0.2, mirror: hwlab }',
    },
  ]);
  const loaded = loadRegistry(REGISTRY, root);
  registry = loaded.registry;
  gitopsRefs = gitopsRefsOf(loaded);

  // The GitOps refs (both HWLAB followers publish into the HWLAB mirror): v0.3's confirmed upstream,
  // v0.2's published over the one upstream confirmed; the sentinel has published nothing.
  gitops.v03 = await commitSynced(a, HWLAB, branchOf(gitopsRef('hwlab-jd01-v03')), 'gitops v0.3 one');
  gitops.v02Old = await commitSynced(a, HWLAB, branchOf(gitopsRef('agentrun-jd01-v02')), 'gitops v0.2 one');
  gitops.v02 = await a.commit(HWLAB, branchOf(gitopsRef('agentrun-jd01-v02')), 'gitops v0.2 two, not flushed');
});

afterAll(async () => {
  await Promise.all([a?.dispose(), b?.dispose()]);
  removeFixtures();
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('observe against a real git mirror', () => {
  it(
    "reads each follower's branch tip (refs/mirror-stage/<branch>), its snapshot ref and its GitOps ref from " +
      'the mirror',
    async () => {
      const observation = await observe(registry, gitopsRefs, OPTS);
      expect(Object.fromEntries(observation)).toEqual(expected());
      // The mirror's own refs/heads/v0.3 moved past its cached copy; observation did not take it.
      const refs = await readMirror(a.url(HWLAB), { timeoutMs: 10_000, pathEnv: PATH, mirror: 'hwlab' });
      expect([refs.get('refs/heads/v0.3'), refs.get(stageOf('v0.3'))]).toEqual([tips.v03Unsynced, tips.v03]);
    },
  );

  it('follows the GitOps ref as it is published and flushed: pending, then in sync', async () => {
    const id = 'web-probe-sentinel-master';
    const ref = gitopsRef(id);
    const cache = stageOf(branchOf(ref));
    try {
      const published = await b.commit(UNIDESK, branchOf(ref), 'gitops sentinel one');
      expect((await observe(registry, gitopsRefs, OPTS)).get(id)).toMatchObject({
        tip: tips.master,
        gitops: { ref, sha: published, cacheSha: null, pendingFlush: true, githubInSync: false },
      });
      // git-mirror flush confirmed it upstream.
      await b.setRef(UNIDESK, cache, published);
      expect((await observe(registry, gitopsRefs, OPTS)).get(id)).toMatchObject({
        gitops: { ref, sha: published, cacheSha: published, pendingFlush: false, githubInSync: true },
      });
      // The next publish is pending again, over the confirmed one.
      const next = await b.commit(UNIDESK, branchOf(ref), 'gitops sentinel two');
      expect((await observe(registry, gitopsRefs, OPTS)).get(id)).toMatchObject({
        gitops: { sha: next, cacheSha: published, pendingFlush: true, githubInSync: false },
      });
    } finally {
      await b.deleteRef(UNIDESK, ref);
      await b.deleteRef(UNIDESK, cache).catch(() => undefined);
    }
    expect(Object.fromEntries(await observe(registry, gitopsRefs, OPTS))).toEqual(expected());
  });

  it('runs exactly one git ls-remote per mirror URL, however many followers share it', async () => {
    const before = {
      a: a.connectionCount(),
      b: b.connectionCount(),
      aReq: a.requests().length,
      bReq: b.requests().length,
    };
    await observe(registry, gitopsRefs, OPTS);
    expect(a.connectionCount() - before.a).toBe(1);
    expect(b.connectionCount() - before.b).toBe(1);
    expect(a.requests().slice(before.aReq)).toEqual([`/${HWLAB}`]);
    expect(b.requests().slice(before.bReq)).toEqual([`/${UNIDESK}`]);
  });

  it('reports a branch the mirror does not have as tip null', async () => {
    const { root } = makeFixture([
      { from: `${MIRROR_HOST}pikasTech/HWLAB.git`, to: a.url(HWLAB) },
      { from: `${MIRROR_HOST}pikasTech/agentrun.git`, to: a.url('pikasTech/agentrun.git') },
      { from: `${MIRROR_HOST}pikasTech/unidesk.git`, to: b.url(UNIDESK) },
      {
        from: 'source: { repo: pikasTech/agentrun, branch: v0.2, mirror: agentrun }',
        to: 'source: { repo: pikasTech/HWLAB, branch: no-such-branch, mirror: hwlab }',
      },
    ]);
    const loaded = loadRegistry(REGISTRY, root);
    const observation = await observe(loaded.registry, gitopsRefsOf(loaded), OPTS);
    expect(observation.get('agentrun-jd01-v02')).toEqual({
      mirror: 'hwlab',
      url: a.url(HWLAB),
      tip: null,
      snapshotRef: null,
      snapshotPresent: false,
      snapshotSha: null,
    });
    expect(observation.get('hwlab-jd01-v03')).toEqual(expected()['hwlab-jd01-v03']);
  });

  it(
    'a branch the mirror has under refs/heads/ but git-mirror sync never cached (no refs/mirror-stage/) ' +
      'is tip null',
    async () => {
      const unsynced = await a.commit(HWLAB, 'never-synced', 'pushed to the mirror directly');
      await a.setRef(HWLAB, refOf('agentrun-yaml-lane', 'never-synced', unsynced), unsynced);
      try {
        const { root } = makeFixture([
          { from: `${MIRROR_HOST}pikasTech/HWLAB.git`, to: a.url(HWLAB) },
          { from: `${MIRROR_HOST}pikasTech/agentrun.git`, to: a.url('pikasTech/agentrun.git') },
          { from: `${MIRROR_HOST}pikasTech/unidesk.git`, to: b.url(UNIDESK) },
          {
            from: 'source: { repo: pikasTech/agentrun, branch: v0.2, mirror: agentrun }',
            to: 'source: { repo: pikasTech/HWLAB, branch: never-synced, mirror: hwlab }',
          },
        ]);
        const loaded = loadRegistry(REGISTRY, root);
        const observation = await observe(loaded.registry, gitopsRefsOf(loaded), OPTS);
        expect(observation.get('agentrun-jd01-v02')).toEqual({
          mirror: 'hwlab',
          url: a.url(HWLAB),
          tip: null,
          snapshotRef: null,
          snapshotPresent: false,
          snapshotSha: null,
        });
        // Once sync caches it, it is the tip.
        await a.setRef(HWLAB, stageOf('never-synced'), unsynced);
        expect((await observe(loaded.registry, gitopsRefsOf(loaded), OPTS)).get('agentrun-jd01-v02')).toMatchObject({
          tip: unsynced,
          snapshotPresent: true,
        });
      } finally {
        await a.deleteRef(HWLAB, 'refs/heads/never-synced');
        await a.deleteRef(HWLAB, stageOf('never-synced')).catch(() => undefined);
        await a.deleteRef(HWLAB, refOf('agentrun-yaml-lane', 'never-synced', unsynced));
      }
    },
  );

  it('a stopped mirror fails only its own followers, with a retryable MirrorError, until it is back', async () => {
    await a.stop();
    try {
      const observation = await observe(registry, gitopsRefs, OPTS);
      for (const id of ['hwlab-jd01-v03', 'agentrun-jd01-v02']) {
        const o = observation.get(id)!;
        expect(o).toMatchObject({ mirror: 'hwlab', url: a.url(HWLAB) });
        if (!('error' in o)) throw new Error(`${id} observed a tip from a stopped mirror`);
        expect(o.error).toBeInstanceOf(MirrorError);
        expect(o.error).toMatchObject({
          reason: 'MirrorUnreachable',
          retryable: true,
          mirror: 'hwlab',
          url: a.url(HWLAB),
        });
        expect(o.error.message).toContain('hwlab');
        expect(o.error.message).toContain(a.url(HWLAB));
        expect(o.error.message).toMatch(/Connection refused/);
        expect(o.error.message).toContain('branch-follower git-mirror status');
        // The domain error is built from the one git error, which keeps git's exit code.
        expect(o.error.cause).toBeInstanceOf(GitError);
        expect(o.error.cause).toMatchObject({ subcommand: 'ls-remote', exitCode: 128, timedOut: false });
      }
      // Both followers of the mirror carry the one error of its one read.
      const [x, y] = ['hwlab-jd01-v03', 'agentrun-jd01-v02'].map((id) => observation.get(id) as { error: MirrorError });
      expect(x!.error).toBe(y!.error);
      expect(observation.get('web-probe-sentinel-master')).toEqual(expected()['web-probe-sentinel-master']);
    } finally {
      await a.restart();
    }
    expect(Object.fromEntries(await observe(registry, gitopsRefs, OPTS))).toEqual(expected());
  });

  it('a mirror that accepts but never answers is killed at the timeout and reported', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const error = await readMirror(`git://127.0.0.1:${port}/${HWLAB}`, {
        timeoutMs: 500,
        pathEnv: PATH,
        mirror: 'hwlab',
      }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error).toBeInstanceOf(MirrorError);
      expect((error as MirrorError).message).toContain('no answer within 500ms');
      expect((error as MirrorError).cause).toMatchObject({ timedOut: true, signal: 'SIGKILL' });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

describe("observe ignores the caller's directory and git environment", () => {
  const savedCwd = process.cwd();
  const savedEnv = { ...process.env };
  const POISON = [
    'GIT_DIR',
    'GIT_WORK_TREE',
    'GIT_CONFIG_GLOBAL',
    'GIT_CONFIG_SYSTEM',
    'GIT_CONFIG_COUNT',
    'GIT_CONFIG_KEY_0',
    'GIT_CONFIG_VALUE_0',
    'HOME',
    'XDG_CONFIG_HOME',
    'TMPDIR',
  ];

  afterEach(() => {
    process.chdir(savedCwd);
    for (const k of POISON) {
      if (savedEnv[k] === undefined) delete process.env[k];
      else process.env[k] = savedEnv[k];
    }
  });

  /** A stale checkout of the HWLAB mirror, with uncommitted work, whose config rewrites the mirror URL. */
  async function staleDirtyCheckout(): Promise<string> {
    const dev = join(tempDir('bf-dev-dir-'), 'HWLAB');
    await hermeticGit(['clone', '--quiet', a.url(HWLAB), dev], { home: a.home });
    await hermeticGit(['checkout', '--quiet', '-B', 'v0.3', tips.v03Old], { home: a.home, cwd: dev });
    writeFileSync(join(dev, 'staged.txt'), 'uncommitted\n');
    await hermeticGit(['add', 'staged.txt'], { home: a.home, cwd: dev });
    writeFileSync(join(dev, 'untracked.txt'), 'untracked\n');
    await hermeticGit(['config', `url.${a.url('decoy/')}.insteadOf`, a.url('pikasTech/')], { home: a.home, cwd: dev });
    return dev;
  }

  /** A global config (and a HOME holding one) that rewrites the mirror URL to the decoy. */
  function decoyConfig(): { file: string; home: string } {
    const home = tempDir('bf-dev-home-');
    const text = `[url "${a.url('decoy/')}"]\n\tinsteadOf = ${a.url('pikasTech/')}\n`;
    writeFileSync(join(home, '.gitconfig'), text);
    mkdirSync(join(home, '.config', 'git'), { recursive: true });
    writeFileSync(join(home, '.config', 'git', 'config'), text);
    return { file: join(home, '.gitconfig'), home };
  }

  it('a dirty, stale checkout as cwd and poisoned GIT_* variables change nothing', async () => {
    const dev = await staleDirtyCheckout();
    const decoy = decoyConfig();
    const devTmp = join(dev, 'tmp');
    mkdirSync(devTmp);
    process.chdir(dev);
    Object.assign(process.env, {
      GIT_DIR: join(dev, '.git'),
      GIT_WORK_TREE: dev,
      GIT_CONFIG_GLOBAL: decoy.file,
      GIT_CONFIG_SYSTEM: decoy.file,
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: `url.${a.url('decoy/')}.insteadOf`,
      GIT_CONFIG_VALUE_0: a.url('pikasTech/'),
      HOME: decoy.home,
      XDG_CONFIG_HOME: join(decoy.home, '.config'),
      // Even the scratch directory of ls-remote lands inside the checkout.
      TMPDIR: devTmp,
    });

    // Control: a git that inherits this environment is fooled (reads the decoy), so the poison is real.
    const naive = await execa('git', ['ls-remote', a.url(HWLAB), 'refs/heads/v0.3']);
    expect(naive.stdout.split('\t')[0]).not.toBe(tips.v03);

    const observation = await observe(registry, gitopsRefs, OPTS);
    expect(Object.fromEntries(observation)).toEqual(expected());
    // The checkout is still stale and dirty: observing read it, touched it, and left nothing in it.
    expect(await hermeticGit(['rev-parse', 'HEAD'], { home: a.home, cwd: dev })).toBe(tips.v03Old);
    expect(await hermeticGit(['status', '--porcelain'], { home: a.home, cwd: dev })).toBe(
      'A  staged.txt\n?? untracked.txt',
    );
    expect(readdirSync(devTmp)).toEqual([]);
  });

  it('a broken checkout as cwd and a GIT_DIR that is no repository change nothing', async () => {
    const broken = tempDir('bf-broken-dev-');
    writeFileSync(join(broken, '.git'), 'gitdir: /nonexistent/branch-follower/.git\n');
    process.chdir(broken);
    Object.assign(process.env, { GIT_DIR: join(broken, 'missing.git'), GIT_WORK_TREE: join(broken, 'nowhere') });

    // Control: an inheriting git cannot even start here.
    await expect(execa('git', ['status'])).rejects.toThrow();

    expect(Object.fromEntries(await observe(registry, gitopsRefs, OPTS))).toEqual(expected());
  });
});
