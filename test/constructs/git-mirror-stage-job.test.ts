import { Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { GitMirrorStageJob, stageJobName, type GitMirrorStageJobProps } from '../../constructs/git-mirror-stage-job.ts';
import { stageJobPropsOf } from '../../synth/props.ts';
import { synthesizeStageJob } from '../../synth/stage-job.ts';
import { shippedRegistry } from '../../scripts/world/registry.ts';

const NAME = 'branch-follower-mirror-sync-a1b2c';

function synthJob(props: GitMirrorStageJobProps): any {
  const chart = Testing.chart();
  new GitMirrorStageJob(chart, 'job', props);
  const objs = Testing.synth(chart) as any[];
  expect(objs).toHaveLength(1);
  return objs[0];
}

const shippedProps = (over: Partial<Parameters<typeof stageJobPropsOf>[1]> = {}) =>
  stageJobPropsOf(shippedRegistry(), { stage: 'sync', name: NAME, mirror: undefined, follower: undefined, ...over });

describe('GitMirrorStageJob', () => {
  it('runs the stage with --local against the mounted cache, and nothing else on the command line', () => {
    // GIVEN the shipped registry WHEN a sync Job is synthesized THEN its argv is the CLI's own --local stage
    const job = synthJob(shippedProps());
    const [c] = job.spec.template.spec.containers;
    expect(c.name).toBe('git-mirror-sync');
    expect(c.command).toEqual([
      'node',
      'build/branch-follower.js',
      'git-mirror',
      'sync',
      '--local',
      '--mirror-dir',
      '/var/lib/git-mirror',
      '--confirm',
    ]);
    expect(c.workingDir).toBe('/opt/branch-follower/checkout');
    // no proxy or credentials from the environment: the transport reads the registry
    expect(c.env).toEqual([
      { name: 'HOME', value: '/tmp' },
      { name: 'GIT_TERMINAL_PROMPT', value: '0' },
    ]);
  });

  it('passes on the mirror and follower the operator gave; status takes no --confirm', () => {
    const flush = synthJob(shippedProps({ stage: 'flush', mirror: 'hwlab', follower: 'hwlab-jd01-v03' }));
    expect(flush.spec.template.spec.containers[0].command.slice(3)).toEqual([
      'flush',
      '--local',
      '--mirror-dir',
      '/var/lib/git-mirror',
      '--confirm',
      '--mirror',
      'hwlab',
      '--follower',
      'hwlab-jd01-v03',
    ]);
    const status = synthJob(shippedProps({ stage: 'status', follower: 'agentrun-jd01-v02' }));
    expect(status.spec.template.spec.containers[0].command.slice(3)).toEqual([
      'status',
      '--local',
      '--mirror-dir',
      '/var/lib/git-mirror',
      '--follower',
      'agentrun-jd01-v02',
    ]);
  });

  it('takes its deadlines, retries, TTL and resources from controller.gitMirror', () => {
    // GIVEN controller.gitMirror of the shipped registry THEN the same values, nothing invented
    const c = shippedRegistry().registry.controller;
    const job = synthJob(shippedProps());
    expect(job.metadata).toMatchObject({ name: NAME, namespace: c.namespace });
    expect(job.spec).toMatchObject({
      activeDeadlineSeconds: c.gitMirror.stageJob.activeDeadlineSeconds,
      backoffLimit: c.gitMirror.stageJob.backoffLimit,
      ttlSecondsAfterFinished: c.gitMirror.stageJob.ttlSecondsAfterFinished,
    });
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.containers[0].resources).toEqual(c.gitMirror.resources);
    expect(pod.initContainers[0].resources).toEqual(c.resources.clone);
  });

  it('runs as the controller ServiceAccount without an API token, as the image user with fsGroup = runAsGroup', () => {
    const pod = synthJob(shippedProps()).spec.template.spec;
    expect(pod.serviceAccountName).toBe('branch-follower');
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      fsGroup: 10001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod).toMatchObject({ hostNetwork: false, hostPID: false, hostIPC: false, enableServiceLinks: false });
    for (const c of [...pod.initContainers, ...pod.containers]) {
      expect(c.securityContext, c.name).toEqual({
        allowPrivilegeEscalation: false,
        privileged: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ['ALL'] },
      });
    }
  });

  it('clones the controller source and overlays the registry as the CronJob does', () => {
    const pod = synthJob(shippedProps()).spec.template.spec;
    expect(pod.initContainers[0].command).toEqual([
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
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: 'registry',
      mountPath: '/opt/branch-follower/checkout/config/cicd-branch-followers.yaml',
      subPath: 'cicd-branch-followers.yaml',
      readOnly: true,
    });
  });

  it('mounts the cache claim read-write and exactly one key of each Secret read-only, mode 0440', () => {
    const pod = synthJob(shippedProps()).spec.template.spec;
    expect(pod.containers[0].volumeMounts).toEqual([
      { name: 'checkout', mountPath: '/opt/branch-follower/checkout' },
      { name: 'tmp', mountPath: '/tmp' },
      {
        name: 'registry',
        mountPath: '/opt/branch-follower/checkout/config/cicd-branch-followers.yaml',
        subPath: 'cicd-branch-followers.yaml',
        readOnly: true,
      },
      { name: 'git-mirror-cache', mountPath: '/var/lib/git-mirror' },
      { name: 'github-ssh-identity', mountPath: '/etc/branch-follower/github-ssh/identity', readOnly: true },
      { name: 'github-ssh-known-hosts', mountPath: '/etc/branch-follower/github-ssh/known-hosts', readOnly: true },
    ]);
    expect(pod.volumes.slice(3)).toEqual([
      { name: 'git-mirror-cache', persistentVolumeClaim: { claimName: 'git-mirror-cache', readOnly: false } },
      {
        name: 'github-ssh-identity',
        secret: {
          secretName: 'git-mirror-github-ssh',
          items: [{ key: 'id_ed25519', path: 'id_ed25519' }],
          defaultMode: 0o440,
          optional: true,
        },
      },
      {
        name: 'github-ssh-known-hosts',
        secret: {
          secretName: 'git-mirror-github-ssh',
          items: [{ key: 'known_hosts', path: 'known_hosts' }],
          defaultMode: 0o440,
          optional: true,
        },
      },
    ]);
  });

  it('labels the Job and its pod as the controller owns them, plus component and stage', () => {
    const job = synthJob(shippedProps({ stage: 'flush' }));
    const expected = {
      'app.kubernetes.io/name': 'branch-follower',
      'app.kubernetes.io/instance': 'branch-follower',
      'app.kubernetes.io/part-of': 'unidesk-cicd',
      'app.kubernetes.io/managed-by': 'branch-follower',
      'app.kubernetes.io/component': 'git-mirror-stage',
      'branch-follower.unidesk.dev/git-mirror-stage': 'flush',
    };
    expect(job.metadata.labels).toEqual(expected);
    expect(job.spec.template.metadata.labels).toEqual(expected);
  });

  it('refuses a name that is not a DNS-1123 label, and --follower on sync', () => {
    const chart = Testing.chart();
    expect(() => new GitMirrorStageJob(chart, 'a', { ...shippedProps(), name: `${'x'.repeat(60)}-toolong` })).toThrow(
      /must be a DNS-1123 label of at most 63 characters/,
    );
    expect(() => new GitMirrorStageJob(chart, 'b', { ...shippedProps(), name: 'Upper' })).toThrow(/got "Upper"/);
    expect(() => new GitMirrorStageJob(chart, 'c', shippedProps({ follower: 'hwlab-jd01-v03' }))).toThrow(
      'follower applies to flush and status only',
    );
  });

  it('synthesizeStageJob gives the same object as the construct, in memory', () => {
    expect(
      synthesizeStageJob(shippedRegistry(), { stage: 'sync', name: NAME, mirror: undefined, follower: undefined }),
    ).toEqual(synthJob(shippedProps()));
  });
});

describe('stageJobName', () => {
  it('is <prefix>-mirror-<stage>-<suffix> and shortens a long prefix to stay within 63 characters', () => {
    expect(stageJobName('branch-follower', 'flush', 'x1y2z')).toBe('branch-follower-mirror-flush-x1y2z');
    const long = stageJobName(`${'a'.repeat(42)}-bbbbbbbb`, 'status', 'x1y2z');
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toBe(`${'a'.repeat(42)}-mirror-status-x1y2z`); // cut at a '-': no doubled '-'
  });
});
