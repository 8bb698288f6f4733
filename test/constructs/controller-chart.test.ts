import { Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { ControllerChart } from '../../constructs/controller-chart.ts';
import { controllerChartPropsOf } from '../../synth/props.ts';
import { shippedRegistry } from '../../scripts/world/registry.ts';

type Obj = {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: any;
};

/** The chart of the shipped registry, or of it with `controller.pass.shards` and `controller.state.objects` set. */
function synthChart(shards?: number, objects = shards): Obj[] {
  const loaded = shippedRegistry();
  const c = loaded.registry.controller;
  const registry =
    shards === undefined
      ? loaded.registry
      : {
          ...loaded.registry,
          controller: { ...c, pass: { ...c.pass, shards }, state: { ...c.state, objects: objects ?? shards } },
        };
  const chart = new ControllerChart(Testing.app(), 'test', controllerChartPropsOf({ ...loaded, registry }));
  return Testing.synth(chart) as Obj[];
}

function only(objs: Obj[], kind: string, name?: string): Obj {
  const found = objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0]!;
}

/** Every key path in an object, for "nowhere in the manifest" assertions. */
function keysDeep(v: unknown, out: string[] = []): string[] {
  if (Array.isArray(v)) for (const x of v) keysDeep(x, out);
  else if (v && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      keysDeep(x, out);
    }
  return out;
}

