import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, MUTATING } from '../helpers/cluster.ts';
import { hermeticGit, startGitServer, type GitServer } from '../../scripts/world/git-server.ts';
import { startSshUpstream, type SshUpstream } from '../../scripts/world/ssh-upstream.ts';
import {
  disposeWorlds,
  eventually,
  exited,
  makePassWorld,
  REPOS,
  type FollowerId,
  type PassWorld,
  type WorldServers,
} from '../helpers/pass-world.ts';

// --expect-sha on the real API server and real git: run-once syncs the mirror until it serves the
// sha a pipeline pushed, then runs its pass; status only reads the mirror; both end with exit 5
// naming the lag when the sha never comes, and a pass that never saw it triggers nothing.

let git: GitServer;
let ssh: SshUpstream;
let servers: WorldServers;
beforeAll(async () => {
  [git, ssh] = await Promise.all([startGitServer(), startSshUpstream()]);
  servers = { git, ssh };
});
afterAll(async () => {
  disposeWorlds();
  await Promise.all([git.dispose(), ssh.dispose()]);
});

const id: FollowerId = 'agentrun-jd01-v02';
const stage = `refs/mirror-stage/${REPOS[id].branch}`;
/** A budget of a few seconds, so that a sha that never comes ends the wait soon. */
const shortBudget = [{ from: 'expectSha:\n    waitSeconds: 120', to: 'expectSha:\n    waitSeconds: 3' }];
/** A commit on the follower's branch upstream only: the mirror serves it after its next sync. */
const pushUpstream = (w: PassWorld) =>
  ssh.commit(w.repoOf(id), REPOS[id].branch, `pipeline ${Date.now()} ${Math.random()}`);
const writes = (ns: string) =>
  auditEvents((e) => MUTATING.has(e.verb) && !e.requestURI.includes('dryRun=') && e.objectRef?.namespace === ns);

/**
 * A commit made upstream on the follower's branch tip but not on the branch yet (what a pipeline has between `git
 * commit` and `git push`): its sha, and `land()`, which moves the branch onto it.
 */
async function prepared(w: PassWorld) {
  const dir = ssh.repoPath(w.repoOf(id));
  const branch = `refs/heads/${REPOS[id].branch}`;
  const who = { GIT_AUTHOR_NAME: 'p', GIT_AUTHOR_EMAIL: 'p@example.invalid', GIT_COMMITTER_NAME: 'p' };
  const env = { ...who, GIT_COMMITTER_EMAIL: 'p@example.invalid' };
  const parent = (await ssh.refSha(w.repoOf(id), branch))!;
  const tree = (await hermeticGit(['--git-dir', dir, 'mktree'], { home: git.home, input: '' })).trim();
  const message = `pipeline ${Date.now()} ${Math.random()}`;
  const sha = (
    await hermeticGit(['--git-dir', dir, 'commit-tree', tree, '-p', parent, '-m', message], { home: git.home, env })
  ).trim();
  const land = () => hermeticGit(['--git-dir', dir, 'update-ref', branch, sha, parent], { home: git.home });
  return { sha, land };
}

