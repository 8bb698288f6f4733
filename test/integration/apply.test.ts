import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KubeError } from '../../core/errors.ts';
import { resourceType } from '../../core/kube/resources.ts';
import { cli } from '../helpers/cli.ts';
import {
  adminClient,
  auditEvents,
  clusterFixture,
  kubeconfig,
  MUTATING,
  serviceAccountKubeconfig,
  TEST_ROUTE,
  uniqueNamespace,
  versions,
} from '../helpers/cluster.ts';
import { removeFixtures } from '../helpers/registry-fixture.ts';

afterAll(removeFixtures);

const CM = resourceType('v1', 'ConfigMap');
const LEASE = resourceType('coordination.k8s.io/v1', 'Lease');
const CRONJOB = resourceType('batch/v1', 'CronJob');
const SECRET = resourceType('v1', 'Secret');

/** Every object the controller synthesizes, as the cluster holds it now. */
async function liveObjects(ns: string) {
  const c = adminClient();
  return Promise.all([
    c.get(resourceType('v1', 'Namespace'), undefined, ns),
    c.get(resourceType('v1', 'ServiceAccount'), ns, 'branch-follower'),
    c.get(resourceType('rbac.authorization.k8s.io/v1', 'Role'), ns, 'branch-follower'),
    c.get(resourceType('rbac.authorization.k8s.io/v1', 'RoleBinding'), ns, 'branch-follower'),
    c.get(CM, ns, 'branch-follower-registry'),
    c.get(CM, ns, 'branch-follower-state-0'),
    c.get(LEASE, ns, 'branch-follower-leader'),
    c.get(LEASE, ns, 'branch-follower-leader-0'),
    c.get(CRONJOB, ns, 'branch-follower'),
  ]);
}

/** Mutating requests that reached storage (dry runs excluded) about one namespace since `mark`. */
function writesSince(mark: number, ns: string) {
  return auditEvents(
    (e) =>
      MUTATING.has(e.verb) &&
      !e.requestURI.includes('dryRun=') &&
      (e.objectRef?.namespace === ns || e.objectRef?.name === ns),
  ).slice(mark);
}

async function applied(ns: string, edits: Parameters<typeof clusterFixture>[1] = []) {
  const root = clusterFixture(ns, edits);
  const r = await cli(['apply', '--confirm', '--wait', '--kubeconfig', kubeconfig()], { cwd: root });
  expect(r.stderr).not.toContain('error');
  expect(r.code).toBe(0);
  return { root, result: r };
}

