import { Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { ControllerCronJob, type ControllerCronJobProps } from '../../constructs/controller-cron-job.ts';

const resources = { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '32Mi' } };
const props: ControllerCronJobProps = {
  namespace: 'ns',
  name: 'pass',
  podLabels: { app: 'x' },
  schedule: '*/5 * * * *',
  timeZone: 'Europe/Berlin',
  concurrencyPolicy: 'Forbid',
  suspend: true,
  startingDeadlineSeconds: 20,
  activeDeadlineSeconds: 200,
  backoffLimit: 1,
  shards: 3,
  successfulJobsHistoryLimit: 1,
  failedJobsHistoryLimit: 5,
  serviceAccountName: 'sa',
  image: { ref: 'img@sha256:abc', pullPolicy: 'Always', appDir: '/app', runAsUser: 2000, runAsGroup: 3000 },
  source: { url: 'git://mirror/x.git', ref: 'v1' },
  registry: { parts: [{ configMapName: 'reg', key: 'r.yaml' }], sha256: 'f'.repeat(64), overlayPath: 'config/r.yaml' },
  resources: { clone: resources, pass: resources },
  scratch: { checkoutSizeLimit: '1Gi', tmpSizeLimit: '8Mi' },
  gitMirror: {
    claimName: 'cache-claim',
    mountPath: '/srv/mirror',
    sshMountPath: '/etc/ssh-keys',
    identity: { secretName: 'id-secret', key: 'key' },
    knownHosts: { secretName: 'kh-secret', key: 'hosts' },
  },
};

