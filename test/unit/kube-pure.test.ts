import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../core/kube/client.ts';
import { fingerprint, normalize } from '../../core/kube/normalize.ts';
import { decideAction, orphanAction, unifiedDiff } from '../../core/kube/plan.ts';
import { jobState } from '../../core/kube/jobs.ts';
import { objectReadiness } from '../../core/kube/readiness.ts';
import { collectionPath, objectPath, resourceType } from '../../core/kube/resources.ts';
import { inClusterRoute, kubeconfigFiles } from '../../core/kube/route.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../core/clock.ts';
import { waitUntilReady } from '../../core/kube/wait.ts';
import { formatAge } from '../../core/output/age.ts';
import type { Manifest } from '../../core/kube/manifest.ts';

const cm = (data: Record<string, string>, meta: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'x', namespace: 'ns', ...meta },
  data,
});

describe('plan decisions', () => {
  it('ignores server-owned fields when deciding unchanged', () => {
    const live = cm(
      { a: '1' },
      { resourceVersion: '5', uid: 'u', managedFields: [{}], creationTimestamp: 't', generation: 3 },
    );
    const applied = cm({ a: '1' }, { resourceVersion: '6', managedFields: [{ x: 1 }] });
    expect(decideAction(live, applied)).toBe('unchanged');
    expect(decideAction(live, cm({ a: '2' }))).toBe('update');
    expect(decideAction(undefined, applied)).toBe('create');
  });

  it('never prunes an object annotated prune=never', () => {
    expect(orphanAction(cm({}, { annotations: { 'branch-follower.unidesk.dev/prune': 'never' } })).action).toBe('keep');
    expect(orphanAction(cm({})).action).toBe('prune');
  });

  it('shows a Secret in a diff only by fingerprint', () => {
    const secret = (v: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' },
      data: { key: Buffer.from(v).toString('base64') },
    });
    const diff = unifiedDiff('secret-s', secret('old-value'), secret('new-value'));
    expect(diff).toContain(`-  key: (${fingerprint(Buffer.from('old-value').toString('base64'))})`);
    expect(diff).not.toContain(Buffer.from('old-value').toString('base64'));
    expect(diff).not.toContain(Buffer.from('new-value').toString('base64'));
    expect(normalize(secret('v')).data).toEqual({ key: `(${fingerprint(Buffer.from('v').toString('base64'))})` });
  });
});

describe('readiness', () => {
  const ns: Manifest = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } };
  const cronJob = (suspend: boolean): Manifest => ({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'c' },
    spec: { suspend },
  });

  it('a Namespace is ready when Active, not while Terminating', () => {
    expect(objectReadiness(ns, { ...ns, status: { phase: 'Active' } } as KubeObject, undefined).ready).toBe(true);
    expect(objectReadiness(ns, { ...ns, status: { phase: 'Terminating' } } as KubeObject, undefined)).toEqual({
      ready: false,
      detail: 'phase Terminating',
    });
    expect(objectReadiness(ns, undefined, undefined)).toEqual({ ready: false, detail: 'not found' });
  });

  it('a CronJob is ready at the applied generation and suspended exactly as declared', () => {
    const live = (suspend: boolean, generation: number) =>
      ({ ...cronJob(suspend), metadata: { name: 'c', generation } }) as KubeObject;
    expect(objectReadiness(cronJob(false), live(false, 2), 2).ready).toBe(true);
    expect(objectReadiness(cronJob(false), live(false, 1), 2)).toEqual({
      ready: false,
      detail: 'at generation 1, applied 2',
    });
    expect(objectReadiness(cronJob(false), live(true, 2), 2)).toEqual({
      ready: false,
      detail: 'suspend is true, declared false',
    });
    expect(objectReadiness(cronJob(true), live(true, 2), 2)).toEqual({ ready: true, detail: 'suspended as declared' });
  });
});

