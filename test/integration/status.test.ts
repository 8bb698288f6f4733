import { afterAll, describe, expect, it } from 'vitest';
import { emptyRecord } from '../../runner/state-record.ts';
import { resourceType } from '../../core/kube/resources.ts';
import { cli } from '../helpers/cli.ts';
import { adminClient, auditEvents, clusterFixture, kubeconfig, MUTATING, uniqueNamespace } from '../helpers/cluster.ts';
import { removeFixtures } from '../helpers/registry-fixture.ts';

afterAll(removeFixtures);

const PLANTED = 'PLANTED-SSH-KEY-VALUE-must-never-appear-0123456789';

async function appliedNamespace(prefix: string): Promise<{ ns: string; root: string }> {
  const ns = uniqueNamespace(prefix);
  const root = clusterFixture(ns);
  expect((await cli(['apply', '--confirm', '--kubeconfig', kubeconfig()], { cwd: root })).code).toBe(0);
  return { ns, root };
}

describe('status against a real API server', () => {
  it('shows the controller and every follower as not yet observed when the state is empty', async () => {
    const { ns, root } = await appliedNamespace('status-empty');
    const r = await cli(['status', '--kubeconfig', kubeconfig()], { cwd: root });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^CronJob branch-follower\s+schedule "\* \* \* \* \*" Etc\/UTC, last schedule never/m);
    expect(r.stdout).toMatch(new RegExp(`^controller ${ns} `, 'm'));
    expect(r.stdout).toMatch(/^Lease branch-follower-leader-0\s+no holder/m);
    expect(r.stdout).toMatch(/^ConfigMap branch-follower-state-0\s+age \d+s, 0 records, 0 bytes/m);
    for (const id of ['hwlab-jd01-v03', 'agentrun-jd01-v02', 'web-probe-sentinel-master'])
      expect(r.stdout).toMatch(new RegExp(`^${id}\\s+\\S+\\s+-\\s+NotObserved\\s+-\\s+-$`, 'm'));
    const wide = await cli(['status', '-o', 'wide', '--kubeconfig', kubeconfig()], { cwd: root });
    for (const id of ['hwlab-jd01-v03', 'agentrun-jd01-v02', 'web-probe-sentinel-master']) {
      expect(wide.stdout).toMatch(
        new RegExp(
          `^${id}\\s+.*NotObserved\\s+-\\s+-\\s+120s \\(followers\\[\\d\\]\\.closeout\\.budgetSeconds\\)`,
          'm',
        ),
      );
    }
    expect(wide.stdout).toContain('hwlab nodes control-plane status --node JD01 --lane v03');
    const json = JSON.parse((await cli(['status', '-o', 'json', '--kubeconfig', kubeconfig()], { cwd: root })).stdout);
    expect(json.followers.map((f: { state: unknown }) => f.state)).toEqual([null, null, null]);
    expect(json.controller.cronJob).toMatchObject({ schedule: '* * * * *', suspend: false, activeJobs: 0 });
  });

  it('-n reads another namespace than controller.namespace; an invalid name is refused', async () => {
    const { ns } = await appliedNamespace('status-n');
    // A registry whose controller.namespace was never applied: -n points status at the applied one.
    const elsewhere = clusterFixture(uniqueNamespace('status-n-unapplied'));
    const r = await cli(['status', '-n', ns, '--kubeconfig', kubeconfig()], { cwd: elsewhere });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^controller ${ns} `, 'm'));
    expect(r.stdout).toMatch(/^CronJob branch-follower\s+schedule/m);
    const without = await cli(['status', '--kubeconfig', kubeconfig()], { cwd: elsewhere });
    expect(without.stdout).toMatch(/^CronJob \S+\s+not found: run branch-follower apply/m);
    const bad = await cli(['status', '-n', 'Not_A_Namespace', '--kubeconfig', kubeconfig()], { cwd: elsewhere });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('-n/--namespace "Not_A_Namespace": a namespace is a DNS-1123 label');
  });

  it('shows records the pass wrote, and names records of followers that no longer exist', async () => {
    const { ns, root } = await appliedNamespace('status-records');
    const c = adminClient();
    const cm = (await c.get(resourceType('v1', 'ConfigMap'), ns, 'branch-follower-state-0'))!;
    const sha = 'a'.repeat(40);
    const record = {
      ...emptyRecord('2026-01-01T00:00:00.000Z'),
      observedSha: sha,
      targetSha: 'b'.repeat(40),
      lastTriggeredSha: sha,
      phase: 'ClosingOut',
      reason: '',
      inFlight: {
        sha,
        snapshotRef: 'refs/unidesk/snapshots/x',
        attempt: 1,
        runName: 'run-42',
        startedAt: '2026-01-01T00:00:00Z',
        sentAt: '2026-01-01T00:00:00Z',
        triggeredAt: null,
        deadline: '2026-01-01T00:02:00Z',
        runDoneAt: null,
        flushedAt: null,
      },
    };
    await c.update(
      {
        ...cm,
        data: { 'hwlab-jd01-v03': JSON.stringify(record), 'old-follower': '{}', 'agentrun-jd01-v02': 'garbage' },
      },
      'branch-follower-pass',
    );
    const r = await cli(['status', '-o', 'wide', '--kubeconfig', kubeconfig()], { cwd: root });
    expect(r.stdout).toMatch(
      /^hwlab-jd01-v03\s+hwlab-node-runtime\s+v0\.3\s+aaaaaaaaaaaa\s+bbbbbbbbbbbb\s+aaaaaaaaaaaa\s+-\s+ClosingOut\s+\S+\s+aaaaaaaaaaaa run-42/m,
    );
    expect(r.stdout).toMatch(/^agentrun-jd01-v02\s+.*Unreadable: not JSON/m);
    expect(r.stdout).toContain(
      'stale record "old-follower" (no such follower): branch-follower cleanup-state --follower old-follower --confirm',
    );
  });

  it('shows the githubSsh Secret by name, key, presence and fingerprint, never its value, and writes nothing', async () => {
    const { ns, root } = await appliedNamespace('status-secret');
    await adminClient().post(
      `/api/v1/namespaces/${ns}/secrets`,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'git-mirror-github-ssh' },
        stringData: { id_ed25519: PLANTED },
      },
      'create',
      'Secret',
    );
    const mark = auditEvents((e) => MUTATING.has(e.verb) && e.objectRef?.namespace === ns).length;
    const outputs = await Promise.all(
      [['-o', 'wide'], [], ['-o', 'json'], ['-o', 'yaml'], ['--raw']].map((flags) =>
        cli(['status', ...flags, '--kubeconfig', kubeconfig()], { cwd: root }),
      ),
    );
    for (const r of outputs) {
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(PLANTED);
      expect(r.stdout + r.stderr).not.toContain(Buffer.from(PLANTED).toString('base64'));
    }
    expect(outputs[0]!.stdout).toMatch(
      /key id_ed25519 present sha256:[0-9a-f]{16} \(source=yaml, sourceRef=controller\.source\.githubSsh\.identity, transport=ssh, proxy=connect\)/,
    );
    expect(outputs[0]!.stdout).toContain(
      `key known_hosts absent (Secret ${ns}/git-mirror-github-ssh has no key known_hosts)`,
    );
    expect(auditEvents((e) => MUTATING.has(e.verb) && e.objectRef?.namespace === ns).slice(mark)).toEqual([]);
  });
});
