import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStateRecord } from '../../runner/state-record.ts';
import { resourceType } from '../../core/kube/resources.ts';
import { adminClient, auditEvents, MUTATING } from '../helpers/cluster.ts';
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

const CM = resourceType('v1', 'ConfigMap');

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

async function record(w: PassWorld, id: FollowerId) {
  const cm = await adminClient().get(CM, w.ns, 'branch-follower-state-0');
  const text = (cm?.data as Record<string, string> | undefined)?.[id];
  if (text === undefined) return undefined;
  const parsed = parseStateRecord(text);
  if ('error' in parsed) throw new Error(`record of ${id}: ${parsed.error}`);
  return parsed.record;
}

/** Writes that reached storage in the world's namespace (dry runs excluded). */
const writes = (ns: string) =>
  auditEvents((e) => MUTATING.has(e.verb) && !e.requestURI.includes('dryRun=') && e.objectRef?.namespace === ns);

describe('run-once against a real API server, a real git mirror and fake control planes', () => {
  it('--dry-run gives Noop, PendingTrigger and Blocked for the three first followers and writes nothing', async () => {
    const w = await makePassWorld(servers, 'dry');
    const hwlab = await w.push('hwlab-jd01-v03', { snapshot: true });
    await w.push('agentrun-jd01-v02', { snapshot: true });
    await w.push('web-probe-sentinel-master'); // no snapshot ref yet
    w.configure({ lanes: { 'hwlab:v03': { initialTargetSha: hwlab } } });
    const before = writes(w.ns).length;

    const r = await w.run(['run-once', '--all', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^hwlab-jd01-v03\s+hwlab-node-runtime\s+v0\.3\s+Noop\s+UpToDate/m);
    expect(r.stdout).toMatch(/^agentrun-jd01-v02\s+agentrun-yaml-lane\s+v0\.2\s+PendingTrigger\s+NewSha/m);
    expect(r.stdout).toMatch(
      /^web-probe-sentinel-master\s+web-probe-sentinel-cicd\s+master\s+Blocked\s+SnapshotMissing/m,
    );
    expect(writes(w.ns).slice(before)).toEqual([]); // no state, no Lease, no Event
    expect(w.fake.triggers()).toEqual([]);
    expect(await record(w, 'agentrun-jd01-v02')).toBeUndefined();
  });

  it('a pass with a watch window (--controller) triggers a push made during the window, once, and ends before the next tick', async () => {
    const w = await makePassWorld(servers, 'window', [
      {
        from: '      enabled: false\n      intervalSeconds: 5\n      marginSeconds: 10',
        to: '      enabled: true\n      intervalSeconds: 1\n      marginSeconds: 10',
      },
    ]);
    const id = 'agentrun-jd01-v02';
    const first = await w.push(id, { snapshot: true });
    // The window ends 10 s before the next minute: start early enough in a minute for a push to fit.
    const second = new Date().getUTCSeconds();
    if (second > 40) await new Promise((r) => setTimeout(r, (60 - second) * 1000 + 200));
    const started = Date.now();
    const child = w.spawn(['run-once', '--follower', id, '--confirm', '--controller']);
    await eventually('the first trigger', () => w.triggersOf(id).length === 1);
    const pushed = await w.push(id);
    await eventually('the pushed sha triggered in the window', () => w.triggersOf(id).some((t) => t.sha === pushed));
    expect(await exited(child), child.output()).toBe(0);
    const ended = Date.now();
    // It ended 10 s before the next tick, give or take one look.
    const nextTick = Math.ceil(started / 60_000) * 60_000;
    expect(ended).toBeLessThanOrEqual(nextTick - 10_000 + 3_000);
    expect(w.triggersOf(id).map((t) => t.sha)).toEqual([first, pushed]);
    expect(child.output()).toMatch(/watch window: looking every 1s until \S+ \(10s before the next pass/);
  }, 120_000);

  it('a new sha is triggered exactly once over five passes, and closes out Succeeded with timings', async () => {
    const w = await makePassWorld(servers, 'once');
    const sha = await w.push('agentrun-jd01-v02', { snapshot: true });
    w.configure({ lanes: { 'agentrun:jd01-v02': { runSeconds: 1 } } });
    for (let i = 0; i < 5; i++) {
      const r = await w.run(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm', '--wait']);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(w.triggersOf('agentrun-jd01-v02').map((t) => t.sha)).toEqual([sha]);
    const rec = (await record(w, 'agentrun-jd01-v02'))!;
    // After its closeout the follower is settled (its branch did not move): it stays Succeeded, and
    // the passes after it do not ask the adapter.
    expect(rec).toMatchObject({ phase: 'Succeeded', lastTriggeredSha: sha, lastSucceededSha: sha, targetSha: sha });
    expect(rec.history.map((t) => t.to)).toEqual(['PendingTrigger', 'Triggering', 'ClosingOut', 'Succeeded']);
    expect(rec.timings).toMatchObject({ sha, budgetMs: 120_000 });
    expect(rec.timings!.triggerToRunDoneMs).toBeGreaterThan(0);
  });

  it(
    'triggers with the snapshot a sync made, and closes out only once the published GitOps commit is ' +
      'flushed upstream',
    async () => {
      const w = await makePassWorld(servers, 'flush');
      const { gitopsRef, adapter, branch } = REPOS['hwlab-jd01-v03'];
      const sha = await w.push('hwlab-jd01-v03'); // upstream only: no snapshot yet
      w.configure({ lanes: { 'hwlab:v03': { runSeconds: 1 } } });
      const r = await w.run(['run-once', '--follower', 'hwlab-jd01-v03', '--confirm', '--wait']);
      expect(r.code, r.stderr).toBe(0);
      const snapshot = `refs/unidesk/snapshots/${adapter}/${branch}/${sha}`;
      expect(r.stderr).toMatch(/\[mirror hwlab\] sync: .*1 snapshot\(s\) created/);
      expect(w.triggersOf('hwlab-jd01-v03').map((t) => t.snapshotRef)).toEqual([snapshot]);
      expect(await w.mirrorRef('hwlab-jd01-v03', snapshot)).toBe(sha);
      // The run published a GitOps commit into the mirror; the pass flushed it before Succeeded.
      const published = await w.mirrorRef('hwlab-jd01-v03', gitopsRef);
      expect(published).toMatch(/^[0-9a-f]{40}$/);
      expect(await w.upstreamRef('hwlab-jd01-v03', gitopsRef)).toBe(published);
      expect(await w.mirrorRef('hwlab-jd01-v03', `refs/mirror-stage/${gitopsRef.slice('refs/heads/'.length)}`)).toBe(
        published,
      );
      expect(r.stderr).toMatch(/\[hwlab-jd01-v03\] flush refs\/heads\/gitops\/jd01-v03/);
      expect(r.stderr.indexOf('flush: fast-forwarded')).toBeLessThan(r.stderr.indexOf('ClosingOut -> Succeeded'));
      expect(r.stderr.indexOf('flush: fast-forwarded')).toBeGreaterThan(-1);
      expect((await record(w, 'hwlab-jd01-v03'))!).toMatchObject({ phase: 'Succeeded', lastSucceededSha: sha });
    },
  );

  it('a flush the upstream refuses (non-fast-forward) never closes out: Failed BudgetExceeded, upstream untouched', async () => {
    const w = await makePassWorld(servers, 'noff', [{ from: /budgetSeconds: 120/g, to: 'budgetSeconds: 15' }]);
    const { gitopsRef } = REPOS['agentrun-jd01-v02'];
    const repo = w.repoOf('agentrun-jd01-v02');
    // Someone else moved the upstream GitOps branch to a commit the mirror's publish does not descend from.
    const foreign = await ssh.commit(repo, gitopsRef.slice('refs/heads/'.length), `foreign ${Date.now()}`);
    await w.push('agentrun-jd01-v02');
    w.configure({ lanes: { 'agentrun:jd01-v02': { runSeconds: 1 } } });
    const r = await w.run(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm', '--wait']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(
      /flush failed: upstream refs\/heads\/gitops\/jd01-v02 is at [0-9a-f]{40}, which is not an ancestor .* never forced/,
    );
    expect(r.stdout).toMatch(/^agentrun-jd01-v02\s+Failed\s+BudgetExceeded/m);
    expect((await record(w, 'agentrun-jd01-v02'))!.message).toMatch(/waiting for mirrorFlushed, githubInSync/);
    expect(await w.upstreamRef('agentrun-jd01-v02', gitopsRef)).toBe(foreign);
  });

  it('an unreachable upstream fails the sync: MirrorSyncFailed, nothing triggered, exit 5', async () => {
    const w = await makePassWorld(servers, 'sync-down');
    await w.push('web-probe-sentinel-master');
    await ssh.stop();
    try {
      const r = await w.run(['run-once', '--follower', 'web-probe-sentinel-master', '--confirm']);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(
        /\[mirror unidesk\] sync failed: git-mirror ls-remote of ssh:\/\/\S+ failed: .*Connection refused/,
      );
      expect(r.stdout).toMatch(/^web-probe-sentinel-master\s+\S+\s+MirrorSyncFailed/m);
      expect(w.fake.triggers()).toEqual([]);
    } finally {
      await ssh.restart();
    }
  });

  it('a repeated sha is never triggered again, even when the branch is reset to it', async () => {
    const w = await makePassWorld(servers, 'repeat');
    const a = await w.push('hwlab-jd01-v03', { snapshot: true });
    expect((await w.run(['run-once', '--follower', 'hwlab-jd01-v03', '--confirm', '--wait'])).code).toBe(0);
    const b = await w.push('hwlab-jd01-v03', { snapshot: true });
    expect((await w.run(['run-once', '--follower', 'hwlab-jd01-v03', '--confirm', '--wait'])).code).toBe(0);
    await hermeticGit(['--git-dir', ssh.repoPath(w.repoOf('hwlab-jd01-v03')), 'update-ref', 'refs/heads/v0.3', a], {
      home: ssh.home,
    }); // force the branch back upstream
    const r = await w.run(['run-once', '--follower', 'hwlab-jd01-v03', '--confirm', '--wait']);
    expect(r.stdout).toMatch(/AlreadyTriggered/);
    expect(w.triggersOf('hwlab-jd01-v03').map((t) => t.sha)).toEqual([a, b]);
  });

  it('pushing twice during closeout marks the first sha Superseded and triggers the second', async () => {
    const w = await makePassWorld(servers, 'supersede');
    w.configure({ lanes: { 'web-probe:v03': { runSeconds: 4 } } });
    const first = await w.push('web-probe-sentinel-master', { snapshot: true });
    const pass = w.run(['run-once', '--follower', 'web-probe-sentinel-master', '--confirm', '--wait']);
    await eventually('the first trigger', () => w.triggersOf('web-probe-sentinel-master').length === 1);
    await w.push('web-probe-sentinel-master', { snapshot: true });
    const second = await w.push('web-probe-sentinel-master', { snapshot: true });
    const r = await pass;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`ClosingOut -> Superseded ${first.slice(0, 12)} \\(BranchAdvanced: superseded by ${second}\\)`),
    );
    expect(w.triggersOf('web-probe-sentinel-master').map((t) => t.sha)).toEqual([first, second]);
    const rec = (await record(w, 'web-probe-sentinel-master'))!;
    expect(rec.history).toContainEqual(
      expect.objectContaining({ to: 'Superseded', sha: first, detail: `superseded by ${second}` }),
    );
    expect(rec).toMatchObject({ lastSucceededSha: second });
  });

  it('a budget overrun is a visible Failed with reason BudgetExceeded, and the pass exits 5', async () => {
    const w = await makePassWorld(servers, 'budget', [{ from: /budgetSeconds: 120/g, to: 'budgetSeconds: 3' }]);
    w.configure({ lanes: { 'agentrun:jd01-v02': { runSeconds: 60 } } });
    await w.push('agentrun-jd01-v02', { snapshot: true });
    const r = await w.run(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm', '--wait']);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/^agentrun-jd01-v02\s+Failed\s+BudgetExceeded/m);
    expect((await record(w, 'agentrun-jd01-v02'))!).toMatchObject({ phase: 'Failed', reason: 'BudgetExceeded' });
  });

  it('a pass SIGKILLed right after the write-ahead record, then run again: exactly one trigger', async () => {
    const w = await makePassWorld(servers, 'kill-ahead');
    const sha = await w.push('agentrun-jd01-v02', { snapshot: true });
    w.configure({ lanes: { 'agentrun:jd01-v02': { triggerHangSeconds: 30 } } });
    const child = w.spawn(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm']);
    await eventually(
      'the write-ahead record',
      async () => (await record(w, 'agentrun-jd01-v02'))?.phase === 'Triggering',
    );
    process.kill(-child.pid!, 'SIGKILL'); // the pass and its adapter child: the trigger never lands
    await exited(child);
    expect(w.triggersOf('agentrun-jd01-v02')).toEqual([]);
    w.configure({ lanes: {} });
    await new Promise((r) => setTimeout(r, 4500)); // the dead pass's Lease (4 s) expires
    const r = await w.run(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`[agentrun-jd01-v02] trigger ${sha.slice(0, 12)}`); // the one send, by this pass
    expect(w.triggersOf('agentrun-jd01-v02').map((t) => t.sha)).toEqual([sha]);
  });

  it('a pass SIGKILLed right after the trigger, then run again: the run is adopted, still one trigger', async () => {
    const w = await makePassWorld(servers, 'kill-after');
    const sha = await w.push('agentrun-jd01-v02', { snapshot: true });
    w.configure({ lanes: { 'agentrun:jd01-v02': { triggerHoldSeconds: 30 } } });
    const child = w.spawn(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm']);
    await eventually('the trigger', () => w.triggersOf('agentrun-jd01-v02').length === 1);
    process.kill(-child.pid!, 'SIGKILL'); // the run started; the pass never recorded its name
    await exited(child);
    expect((await record(w, 'agentrun-jd01-v02'))!).toMatchObject({
      phase: 'Triggering',
      inFlight: { sha, runName: null },
    });
    w.configure({ lanes: {} });
    await new Promise((r) => setTimeout(r, 4500));
    const r = await w.run(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('TriggerAdopted');
    expect(w.triggersOf('agentrun-jd01-v02').map((t) => t.sha)).toEqual([sha]);
    expect((await record(w, 'agentrun-jd01-v02'))!).toMatchObject({ lastSucceededSha: sha });
  });

  // A trigger that fails after the control plane started its run: the record goes Failed
  // TriggerFailed, and the next pass follows that run to closeout (with its flush) instead of
  // calling the sha a Noop, and never sends it again.
  const failedAfterStart: [string, Record<string, unknown>, RegExp][] = [
    ['timed out', { triggerHoldSeconds: 30 }, /timed out|timeoutSeconds/],
    ['printed off the contract', { triggerPatch: { run: 'not-an-object' } }, /contract|run/],
    ['printed more than maxOutputBytes', { triggerPatch: { padding: 'x'.repeat(70_000) } }, /maxOutputBytes/],
  ];
  for (const [why, lane, said] of failedAfterStart) {
    it(`a trigger that ${why} after its run started is followed to Succeeded, never Noop, sent once`, async () => {
      const w = await makePassWorld(servers, `tf-${why.split(' ')[0]}`);
      const sha = await w.push('agentrun-jd01-v02', { snapshot: true });
      w.configure({ lanes: { 'agentrun:jd01-v02': lane } });
      const first = await w.run(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm']);
      expect(first.code, first.stderr).toBe(5);
      expect(first.stderr).toMatch(said);
      expect((await record(w, 'agentrun-jd01-v02'))!).toMatchObject({ phase: 'Failed', reason: 'TriggerFailed' });
      expect(w.triggersOf('agentrun-jd01-v02').map((t) => t.sha)).toEqual([sha]);
      w.configure({ lanes: {} });
      const r = await w.run(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm', '--wait']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain('Failed -> ClosingOut');
      expect(r.stderr).toContain('TriggerAdopted');
      expect(r.stderr).not.toContain('UpToDate');
      expect(w.triggersOf('agentrun-jd01-v02').map((t) => t.sha)).toEqual([sha]);
      const rec = (await record(w, 'agentrun-jd01-v02'))!;
      expect(rec).toMatchObject({ phase: 'Succeeded', lastSucceededSha: sha, inFlight: null });
      expect(rec.history.map((t) => t.to).slice(-3)).toEqual(['Failed', 'ClosingOut', 'Succeeded']);
    });
  }

  it('two passes started together: exactly one trigger, the other skips on the Lease', async () => {
    const w = await makePassWorld(servers, 'race');
    await w.push('agentrun-jd01-v02');
    await w.push('web-probe-sentinel-master');
    const sha = await w.push('hwlab-jd01-v03', { snapshot: true });
    w.configure({ lanes: { 'hwlab:v03': { runSeconds: 2 } } });
    const [a, b] = [
      w.spawn(['run-once', '--all', '--confirm', '--wait', '--controller']),
      w.spawn(['run-once', '--all', '--confirm', '--wait', '--controller']),
    ];
    const codes = await Promise.all([exited(a), exited(b)]);
    expect(codes).toEqual([0, 0]);
    const outputs = [a.output(), b.output()];
    expect(outputs.filter((o) => /skipped: lease held by /.test(o))).toHaveLength(1);
    expect(w.triggersOf('hwlab-jd01-v03').map((t) => t.sha)).toEqual([sha]);
  });

  it('an unreachable mirror blocks its followers (MirrorUnreachable), triggers nothing, and exits 5', async () => {
    const w = await makePassWorld(servers, 'mirror-down');
    await w.push('agentrun-jd01-v02', { snapshot: true });
    await git.stop();
    try {
      const r = await w.run(['run-once', '--all', '--confirm']);
      expect(r.code).toBe(5);
      expect(r.stdout).toMatch(/^agentrun-jd01-v02\s+\S+\s+MirrorUnreachable/m);
      expect(w.fake.triggers()).toEqual([]);
    } finally {
      await git.restart();
    }
  });

  it('refuses a state write over controller.state.maxBytes, naming the limit', async () => {
    const w = await makePassWorld(servers, 'too-big', [{ from: 'maxBytes: 262144', to: 'maxBytes: 600' }]);
    await w.push('agentrun-jd01-v02', { snapshot: true });
    const r = await w.run(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(
      /refusing to write \d+ bytes of state to ConfigMap \S+\/branch-follower-state-0: over controller\.state\.maxBytes \(600\)/,
    );
    expect(w.fake.triggers()).toEqual([]); // the write-ahead failed, so nothing was sent
  });

  it('leaves an unreadable record as it is: Blocked RecordUnreadable, nothing triggered, exit 5', async () => {
    const w = await makePassWorld(servers, 'unreadable');
    await w.push('agentrun-jd01-v02', { snapshot: true });
    const c = adminClient();
    const cm = (await c.get(CM, w.ns, 'branch-follower-state-0'))!;
    await c.update({ ...cm, data: { 'agentrun-jd01-v02': '{"truncated":' } }, 'someone-else');
    const r = await w.run(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm']);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/^agentrun-jd01-v02\s+-\s+RecordUnreadable/m);
    expect(w.fake.triggers()).toEqual([]);
    expect(
      ((await c.get(CM, w.ns, 'branch-follower-state-0'))!.data as Record<string, string>)['agentrun-jd01-v02'],
    ).toBe('{"truncated":');
  });
});