describe('waitUntilReady', () => {
  function fakeClock(): Clock & { t: number } {
    const c = { t: 0, now: () => c.t, sleep: async (ms: number) => void (c.t += ms) };
    return c;
  }

  it('reports each check as it becomes ready and returns the elapsed time', async () => {
    const clock = fakeClock();
    const seen: string[] = [];
    const ms = await waitUntilReady(
      [
        { label: 'a', check: async () => ({ ready: true, detail: 'ok' }) },
        { label: 'b', check: async () => ({ ready: clock.t >= 4000, detail: clock.t >= 4000 ? 'ok' : 'pending' }) },
      ],
      {
        budget: { ms: 10_000, path: 'controller.apply.waitSeconds' },
        pollMs: 2000,
        heartbeatMs: 10_000,
        onReady: (e) => seen.push(`${e.label}@${e.elapsedMs} ${e.readyCount}/${e.total}`),
        progress: (line) => seen.push(line),
      },
      clock,
    );
    expect(seen).toEqual(['a@0 1/2', 'b@4000 2/2']);
    expect(ms).toBe(4000);
  });

  it('prints a heartbeat with the time of the budget and what is pending whenever nothing was printed for a while', async () => {
    const clock = fakeClock();
    const seen: string[] = [];
    const slow = (label: string, at: number) => ({
      label,
      check: async () => ({ ready: clock.t >= at, detail: clock.t >= at ? 'ok' : `${label} not yet` }),
    });
    await waitUntilReady(
      [slow('a', 12_000), slow('b', 25_000), slow('c', 25_000), slow('d', 25_000), slow('e', 25_000)],
      {
        budget: { ms: 60_000, path: 'controller.apply.waitSeconds' },
        // A poll less often than the heartbeat: the heartbeat still comes on time.
        pollMs: 7000,
        heartbeatMs: 5000,
        onReady: (e) => seen.push(`ready ${e.label}@${clock.t}`),
        progress: (line) => seen.push(`${line}@${clock.t}`),
      },
      clock,
    );
    expect(seen).toEqual([
      '  still waiting: 5s of 60s (controller.apply.waitSeconds); 5 pending: a (a not yet), b (b not yet), ' +
        'c (c not yet), and 2 more@5000',
      '  still waiting: 10s of 60s (controller.apply.waitSeconds); 5 pending: a (a not yet), b (b not yet), ' +
        'c (c not yet), and 2 more@10000',
      'ready a@14000',
      '  still waiting: 19s of 60s (controller.apply.waitSeconds); 4 pending: b (b not yet), c (c not yet), ' +
        'd (d not yet), and 1 more@19000',
      '  still waiting: 24s of 60s (controller.apply.waitSeconds); 4 pending: b (b not yet), c (c not yet), ' +
        'd (d not yet), and 1 more@24000',
      'ready b@28000',
      'ready c@28000',
      'ready d@28000',
      'ready e@28000',
    ]);
  });

  it('gives up within the budget and names what is not ready and why', async () => {
    const clock = fakeClock();
    const never = {
      label: 'CronJob ns/c',
      check: async () => ({ ready: false, detail: 'suspend is true, declared false' }),
    };
    const opts = {
      budget: { ms: 5000, path: '--timeout 5s' },
      pollMs: 2000,
      heartbeatMs: 10_000,
      onReady: () => {},
      progress: () => {},
    };
    await expect(waitUntilReady([never], opts, clock)).rejects.toThrow(
      'not ready after 5s (--timeout 5s):\n  CronJob ns/c: suspend is true, declared false',
    );
    expect(clock.t).toBeLessThanOrEqual(5000);
  });
});