describe('ControllerChart', () => {
  it('matches the snapshot of the shipped registry', () => {
    // GIVEN the shipped registry WHEN the chart is synthesized THEN the output is the reviewed one
    expect(synthChart()).toMatchSnapshot();
  });

  it('synthesizes exactly the controller objects, one state ConfigMap per state object and one Lease per shard', () => {
    const kinds = synthChart().map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds.sort()).toEqual([
      'ConfigMap/branch-follower-registry',
      'ConfigMap/branch-follower-state-0',
      'CronJob/branch-follower',
      'Lease/branch-follower-leader',
      'Lease/branch-follower-leader-0',
      'Namespace/unidesk-cicd',
      'Role/branch-follower',
      'RoleBinding/branch-follower',
      'ServiceAccount/branch-follower',
    ]);
    // GIVEN 3 shards THEN shards 0-2 each get theirs; the unsuffixed state ConfigMap (carried over) is not made
    const three = synthChart(3).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(three.filter((k) => k.startsWith('ConfigMap/branch-follower-state')).sort()).toEqual([
      'ConfigMap/branch-follower-state-0',
      'ConfigMap/branch-follower-state-1',
      'ConfigMap/branch-follower-state-2',
    ]);
    // GIVEN 2 shards over 4 state objects THEN one ConfigMap per object, one Lease per shard
    const spread = synthChart(2, 4).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(spread.filter((k) => k.startsWith('ConfigMap/branch-follower-state')).sort()).toEqual(
      [0, 1, 2, 3].map((b) => `ConfigMap/branch-follower-state-${b}`),
    );
    expect(spread.filter((k) => k.startsWith('Lease/')).sort()).toEqual([
      'Lease/branch-follower-leader',
      'Lease/branch-follower-leader-0',
      'Lease/branch-follower-leader-1',
    ]);
    expect(three.filter((k) => k.startsWith('Lease/')).sort()).toEqual([
      'Lease/branch-follower-leader',
      'Lease/branch-follower-leader-0',
      'Lease/branch-follower-leader-1',
      'Lease/branch-follower-leader-2',
    ]);
  });

  it('labels every object so apply can find and prune what it owns', () => {
    for (const o of synthChart()) {
      expect(o.metadata.labels, `${o.kind}/${o.metadata.name}`).toMatchObject({
        'app.kubernetes.io/name': 'branch-follower',
        'app.kubernetes.io/instance': 'branch-follower',
        'app.kubernetes.io/part-of': 'unidesk-cicd',
        'app.kubernetes.io/managed-by': 'branch-follower',
      });
    }
  });

  it('places every namespaced object in the controller namespace', () => {
    for (const o of synthChart().filter((x) => x.kind !== 'Namespace')) {
      expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('unidesk-cicd');
    }
  });

  describe('CronJob', () => {
    it('never overlaps passes and takes every budget from the registry', () => {
      const cj = only(synthChart(), 'CronJob');
      // GIVEN controller.cronJob in the registry THEN the same values, nothing invented
      expect(cj.spec).toMatchObject({
        schedule: '* * * * *',
        timeZone: 'Etc/UTC',
        concurrencyPolicy: 'Forbid',
        suspend: false,
        startingDeadlineSeconds: 50,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
      });
      expect(cj.spec.jobTemplate.spec).toMatchObject({ activeDeadlineSeconds: 300, backoffLimitPerIndex: 0 });
    });

    it('runs one pod per shard at once, as an Indexed Job, retried per shard', () => {
      // GIVEN controller.pass.shards 3 THEN completions = parallelism = 3, and no Job-wide backoffLimit that
      // would stop every shard when one fails
      const job = only(synthChart(3), 'CronJob').spec.jobTemplate.spec;
      expect(job).toMatchObject({ completionMode: 'Indexed', completions: 3, parallelism: 3, backoffLimitPerIndex: 0 });
      expect(job).not.toHaveProperty('backoffLimit');
      expect(only(synthChart(), 'CronJob').spec.jobTemplate.spec).toMatchObject({ completions: 1, parallelism: 1 });
    });

    it('clones the controller source from the mirror into an EmptyDir and reads nothing from the host', () => {
      const pod = only(synthChart(), 'CronJob').spec.jobTemplate.spec.template.spec;
      expect(keysDeep(pod)).not.toContain('hostPath');
      expect(pod).toMatchObject({ hostNetwork: false, hostPID: false, hostIPC: false, restartPolicy: 'Never' });
      const [clone] = pod.initContainers;
      expect(clone.command).toEqual([
        'git',
        'clone',
        '--depth',
        '1',
        '--single-branch',
        '--branch',
        'master',
        '--',
        'git://git-mirror.unidesk-cicd.svc.cluster.local/pikasTech/unidesk.git',
        '/opt/branch-follower/checkout',
      ]);
      const checkout = pod.volumes.find((v: any) => v.name === 'checkout');
      expect(checkout).toEqual({ name: 'checkout', emptyDir: { sizeLimit: '256Mi' } });
      const sources = pod.volumes.map((v: any) => Object.keys(v).find((k) => k !== 'name')).sort();
      expect(sources).toEqual(['configMap', 'emptyDir', 'emptyDir', 'persistentVolumeClaim', 'secret', 'secret']);
    });

    it('overlays the mounted registry onto the clone and runs one confirmed controller pass', () => {
      const pod = only(synthChart(), 'CronJob').spec.jobTemplate.spec.template.spec;
      const [pass] = pod.containers;
      expect(pass.workingDir).toBe('/opt/branch-follower/checkout');
      expect(pass.command).toEqual([
        'node',
        'build/branch-follower.js',
        'run-once',
        '--all',
        '--confirm',
        '--wait',
        '--controller',
        '--shard',
        '$(BRANCH_FOLLOWER_SHARD)',
      ]);
      // the shard is the pod's completion index, from the downward API; Kubernetes expands $(…) in the argv
      expect(pass.env).toContainEqual({
        name: 'BRANCH_FOLLOWER_SHARD',
        valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } },
      });
      expect(pass.volumeMounts).toContainEqual({
        name: 'registry',
        mountPath: '/opt/branch-follower/checkout/config/cicd-branch-followers.yaml',
        subPath: 'cicd-branch-followers.yaml',
        readOnly: true,
      });
      expect(pod.volumes).toContainEqual({
        name: 'registry',
        configMap: {
          name: 'branch-follower-registry',
          items: [{ key: 'cicd-branch-followers.yaml', path: 'cicd-branch-followers.yaml' }],
        },
      });
    });

    it('meets the restricted Pod Security standard in every container', () => {
      const pod = only(synthChart(), 'CronJob').spec.jobTemplate.spec.template.spec;
      expect(pod.securityContext).toEqual({
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      for (const c of [...pod.initContainers, ...pod.containers]) {
        expect(c.securityContext, c.name).toEqual({
          allowPrivilegeEscalation: false,
          privileged: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        });
      }
      // the only writable paths are the EmptyDirs and, for the pass, the mirror cache claim
      const writable = (c: any) =>
        c.volumeMounts
          .filter((m: any) => !m.readOnly)
          .map((m: any) => m.name)
          .sort();
      expect(writable(pod.initContainers[0])).toEqual(['checkout', 'tmp']);
      expect(writable(pod.containers[0])).toEqual(['checkout', 'git-mirror-cache', 'tmp']);
    });

    it('gives the pass the mirror cache claim and the githubSsh keys, for sync and flush in-process', () => {
      // GIVEN controller.gitMirror and controller.source.githubSsh THEN the claim at mountPath, each key alone under
      // sshMountPath
      const pod = only(synthChart(), 'CronJob').spec.jobTemplate.spec.template.spec;
      const mounts = pod.containers[0].volumeMounts;
      expect(mounts).toContainEqual({ name: 'git-mirror-cache', mountPath: '/var/lib/git-mirror' });
      expect(mounts).toContainEqual({
        name: 'github-ssh-identity',
        mountPath: '/etc/branch-follower/github-ssh/identity',
        readOnly: true,
      });
      expect(mounts).toContainEqual({
        name: 'github-ssh-known-hosts',
        mountPath: '/etc/branch-follower/github-ssh/known-hosts',
        readOnly: true,
      });
      expect(pod.volumes).toContainEqual({
        name: 'git-mirror-cache',
        persistentVolumeClaim: { claimName: 'git-mirror-cache', readOnly: false },
      });
      expect(pod.volumes).toContainEqual({
        name: 'github-ssh-identity',
        secret: {
          secretName: 'git-mirror-github-ssh',
          items: [{ key: 'id_ed25519', path: 'id_ed25519' }],
          defaultMode: 0o440,
          optional: true,
        },
      });
      expect(pod.volumes).toContainEqual({
        name: 'github-ssh-known-hosts',
        secret: {
          secretName: 'git-mirror-github-ssh',
          items: [{ key: 'known_hosts', path: 'known_hosts' }],
          defaultMode: 0o440,
          optional: true,
        },
      });
      // 0440 files are readable by the non-root user only through the pod's fsGroup
      expect(pod.securityContext.fsGroup).toBe(pod.securityContext.runAsGroup);
    });

    it('runs as the controller ServiceAccount with resources from the registry', () => {
      const pod = only(synthChart(), 'CronJob').spec.jobTemplate.spec.template.spec;
      expect(pod.serviceAccountName).toBe('branch-follower');
      expect(pod.containers[0].resources).toEqual({
        requests: { cpu: '100m', memory: '192Mi' },
        limits: { cpu: '1', memory: '512Mi' },
      });
      expect(pod.initContainers[0].resources).toEqual({
        requests: { cpu: '50m', memory: '64Mi' },
        limits: { cpu: '500m', memory: '256Mi' },
      });
    });
  });

  describe('RBAC', () => {
    it('grants only the Leases, the state ConfigMaps, the carry-over and Event creation, by resourceName', () => {
      const role = only(synthChart(2), 'Role');
      expect(role.rules).toEqual([
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          verbs: ['get', 'update'],
          resourceNames: ['branch-follower-leader', 'branch-follower-leader-0', 'branch-follower-leader-1'],
        },
        {
          apiGroups: [''],
          resources: ['configmaps'],
          verbs: ['get', 'update'],
          resourceNames: ['branch-follower-state-0', 'branch-follower-state-1'],
        },
        {
          apiGroups: [''],
          resources: ['configmaps'],
          verbs: ['get', 'delete'],
          resourceNames: ['branch-follower-state'],
        },
        { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
      ]);
    });

    it('grants nothing on Secrets, nothing cluster-wide and no wildcard', () => {
      const objs = synthChart();
      expect(objs.map((o) => o.kind)).not.toContain('ClusterRole');
      expect(objs.map((o) => o.kind)).not.toContain('ClusterRoleBinding');
      for (const rule of only(objs, 'Role').rules) {
        expect(rule.resources).not.toContain('secrets');
        expect([...rule.verbs, ...rule.resources, ...rule.apiGroups]).not.toContain('*');
      }
    });

    it('binds the Role to the controller ServiceAccount only', () => {
      const rb = only(synthChart(), 'RoleBinding');
      expect(rb.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'branch-follower' });
      expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'branch-follower', namespace: 'unidesk-cicd' }]);
    });

    it('does not mount a token into pods other than the pass', () => {
      expect(only(synthChart(), 'ServiceAccount').automountServiceAccountToken).toBe(false);
    });
  });

  describe('state that apply must never wipe', () => {
    it('every state ConfigMap applies no data field and is never pruned, so live records survive re-apply', () => {
      const objs = synthChart(2);
      for (const name of ['branch-follower-state-0', 'branch-follower-state-1']) {
        const state = only(objs, 'ConfigMap', name);
        expect(Object.keys(state).sort(), name).toEqual(['apiVersion', 'kind', 'metadata']);
        expect(state.metadata.annotations, name).toEqual({ 'branch-follower.unidesk.dev/prune': 'never' });
      }
    });

    it('every Lease applies only its duration, never a holder', () => {
      const leases = synthChart(2).filter((o) => o.kind === 'Lease');
      expect(leases).toHaveLength(3);
      for (const lease of leases) expect(lease.spec, lease.metadata.name).toEqual({ leaseDurationSeconds: 60 });
    });
  });

  it('the registry ConfigMap carries the registry file byte for byte', () => {
    const loaded = shippedRegistry();
    const cm = only(synthChart(), 'ConfigMap', 'branch-follower-registry');
    expect(cm.data).toEqual({ 'cicd-branch-followers.yaml': loaded.text });
  });
});
