import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotRefName } from '../../runner/observe/snapshot-ref.ts';
import { fingerprint } from '../../core/kube/normalize.ts';
import { cli } from '../helpers/cli.ts';
import { MIRRORS, startLocalWorld, type LocalWorld } from '../helpers/git-mirror-cli-world.ts';
import { removeFixtures } from '../helpers/registry-fixture.ts';

// `git-mirror sync|flush|status --local`, as the stage Job's pod runs them: real sshd upstream, real
// CONNECT proxy, real bare repositories.

let w: LocalWorld;
const scratch: string[] = [];
beforeAll(async () => {
  w = await startLocalWorld();
});
afterAll(async () => {
  await w.dispose();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
  removeFixtures();
});

const run = (argv: string[]) => cli(['git-mirror', ...argv], { cwd: w.root, env: w.env });
const local = (stage: string, ...flags: string[]) => run([stage, '--local', '--mirror-dir', w.mirrorDir, ...flags]);

/** Every file under the mirror cache, path → sha256: "nothing was written" is a byte-level claim. */
function hashTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile())
      out[relative(dir, join(e.parentPath, e.name))] = createHash('sha256')
        .update(readFileSync(join(e.parentPath, e.name)))
        .digest('hex');
  }
  return out;
}

const tips = () => Promise.all(MIRRORS.map(async (m) => (await w.ssh.refSha(m.path, `refs/heads/${m.branch}`))!));