describe('kube route and paths', () => {
  const ROUTE = {
    requestTimeoutSeconds: 5,
    retry: { budgetSeconds: 12, initialBackoffMilliseconds: 100, maxBackoffMilliseconds: 2000 },
  };

  it('uses --kubeconfig, else every $KUBECONFIG entry, else ~/.kube/config, like kubectl', () => {
    expect(kubeconfigFiles('/k', { KUBECONFIG: '/a' })).toEqual({ files: ['/k'], from: '--kubeconfig' });
    expect(kubeconfigFiles(undefined, { KUBECONFIG: '/a:/b' })).toEqual({ files: ['/a', '/b'], from: '$KUBECONFIG' });
    expect(kubeconfigFiles(undefined, {}).files[0]).toMatch(/\.kube\/config$/);
  });

  it('the pod route (--controller) uses the mounted ServiceAccount and the Service env, and says what is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bf-sa-'));
    expect(() =>
      inClusterRoute(ROUTE, { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, dir),
    ).toThrow(/needs KUBERNETES_SERVICE_HOST\/PORT and a ServiceAccount token/);
    writeFileSync(join(dir, 'token'), 't');
    writeFileSync(join(dir, 'ca.crt'), 'c');
    expect(() => inClusterRoute(ROUTE, {}, dir)).toThrow(/outside a pod pass --kubeconfig/);
    const { auth, route } = inClusterRoute(
      ROUTE,
      { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' },
      dir,
    );
    expect(route).toMatchObject({
      server: 'https://[fd00::1]:443',
      context: 'in-cluster',
      requestTimeoutMs: 5000,
      retry: { budgetMs: 12_000, initialBackoffMs: 100, maxBackoffMs: 2000 },
    });
    expect(auth.user.tokenFile).toBe(join(dir, 'token'));
    expect(auth.cluster.caFile).toBe(join(dir, 'ca.crt'));
  });

  it('builds core and group paths, namespaced and cluster-wide', () => {
    expect(objectPath(resourceType('v1', 'ConfigMap'), 'ns', 'a')).toBe('/api/v1/namespaces/ns/configmaps/a');
    expect(collectionPath(resourceType('batch/v1', 'CronJob'), 'ns')).toBe('/apis/batch/v1/namespaces/ns/cronjobs');
    expect(objectPath(resourceType('v1', 'Namespace'), undefined, 'ns')).toBe('/api/v1/namespaces/ns');
    expect(() => collectionPath(resourceType('v1', 'ConfigMap'), undefined)).toThrow('ConfigMap is namespaced');
    expect(() => resourceType('apps/v1', 'Deployment')).toThrow('does not handle apps/v1 Deployment');
  });

  it('prints ages like kubectl', () => {
    expect([formatAge(5_000), formatAge(300_000), formatAge(3 * 3600_000), formatAge(3 * 86400_000)]).toEqual([
      '5s',
      '5m',
      '3h',
      '3d',
    ]);
  });
});

describe('jobState of an Indexed Job (the sharded pass)', () => {
  const job = (status: Record<string, unknown>): KubeObject => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pass', namespace: 'ns' },
    spec: { completionMode: 'Indexed', completions: 5, parallelism: 5 },
    status,
  });

  it('counts succeeded of completions and says per index what happened while it runs', () => {
    // GIVEN indexes 0, 2 and 3 succeeded and 4 failed (its retries spent), 1 still running
    const state = jobState(job({ active: 1, succeeded: 3, failed: 1, completedIndexes: '0,2-3', failedIndexes: '4' }));
    expect(state.done).toBeNull();
    expect(state.summary).toBe('active 1, succeeded 3/5, failed 1');
    expect(state.indexes).toEqual([
      { index: 0, outcome: 'succeeded' },
      { index: 1, outcome: 'unfinished' },
      { index: 2, outcome: 'succeeded' },
      { index: 3, outcome: 'succeeded' },
      { index: 4, outcome: 'failed' },
    ]);
  });

  it('is done at Failed (FailedIndexes) with every index accounted for; a Job of one pod has no indexes', () => {
    const failed = jobState(
      job({
        succeeded: 4,
        failed: 1,
        completedIndexes: '0-3',
        failedIndexes: '4',
        conditions: [{ type: 'Failed', status: 'True', reason: 'FailedIndexes', message: 'Job has failed indexes' }],
      }),
    );
    expect(failed.done).toEqual({ type: 'Failed', reason: 'FailedIndexes', message: 'Job has failed indexes' });
    expect(failed.indexes?.map((i) => i.outcome)).toEqual([
      'succeeded',
      'succeeded',
      'succeeded',
      'succeeded',
      'failed',
    ]);
    const plain = jobState({ ...job({ active: 1 }), spec: { completions: 1 } });
    expect(plain).toEqual({ summary: 'active 1, succeeded 0, failed 0', done: null, indexes: null });
  });
});