describe('apply --confirm --wait against a real API server', () => {
  it('creates every object in an empty cluster, waits until ready and reports progress', async () => {
    const ns = uniqueNamespace('apply-empty');
    const { result } = await applied(ns);
    expect(result.stdout).toMatch(/^apply: 9 objects changed$/m);
    expect(result.stdout).toMatch(/^ready: 10 checks passed in /m);
    expect(result.stderr).toMatch(/waiting for 10 checks \(budget 120s, controller\.apply\.waitSeconds\)/);
    expect(result.stderr).toMatch(/ready 10\/10 RBAC of ServiceAccount .*: exactly what the pass needs/);
    expect((await liveObjects(ns)).every((o) => o !== undefined)).toBe(true);
  });

  it('a second apply changes nothing: same resourceVersions, no write reaches the server', async () => {
    const ns = uniqueNamespace('apply-twice');
    const { root } = await applied(ns);
    const before = versions(await liveObjects(ns));
    const mark = writesSince(0, ns).length;
    expect(mark).toBeGreaterThanOrEqual(9); // the audit filter does see the first apply's writes
    const again = await cli(['apply', '--confirm', '--kubeconfig', kubeconfig()], { cwd: root });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^apply: nothing to change$/m);
    expect(versions(await liveObjects(ns))).toEqual(before);
    expect(writesSince(mark, ns)).toEqual([]);
  });

  it('plan exits 0 after apply and 1 after a registry change, with a field-level diff', async () => {
    const ns = uniqueNamespace('plan');
    const { root } = await applied(ns);
    const clean = await cli(['plan', '--kubeconfig', kubeconfig()], { cwd: root });
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/plan: 0 to create, 0 to update, 0 to prune, 9 unchanged/);

    const changed = clusterFixture(ns, [{ from: 'schedule: "* * * * *"', to: 'schedule: "*/5 * * * *"' }]);
    const mark = writesSince(0, ns).length;
    const drift = await cli(['plan', '--diff', '--kubeconfig', kubeconfig()], { cwd: changed });
    expect(drift.code).toBe(1);
    expect(drift.stdout).toMatch(/^CronJob\s+\S+\/branch-follower\s+update/m);
    expect(drift.stdout).toContain('-  schedule: "* * * * *"\n+  schedule: "*/5 * * * *"');
    expect(writesSince(mark, ns)).toEqual([]); // plan only dry-runs
  });

  it('apply without --confirm prints the plan, exits 4 and writes nothing', async () => {
    const ns = uniqueNamespace('no-confirm');
    const root = clusterFixture(ns);
    const r = await cli(['apply', '--kubeconfig', kubeconfig()], { cwd: root });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/plan: 9 to create/);
    expect(r.stderr).toContain('nothing was written. Re-run with --confirm');
    expect(writesSince(0, ns)).toEqual([]);
    expect(await adminClient().get(resourceType('v1', 'Namespace'), undefined, ns)).toBeUndefined();
  });

  it('prunes a labelled object the registry no longer synthesizes', async () => {
    const ns = uniqueNamespace('prune');
    await applied(ns);
    const renamed = clusterFixture(ns, [
      { from: '    name: branch-follower\n    schedule:', to: '    name: branch-follower-pass\n    schedule:' },
    ]);
    const plan = await cli(['plan', '--kubeconfig', kubeconfig()], { cwd: renamed });
    expect(plan.stdout).toMatch(/^CronJob\s+\S+\/branch-follower\s+prune\s+no longer synthesized/m);
    expect(plan.stdout).toMatch(/^CronJob\s+\S+\/branch-follower-pass\s+create/m);
    const r = await cli(['apply', '--confirm', '--wait', '--kubeconfig', kubeconfig()], { cwd: renamed });
    expect(r.code).toBe(0);
    expect(await adminClient().get(CRONJOB, ns, 'branch-follower')).toBeUndefined();
    expect(await adminClient().get(CRONJOB, ns, 'branch-follower-pass')).toBeDefined();
  });

  it('never prunes a renamed state ConfigMap: it is kept with its records', async () => {
    const ns = uniqueNamespace('keep-state');
    await applied(ns);
    const renamed = clusterFixture(ns, [
      { from: 'state: branch-follower-state', to: 'state: branch-follower-state-v2' },
    ]);
    const r = await cli(['apply', '--confirm', '--kubeconfig', kubeconfig()], { cwd: renamed });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ConfigMap\s+\S+\/branch-follower-state-0\s+kept/m);
    expect(await adminClient().get(CM, ns, 'branch-follower-state-0')).toBeDefined();
    expect(await adminClient().get(CM, ns, 'branch-follower-state-v2-0')).toBeDefined();
  });

  it('keeps the single state ConfigMap of the layout before shards, with its records, for the pass to carry over', async () => {
    // GIVEN a namespace as the last single-object version left it: its apply made branch-follower-state (owner
    // labels, prune=never) and its pass wrote records there
    const ns = uniqueNamespace('keep-old-state');
    await applied(ns);
    const c = adminClient();
    const shard0 = (await c.get(CM, ns, 'branch-follower-state-0'))!;
    const old = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'branch-follower-state',
        namespace: ns,
        labels: shard0.metadata.labels,
        annotations: { 'branch-follower.unidesk.dev/prune': 'never' },
      },
      data: { 'hwlab-jd01-v03': '{"phase":"Succeeded"}' },
    };
    await c.post(`/api/v1/namespaces/${ns}/configmaps`, old, 'create', 'ConfigMap');
    const root = clusterFixture(ns);
    // WHEN planned and applied THEN it is kept, not pruned, and its records are untouched
    const plan = await cli(['plan', '--kubeconfig', kubeconfig()], { cwd: root });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(
      /^ConfigMap\s+\S+\/branch-follower-state\s+keep\s+branch-follower\.unidesk\.dev\/prune=never/m,
    );
    const r = await cli(['apply', '--confirm', '--kubeconfig', kubeconfig()], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ConfigMap\s+\S+\/branch-follower-state\s+kept/m);
    expect((await c.get(CM, ns, 'branch-follower-state'))!.data).toEqual(old.data);
  });

  it('carries a registry too big for one ConfigMap in parts that the API server takes, and plan diffs a part', async () => {
    // GIVEN a registry of ~640 KB (a long comment) WHEN applied THEN two part ConfigMaps, no whole one
    const filler = Array.from({ length: 6000 }, (_, i) => `# filler line ${i} ${'x'.repeat(90)}\n`).join('');
    const ns = uniqueNamespace('registry-parts');
    const root = clusterFixture(ns, [{ from: 'configRoot: ..\n', to: `configRoot: ..\n${filler}` }]);
    const r = await cli(['apply', '--confirm', '--wait', '--kubeconfig', kubeconfig()], { cwd: root });
    expect(r.code, r.stderr).toBe(0);
    const c = adminClient();
    expect(await c.get(CM, ns, 'branch-follower-registry')).toBeUndefined();
    const parts = await Promise.all([0, 1].map((k) => c.get(CM, ns, `branch-follower-registry-${k}`)));
    expect(await c.get(CM, ns, 'branch-follower-registry-2')).toBeUndefined();
    const text = parts
      .map((p, k) => (p!.data as Record<string, string>)[`cicd-branch-followers.yaml.part-00${k}`])
      .join('');
    expect(text).toBe(readFileSync(join(root, 'config/cicd-branch-followers.yaml'), 'utf8'));
    // the Role denies updating either part (apply --wait reviewed it: 11 checks)
    expect(r.stdout).toMatch(/^ready: 11 checks passed in /m);

    // WHEN one line of the file changes THEN plan shows that line in the one part that holds it
    const edited = clusterFixture(ns, [
      { from: 'configRoot: ..\n', to: `configRoot: ..\n${filler}` },
      { from: 'gitCalls: 4', to: 'gitCalls: 5' },
    ]);
    const drift = await cli(['plan', '--diff', '--kubeconfig', kubeconfig()], { cwd: edited });
    expect(drift.code, drift.stderr).toBe(1);
    expect(drift.stdout).toMatch(/^ConfigMap\s+\S+\/branch-follower-registry-1\s+update/m);
    expect(drift.stdout).toMatch(/^ConfigMap\s+\S+\/branch-follower-registry-0\s+unchanged/m);
    expect(drift.stdout).toMatch(/^-\s+gitCalls: 4$/m);
    expect(drift.stdout).toMatch(/^\+\s+gitCalls: 5$/m);
  });

  it('keeps live state records and the Lease holder across re-apply of a changed registry', async () => {
    const ns = uniqueNamespace('live-state');
    await applied(ns);
    const c = adminClient();
    // The pass writes under its own field manager with compare-and-swap updates.
    const state = (await c.get(CM, ns, 'branch-follower-state-0'))!;
    await c.update({ ...state, data: { 'hwlab-jd01-v03': '{"phase":"Succeeded"}' } }, 'branch-follower-pass');
    const lease = (await c.get(LEASE, ns, 'branch-follower-leader-0'))!;
    await c.update(
      {
        ...lease,
        spec: { ...(lease.spec as object), holderIdentity: 'pass-pod-1', renewTime: '2026-01-01T00:00:00.000000Z' },
      },
      'branch-follower-pass',
    );

    const changed = clusterFixture(ns, [{ from: 'durationSeconds: 60', to: 'durationSeconds: 50' }]);
    const plan = await cli(['plan', '--kubeconfig', kubeconfig()], { cwd: changed });
    expect(plan.stdout).toMatch(/^ConfigMap\s+\S+\/branch-follower-state-0\s+unchanged/m);
    expect(plan.stdout).toMatch(/^Lease\s+\S+\/branch-follower-leader-0\s+update/m);
    // --timeout: this run waits its own budget, and says it follows the flag instead of the registry.
    const again = await cli(['apply', '--confirm', '--wait', '--timeout', '90s', '--kubeconfig', kubeconfig()], {
      cwd: changed,
    });
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(
      /waiting for \d+ checks \(budget 90s from --timeout 90s, instead of controller\.apply\.waitSeconds: 120s\)/,
    );

    expect((await c.get(CM, ns, 'branch-follower-state-0'))!.data).toEqual({
      'hwlab-jd01-v03': '{"phase":"Succeeded"}',
    });
    expect((await c.get(LEASE, ns, 'branch-follower-leader-0'))!.spec).toMatchObject({
      holderIdentity: 'pass-pod-1',
      leaseDurationSeconds: 50,
    });
  });
});

