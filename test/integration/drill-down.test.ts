import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceType } from '../../core/kube/resources.ts';
import { adminClient } from '../helpers/cluster.ts';
import { startGitServer, type GitServer } from '../../scripts/world/git-server.ts';
import { startSshUpstream, type SshUpstream } from '../../scripts/world/ssh-upstream.ts';
import { disposeWorlds, makePassWorld, type WorldServers } from '../helpers/pass-world.ts';

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

const stateKeys = async (ns: string) =>
  Object.keys(
    ((await adminClient().get(resourceType('v1', 'ConfigMap'), ns, 'branch-follower-state-0'))!.data as object) ?? {},
  ).sort();

describe('events, logs and cleanup-state after a real pass', () => {
  it('events shows the record history and one Kubernetes Event per transition', async () => {
    const w = await makePassWorld(servers, 'events');
    const sha = await w.push('agentrun-jd01-v02', { snapshot: true });
    w.configure({ lanes: { 'agentrun:jd01-v02': { runSeconds: 1 } } });
    expect((await w.run(['run-once', '--follower', 'agentrun-jd01-v02', '--confirm', '--wait'])).code).toBe(0);
    const r = await w.run(['events', '--follower', 'agentrun-jd01-v02', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const data = JSON.parse(r.stdout) as {
      history: { to: string }[];
      events: { action: string; note: string; type: string }[];
    };
    expect(data.history.map((t) => t.to)).toEqual(['PendingTrigger', 'Triggering', 'ClosingOut', 'Succeeded']);
    expect(data.events.map((e) => e.action).sort()).toEqual([
      'ClosingOut',
      'PendingTrigger',
      'Succeeded',
      'Triggering',
    ]);
    expect(data.events.find((e) => e.action === 'Succeeded')!.note).toContain(
      `agentrun-jd01-v02: ClosingOut -> Succeeded ${sha.slice(0, 12)}`,
    );
    const table = await w.run(['events', '--follower', 'agentrun-jd01-v02']);
    expect(table.stdout).toMatch(/^history of agentrun-jd01-v02/m);
    expect(table.stdout).toMatch(/Normal\s+Succeeded\s+ClosedOut/);
  });

  it('logs shows the adapter output tails kept in state, and says when no pass pod is left', async () => {
    const w = await makePassWorld(servers, 'logs');
    await w.push('hwlab-jd01-v03', { snapshot: true });
    expect((await w.run(['run-once', '--follower', 'hwlab-jd01-v03', '--confirm'])).code).toBe(0);
    const r = await w.run(['logs', '--follower', 'hwlab-jd01-v03']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`no reconcile-pass pods in ${w.ns}`);
    expect(r.stdout).toMatch(/--- last adapter trigger output \(state record\)\n\{"run":\{"name":"hwlab-v03-1"/);
  });

  it('cleanup-state removes exactly one record, only with --confirm', async () => {
    const w = await makePassWorld(servers, 'cleanup');
    await w.push('hwlab-jd01-v03', { snapshot: true });
    await w.push('agentrun-jd01-v02', { snapshot: true });
    expect((await w.run(['run-once', '--all', '--confirm'])).code).toBeLessThan(6);
    expect(await stateKeys(w.ns)).toEqual(['agentrun-jd01-v02', 'hwlab-jd01-v03', 'web-probe-sentinel-master']);

    const dry = await w.run(['cleanup-state', '--follower', 'hwlab-jd01-v03']);
    expect(dry.code).toBe(4);
    expect(dry.stdout).toMatch(/would remove the record of hwlab-jd01-v03 \(phase ClosingOut/);
    expect(await stateKeys(w.ns)).toHaveLength(3);

    const done = await w.run(['cleanup-state', '--follower', 'hwlab-jd01-v03', '--confirm']);
    expect(done.code, done.stderr).toBe(0);
    expect(await stateKeys(w.ns)).toEqual(['agentrun-jd01-v02', 'web-probe-sentinel-master']);
    expect((await w.run(['cleanup-state', '--follower', 'no-such-follower', '--confirm'])).code).toBe(2);
  });
});