describe('git-mirror sync --local over real SSH through a real CONNECT proxy', () => {
  it('without --dry-run or --confirm says what it would do, writes nothing and exits 4', async () => {
    const before = hashTree(w.mirrorDir);
    const r = await local('sync');
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^hwlab\s+v0\.3\s+-\s+[0-9a-f]{12}\s+would fetch\s+hwlab-node-runtime would create$/m);
    expect(r.stderr).toContain('`git-mirror sync` writes; nothing was written. Re-run with --confirm');
    expect(hashTree(w.mirrorDir)).toEqual(before);
  });

  it('--dry-run reads the upstream, reports the same plan, writes nothing and exits 0', async () => {
    const before = hashTree(w.mirrorDir);
    const r = await local('sync', '--dry-run');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('(dry run: nothing was fetched or written)');
    for (const m of MIRRORS)
      expect(r.stdout).toMatch(
        new RegExp(
          `^${m.id}\\s+${m.branch.replace('.', '\\.')}\\s+-\\s+[0-9a-f]{12}\\s+would fetch\\s+${m.adapter} ` +
            `would create$`,
          'm',
        ),
      );
    expect(hashTree(w.mirrorDir)).toEqual(before);
  });

  it('--confirm fetches every branch and creates one snapshot per tip through the proxy; a second run is a no-op', async () => {
    const connects = w.proxy.connectCount();
    const first = await local('sync', '--confirm');
    expect(first.stderr).not.toContain('error');
    expect(first.code).toBe(0);
    expect(w.proxy.connectCount()).toBeGreaterThan(connects);
    const shas = await tips();
    for (const [i, m] of MIRRORS.entries()) {
      expect(first.stdout).toMatch(
        new RegExp(`^${m.id}\\s+\\S+\\s+-\\s+${shas[i]!.slice(0, 12)}\\s+fetched\\s+${m.adapter} created$`, 'm'),
      );
      expect(await w.cacheRefs(m.path)).toEqual({
        [`refs/mirror-stage/${m.branch}`]: shas[i],
        [snapshotRefName(m.adapter, m.branch, shas[i]!)]: shas[i],
      });
    }

    const before = hashTree(w.mirrorDir);
    const again = await local('sync', '--confirm', '-o', 'json');
    expect(again.code).toBe(0);
    const data = JSON.parse(again.stdout);
    expect(data.mirrors.map((m: any) => m.fetched[0].from === m.fetched[0].to)).toEqual([true, true, true]);
    expect(data.mirrors.flatMap((m: any) => m.snapshots.map((s: any) => s.action))).toEqual([
      'exists',
      'exists',
      'exists',
    ]);
    expect(hashTree(w.mirrorDir)).toEqual(before);
  });

  it('--mirror syncs one mirror only, and a new upstream commit gets its own snapshot', async () => {
    const next = await w.ssh.commit('pikasTech/HWLAB.git', 'v0.3', 'two');
    const r = await local('sync', '--confirm', '--mirror', 'hwlab');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^hwlab\\s+v0\\.3\\s+[0-9a-f]{12}\\s+${next.slice(0, 12)}\\s+fetched\\s+hwlab-node-runtime created$`,
        'm',
      ),
    );
    expect(r.stdout).not.toMatch(/^agentrun\s/m);
    expect((await w.cacheRefs('pikasTech/HWLAB.git'))[snapshotRefName('hwlab-node-runtime', 'v0.3', next)]).toBe(next);
  });

  it('--ssh-dir overrides gitMirror.sshMountPath: an empty one fails the transport, exit 5, naming the key', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'bf-empty-ssh-'));
    scratch.push(empty);
    const r = await local('sync', '--confirm', '--mirror', 'agentrun', '--ssh-dir', empty);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/^failed: mirror agentrun \(GitMirrorTransport\)/m);
    expect(r.stderr).toContain(
      `the SSH identity ${join(empty, 'identity', 'id_ed25519')} (controller.source.githubSsh.identity, mounted ` +
        `under gitMirror.sshMountPath) cannot be read: ENOENT`,
    );
  });
});

describe('git-mirror flush --local', () => {
  it(
    'fast-forwards the GitOps ref upstream, never forced, and records it; a non-fast-forward is refused ' +
      'with exit 5',
    async () => {
      // GIVEN upstream gitops at A, and the mirror's gitops at B, a child of A (as a control plane publishes it)
      const hwlab = MIRRORS[0];
      const a = await w.ssh.commit(hwlab.path, 'gitops/jd01-v03', 'gitops A');
      await w.cacheGit(hwlab.path, [
        'fetch',
        '-q',
        `file://${w.ssh.repoPath(hwlab.path)}`,
        `${hwlab.gitopsRef}:${hwlab.gitopsRef}`,
      ]);
      const tree = await w.cacheGit(hwlab.path, ['mktree']);
      const b = await w.cacheGit(hwlab.path, ['commit-tree', tree, '-p', a, '-m', 'gitops B']);
      await w.cacheGit(hwlab.path, ['update-ref', hwlab.gitopsRef, b]);

      const r = await local('flush', '--confirm', '--follower', hwlab.follower);
      expect(r.stderr).not.toContain('error');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(
          `^hwlab-jd01-v03\\s+hwlab\\s+refs/heads/gitops/jd01-v03\\s+fast-forward\\s+${b.slice(0, 12)}\\s+${b.slice(0, 12)}` +
            `\\s+true\\s+true\\s+false\\s+-\\s+-\\s+-\\s+fast-forwarded refs/heads/gitops/jd01-v03 upstream to ${b}$`,
          'm',
        ),
      );
      expect(await w.ssh.refSha(hwlab.path, hwlab.gitopsRef)).toBe(b);
      expect((await w.cacheRefs(hwlab.path))['refs/mirror-stage/gitops/jd01-v03']).toBe(b);

      // WHEN upstream moves to a commit the mirror's gitops does not descend from THEN the flush is refused
      const c = await w.ssh.commit(hwlab.path, 'gitops/jd01-v03', 'someone else');
      const d = await w.cacheGit(hwlab.path, ['commit-tree', tree, '-p', b, '-m', 'gitops D']);
      await w.cacheGit(hwlab.path, ['update-ref', hwlab.gitopsRef, d]);
      const refused = await local('flush', '--confirm', '--mirror', 'hwlab');
      expect(refused.code).toBe(5);
      expect(refused.stdout).toMatch(/^failed: follower hwlab-jd01-v03 \(GitMirrorNonFastForward\)/m);
      expect(refused.stderr).toContain('a non-fast-forward flush is refused and never forced; nothing was pushed');
      expect(await w.ssh.refSha(hwlab.path, hwlab.gitopsRef)).toBe(c);
      await w.cacheGit(hwlab.path, ['update-ref', hwlab.gitopsRef, b]); // leave the mirror as flushed for status
    },
  );

  it('a dry run says it would fast-forward and pushes nothing (exit 0)', async () => {
    const agentrun = MIRRORS[1];
    const tip = (await w.ssh.refSha(agentrun.path, `refs/heads/${agentrun.branch}`))!;
    await w.cacheGit(agentrun.path, ['update-ref', agentrun.gitopsRef, tip]);
    const r = await local('flush', '--dry-run', '--follower', agentrun.follower);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^agentrun-jd01-v02\\s+agentrun\\s+refs/heads/gitops/jd01-v02\\s+fast-forward\\s+${tip.slice(0, 12)}` +
          `\\s+-\\s+false\\s+false\\s+true\\s+.*would fast-forward`,
        'm',
      ),
    );
    expect(await w.ssh.refSha(agentrun.path, agentrun.gitopsRef)).toBeUndefined();
    await w.cacheGit(agentrun.path, ['update-ref', '-d', agentrun.gitopsRef]);
  });
});

describe('git-mirror status --local', () => {
  it('shows every field per follower branch and the transport by fingerprint, never a byte of the key', async () => {
    const shas = await tips();
    const flushed = (await w.cacheRefs('pikasTech/HWLAB.git'))['refs/heads/gitops/jd01-v03']!;
    const outputs = await Promise.all(
      [['-o', 'wide'], ['-o', 'json'], ['-o', 'yaml'], []].map((f) => local('status', ...f)),
    );
    for (const o of outputs) {
      expect(o.code).toBe(0);
      for (const line of w.privateKey.split('\n').filter((l) => l.trim().length > 0 && !l.startsWith('-----'))) {
        expect(o.stdout + o.stderr).not.toContain(line);
      }
      expect(o.stdout + o.stderr).not.toContain(Buffer.from(w.privateKey).toString('base64').slice(0, 40));
    }
    const table = outputs[0]!.stdout;
    expect(table).toMatch(
      new RegExp(
        `^hwlab-jd01-v03\\s+hwlab\\s+v0\\.3\\s+${shas[0]!.slice(0, 12)}\\s+\\d+s ` +
          `ago\\s+present\\s+refs/heads/gitops/jd01-v03\\s+${flushed.slice(0, 12)}\\s+false\\s+true$`,
        'm',
      ),
    );
    expect(table).toMatch(
      /^agentrun-jd01-v02\s+agentrun\s+v0\.2\s+[0-9a-f]{12}\s+\d+s ago\s+present\s+refs\/heads\/gitops\/jd01-v02\s+-\s+false\s+false$/m,
    );
    const fp = fingerprint(w.privateKey);
    expect(table).toMatch(
      /^transport\s+source=yaml, sourceRef=controller\.source\.githubSsh, transport=ssh, proxy=connect$/m,
    );
    expect(table).toContain(
      `key id_ed25519 present ${fp} (sourceRef=controller.source.githubSsh.identity; file ` +
        `${join(w.sshDir, 'identity', 'id_ed25519')})`,
    );
    expect(table).toMatch(/key known_hosts present sha256:[0-9a-f]{16} /);
    expect(table).toMatch(/^refSources\.githubFieldsAreMirrorStageCache=true$/m);
    expect(outputs[3]!.stdout).toMatch(/^hwlab-jd01-v03\s+v0\.3\s+[0-9a-f]{12}\s+\d+s ago\s+present\s+false\s+true$/m);

    const json = JSON.parse(outputs[1]!.stdout);
    expect(json.refSources).toEqual({ githubFieldsAreMirrorStageCache: true, fetchedAt: 'reflog' });
    expect(json.transport).toMatchObject({
      source: 'yaml',
      transport: 'ssh',
      proxyMode: 'connect',
      identity: { secret: 'git-mirror-github-ssh', key: 'id_ed25519', present: true, fingerprint: fp },
    });
    expect(json.followers[0]).toMatchObject({
      follower: 'hwlab-jd01-v03',
      cacheSha: shas[0],
      snapshot: { present: true },
      gitopsSha: flushed,
      pendingFlush: false,
      githubInSync: true,
    });
    expect(Date.parse(json.followers[0].fetchedAt)).toBeGreaterThan(Date.now() - 600_000);
  });

  it('reads only: a missing cache repository is a failure of that follower (exit 5), the others still show', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'bf-partial-cache-'));
    scratch.push(cache);
    mkdirSync(join(cache, 'pikasTech'));
    const r = await run(['status', '--local', '--mirror-dir', cache, '--follower', 'hwlab-jd01-v03']);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/^failed: follower hwlab-jd01-v03 \(GitMirrorCache\)/m);
    expect(readdirSync(join(cache, 'pikasTech'))).toEqual([]);
  });
});