describe('ControllerCronJob', () => {
  it('passes every prop through without inventing values', () => {
    // GIVEN props unlike the shipped registry WHEN synthesized THEN each shows up where it belongs
    const chart = Testing.chart();
    const cj = new ControllerCronJob(chart, 'cj', props);
    const [obj] = Testing.synth(chart) as any[];
    expect(obj.spec).toMatchObject({
      schedule: '*/5 * * * *',
      timeZone: 'Europe/Berlin',
      suspend: true,
      startingDeadlineSeconds: 20,
    });
    expect(obj.spec.jobTemplate.spec).toMatchObject({
      activeDeadlineSeconds: 200,
      backoffLimitPerIndex: 1,
      completionMode: 'Indexed',
      completions: 3,
      parallelism: 3,
    });
    const pod = obj.spec.jobTemplate.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsUser: 2000, runAsGroup: 3000 });
    expect(pod.initContainers[0].command.slice(-2)).toEqual(['git://mirror/x.git', '/app/checkout']);
    expect(pod.containers[0].volumeMounts[2]).toMatchObject({
      mountPath: '/app/checkout/config/r.yaml',
      subPath: 'r.yaml',
    });
    expect(pod.volumes[1]).toEqual({ name: 'tmp', emptyDir: { sizeLimit: '8Mi' } });
    expect(cj.checkoutDir).toBe('/app/checkout');
  });

  it('mounts the mirror cache claim read-write and each githubSsh key read-only, for the in-process sync and flush', () => {
    // GIVEN gitMirror props WHEN synthesized THEN the pass container sees the claim and exactly the two keys
    const chart = Testing.chart();
    new ControllerCronJob(chart, 'cj', props);
    const pod = (Testing.synth(chart) as any[])[0].spec.jobTemplate.spec.template.spec;
    expect(pod.securityContext.fsGroup).toBe(3000);
    const mounts = pod.containers[0].volumeMounts;
    expect(mounts).toContainEqual({ name: 'git-mirror-cache', mountPath: '/srv/mirror' });
    expect(mounts).toContainEqual({
      name: 'github-ssh-identity',
      mountPath: '/etc/ssh-keys/identity',
      readOnly: true,
    });
    expect(mounts).toContainEqual({
      name: 'github-ssh-known-hosts',
      mountPath: '/etc/ssh-keys/known-hosts',
      readOnly: true,
    });
    expect(pod.volumes).toContainEqual({
      name: 'git-mirror-cache',
      persistentVolumeClaim: { claimName: 'cache-claim', readOnly: false },
    });
    expect(pod.volumes).toContainEqual({
      name: 'github-ssh-identity',
      secret: { secretName: 'id-secret', items: [{ key: 'key', path: 'key' }], defaultMode: 0o440, optional: true },
    });
    expect(pod.volumes).toContainEqual({
      name: 'github-ssh-known-hosts',
      secret: {
        secretName: 'kh-secret',
        items: [{ key: 'hosts', path: 'hosts' }],
        defaultMode: 0o440,
        optional: true,
      },
    });
    // the clone needs none of it
    expect(pod.initContainers[0].volumeMounts.map((m: any) => m.name)).toEqual(['checkout', 'tmp']);
  });

  it('puts a registry of several parts back together over the clone, checked against its SHA-256', () => {
    // GIVEN three part ConfigMaps WHEN synthesized THEN one projected volume shows them to an init container
    // that runs after the clone, and the pass container mounts nothing of the registry itself
    const parts = [0, 1, 2].map((k) => ({ configMapName: `reg-${k}`, key: `r.yaml.part-00${k}` }));
    const chart = Testing.chart();
    new ControllerCronJob(chart, 'cj', { ...props, registry: { ...props.registry, parts } });
    const pod = (Testing.synth(chart) as any[])[0].spec.jobTemplate.spec.template.spec;
    expect(pod.initContainers.map((c: any) => c.name)).toEqual(['clone-source', 'assemble-registry']);
    const assemble = pod.initContainers[1];
    expect(assemble.command.slice(0, 2)).toEqual(['node', '-e']);
    expect(assemble.command.slice(3)).toEqual([
      '/app/checkout/config/r.yaml',
      'f'.repeat(64),
      '/app/registry-parts/r.yaml.part-000',
      '/app/registry-parts/r.yaml.part-001',
      '/app/registry-parts/r.yaml.part-002',
    ]);
    expect(assemble.volumeMounts).toEqual([
      { name: 'checkout', mountPath: '/app/checkout' },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'registry-parts', mountPath: '/app/registry-parts', readOnly: true },
    ]);
    expect(pod.volumes).toContainEqual({
      name: 'registry-parts',
      projected: {
        sources: parts.map((p) => ({
          configMap: { name: p.configMapName, items: [{ key: p.key, path: p.key }] },
        })),
      },
    });
    expect(pod.volumes.map((v: any) => v.name)).not.toContain('registry');
    expect(pod.containers[0].volumeMounts.map((m: any) => m.name)).not.toContain('registry');
  });

  it.each([
    [
      { mountPath: '/etc/ssh-keys/cache' },
      'gitMirror.mountPath "/etc/ssh-keys/cache" and gitMirror.sshMountPath "/etc/ssh-keys" must not contain ' +
        'one another',
    ],
    [
      { mountPath: '/app/checkout/cache' },
      'gitMirror.mountPath "/app/checkout/cache" must not overlap the checkout (/app/checkout) nor be or hold /tmp',
    ],
    [
      { sshMountPath: '/tmp' },
      'gitMirror.sshMountPath "/tmp" must not overlap the checkout (/app/checkout) nor be or hold /tmp',
    ],
  ])('refuses mount paths that would shadow one another (%o)', (over, message) => {
    const chart = Testing.chart();
    expect(() => new ControllerCronJob(chart, 'cj', { ...props, gitMirror: { ...props.gitMirror, ...over } })).toThrow(
      message,
    );
  });

  it.each(['/etc/registry.yaml', '../outside.yaml'])(
    'refuses a registry overlay path outside the checkout (%s)',
    (overlayPath) => {
      const chart = Testing.chart();
      expect(
        () => new ControllerCronJob(chart, 'cj', { ...props, registry: { ...props.registry, overlayPath } }),
      ).toThrow(`registry.overlayPath must be a path inside the checkout, got "${overlayPath}"`);
    },
  );
});