describe('--expect-sha', () => {
  it('run-once --confirm syncs until the mirror serves a sha pushed while it waits, then triggers it once', async () => {
    const w = await makePassWorld(servers, 'expect');
    const before = await w.push(id, { snapshot: true });
    const next = await prepared(w);
    const child = w.spawn(['run-once', '--follower', id, '--confirm', '--expect-sha', next.sha.toUpperCase()]);
    const behind = `is at ${before.slice(0, 12)}, not ${next.sha.slice(0, 12)} nor a descendant of it yet`;
    await eventually('the wait says the mirror is behind', () => child.output().includes(behind));
    expect(w.triggersOf(id)).toEqual([]);
    await next.land();
    expect(await exited(child), child.output()).toBe(0);
    expect(child.output()).toMatch(
      new RegExp(`expect-sha: mirror \\S+, branch \\S+: serves ${next.sha.slice(0, 12)} at its tip`),
    );
    expect(w.triggersOf(id).map((t) => t.sha)).toEqual([next.sha]);
  }, 60_000);

  it('a push on top of the sha counts: the mirror serves it under a descendant, and the pass triggers the tip', async () => {
    const w = await makePassWorld(servers, 'expect-on-top');
    await w.push(id, { snapshot: true });
    const mine = await prepared(w);
    await mine.land();
    const theirs = await pushUpstream(w);
    const r = await w.run(['run-once', '--follower', id, '--confirm', '--expect-sha', mine.sha, '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`serves ${mine.sha.slice(0, 12)} under its tip ${theirs.slice(0, 12)}, a descendant`);
    expect(JSON.parse(r.stdout)).toMatchObject({ expectSha: { sha: mine.sha, tip: theirs, servedAt: 'ancestor' } });
    expect(w.triggersOf(id).map((t) => t.sha)).toEqual([theirs]);
  }, 60_000);

  it('a sha that never comes: exit 5 naming the lag and the budget, nothing triggered, no pass ran', async () => {
    const w = await makePassWorld(servers, 'expect-never', shortBudget);
    await w.push(id, { snapshot: true });
    const before = writes(w.ns).length;
    const r = await w.run(['run-once', '--follower', id, '--confirm', '--expect-sha', 'a'.repeat(40)]);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(
      new RegExp(
        `--expect-sha ${'a'.repeat(40)}: the mirror lags by more than 3s \\(controller\\.expectSha\\.waitSeconds\\): ` +
          'mirror \\S+, branch \\S+: is at [0-9a-f]{12}, not aaaaaaaaaaaa nor a descendant of it yet',
      ),
    );
    expect(w.triggersOf(id)).toEqual([]);
    // No Lease taken, no record, no Event: the pass never started.
    expect(writes(w.ns).slice(before)).toEqual([]);

    // A dry run reads the mirror only: a sha the upstream has but the mirror does not is never served.
    const tip = await w.mirrorRef(id, stage);
    const upstreamOnly = await pushUpstream(w);
    const dry = await w.run(['run-once', '--follower', id, '--dry-run', '--expect-sha', upstreamOnly]);
    expect(dry.code, dry.stderr).toBe(5);
    expect(dry.stderr).toContain('the mirror lags by more than 3s');
    expect(await w.mirrorRef(id, stage)).toBe(tip);
    expect(writes(w.ns).slice(before)).toEqual([]);
  }, 60_000);

  it('status reads the mirror only: it waits for a sha under the tip, and never syncs one the upstream has', async () => {
    const w = await makePassWorld(servers, 'expect-status', shortBudget);
    const older = await w.push(id, { snapshot: true });
    const tip = await w.push(id); // on top of `older`, in the mirror too
    const before = writes(w.ns).length;
    const r = await w.run(['status', '--follower', id, '--expect-sha', older, '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`serves ${older.slice(0, 12)} under its tip ${tip.slice(0, 12)}, a descendant`);
    expect(JSON.parse(r.stdout)).toMatchObject({ expectSha: { sha: older, tip, servedAt: 'ancestor' } });

    const upstreamOnly = await pushUpstream(w);
    const late = await w.run(['status', '--follower', id, '--expect-sha', upstreamOnly]);
    expect(late.code).toBe(5);
    expect(late.stderr).toMatch(/the mirror lags by more than 3s \(controller\.expectSha\.waitSeconds\)/);
    // The mirror still serves the old tip: status synced nothing, and wrote nothing to the cluster.
    expect(await w.mirrorRef(id, stage)).toBe(tip);
    expect(writes(w.ns).slice(before)).toEqual([]);
  }, 60_000);

  it('refuses, before it connects, a sha that is not a full sha and a wait without its follower', async () => {
    const w = await makePassWorld(servers, 'expect-usage');
    const short = await w.run(['run-once', '--follower', id, '--confirm', '--expect-sha', 'abc1234']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('--expect-sha "abc1234": must be a full commit sha, 40 hex characters');
    const all = await w.run(['run-once', '--all', '--confirm', '--expect-sha', 'a'.repeat(40)]);
    expect(all.code).toBe(2);
    expect(all.stderr).toContain("--expect-sha waits on one follower's branch: name it with --follower <id>");
    const alone = await w.run(['status', '--follower', id]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain('--follower names the follower --expect-sha waits on: it needs --expect-sha');
  });
});