describe('the controller ServiceAccount, with its own token', () => {
  it('may read and renew the Leases, read and update the shard state, carry over the old state, create Events, and may not read a Secret', async () => {
    const ns = uniqueNamespace('rbac');
    await applied(ns);
    const admin = adminClient();
    // the single state ConfigMap of the layout before shards, as the last version left it
    await admin.post(
      `/api/v1/namespaces/${ns}/configmaps`,
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'branch-follower-state' }, data: { a: '{}' } },
      'create',
      'ConfigMap',
    );
    await admin.post(
      `/api/v1/namespaces/${ns}/secrets`,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'git-mirror-github-ssh' },
        stringData: { id_ed25519: 'k' },
      },
      'create',
      'Secret',
    );
    const file = await serviceAccountKubeconfig(mkdtempSync(join(tmpdir(), 'bf-sa-')), ns, 'branch-follower');
    const { resolveRoute } = await import('../../core/kube/route.ts');
    const { KubeClient } = await import('../../core/kube/client.ts');
    const { auth, route } = resolveRoute({ kubeconfig: file }, { context: 'unidesk-jd01', ...TEST_ROUTE }, {});
    const pass = new KubeClient(auth, route, { progress: () => undefined });

    for (const name of ['branch-follower-leader', 'branch-follower-leader-0']) {
      const lease = (await pass.get(LEASE, ns, name))!;
      await pass.update(
        { ...lease, spec: { ...(lease.spec as object), holderIdentity: 'me' } },
        'branch-follower-pass',
      );
    }
    const state = (await pass.get(CM, ns, 'branch-follower-state-0'))!;
    await pass.update({ ...state, data: { x: '{}' } }, 'branch-follower-pass');
    const old = (await pass.get(CM, ns, 'branch-follower-state'))!;
    expect(old.data).toEqual({ a: '{}' });
    const rewrite = await pass.update({ ...old, data: {} }, 'branch-follower-pass').then(
      () => 'allowed',
      (e: KubeError) => e.status,
    );
    expect(rewrite).toBe(403); // the old layout's state is read and deleted, never written
    await pass.delete(CM, ns, 'branch-follower-state');
    expect(await admin.get(CM, ns, 'branch-follower-state')).toBeUndefined();
    await pass.post(
      `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
      {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { generateName: 'bf-' },
        eventTime: new Date().toISOString().replace('Z', '000Z'),
        reportingController: 'branch-follower',
        reportingInstance: 'test',
        action: 'Observe',
        reason: 'Observed',
        type: 'Normal',
        regarding: { kind: 'ConfigMap', namespace: ns, name: 'branch-follower-state-0' },
      },
      'create',
      'Event',
    );

    const denied = await pass.get(SECRET, ns, 'git-mirror-github-ssh').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(denied).toBeInstanceOf(KubeError);
    expect((denied as KubeError).status).toBe(403);
    expect((denied as KubeError).message).toContain(
      `forbidden: get Secret ${ns}/git-mirror-github-ssh as user "branch-follower"`,
    );
    expect((denied as KubeError).message).toContain(`system:serviceaccount:${ns}:branch-follower`);
    const registry = await pass.get(CM, ns, 'branch-follower-registry').then(
      () => 'allowed',
      (e: KubeError) => e.status,
    );
    expect(registry).toBe(403);
  });
});

describe('cluster errors say what failed and the way out', () => {
  it('an unreachable server: exit 5, names the server and context', async () => {
    const ns = uniqueNamespace('unreachable');
    const dir = mkdtempSync(join(tmpdir(), 'bf-unreach-'));
    const { writeFileSync } = await import('node:fs');
    const file = join(dir, 'kubeconfig');
    writeFileSync(
      file,
      readFileSync(kubeconfig(), 'utf8').replace(/server: https:\/\/127\.0\.0\.1:\d+/, 'server: https://127.0.0.1:9'),
    );
    // A short retry budget: the server is not coming back, and the test need not wait 30 s to see it.
    const short = [
      { from: 'requestTimeoutSeconds: 15', to: 'requestTimeoutSeconds: 1' },
      { from: 'budgetSeconds: 30\n', to: 'budgetSeconds: 2\n' },
      { from: 'maxBackoffMilliseconds: 5000', to: 'maxBackoffMilliseconds: 500' },
    ];
    const r = await cli(['plan', '--kubeconfig', file], { cwd: clusterFixture(ns, short) });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(
      /cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:9 \(context "unidesk-jd01", get Namespace/,
    );
    expect(r.stderr).toMatch(
      /\d+ tries over \d\.\ds did not get through \(controller\.kubeRoute\.retry\.budgetSeconds: 2\)/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
  });

  it('a context missing from the kubeconfig: exit 2, lists the contexts there are', async () => {
    const r = await cli(['status', '--kubeconfig', kubeconfig(), '--context', 'nope'], {
      cwd: clusterFixture(uniqueNamespace('ctx')),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('context "nope" is not in kubeconfig');
    expect(r.stderr).toContain('(contexts: envtest, unidesk-jd01)');
  });

  it('the registry context is used unless --context overrides it, and KUBECONFIG is honoured like kubectl', async () => {
    const root = clusterFixture(uniqueNamespace('route'), [
      { from: 'context: unidesk-jd01', to: 'context: elsewhere' },
    ]);
    const r = await cli(['plan', '--kubeconfig', kubeconfig()], { cwd: root });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      'context "elsewhere" (controller.kubeRoute.context; override with --context) is not in kubeconfig',
    );
    expect((await cli(['plan', '--context', 'envtest'], { cwd: root, env: { KUBECONFIG: kubeconfig() } })).code).toBe(
      1,
    );
  });

  it('a Forbidden request names the verb, the resource and the identity', async () => {
    const ns = uniqueNamespace('forbidden');
    await applied(ns);
    const file = await serviceAccountKubeconfig(mkdtempSync(join(tmpdir(), 'bf-sa-')), ns, 'branch-follower');
    const r = await cli(['plan', '--kubeconfig', file], { cwd: clusterFixture(ns) });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`forbidden: get Namespace ${ns} as user "branch-follower" of context "unidesk-jd01"`);
  });
});
