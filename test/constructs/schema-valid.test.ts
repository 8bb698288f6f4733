import { describe, expect, it } from 'vitest';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { Lease } from 'kubernetes-models/coordination.k8s.io/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, ServiceAccount } from 'kubernetes-models/v1';
import { GIT_MIRROR_STAGES } from '../../constructs/git-mirror-stage-job.ts';
import { synthesize } from '../../synth/manifests.ts';
import type { Manifest } from '../../core/kube/manifest.ts';
import { synthesizeStageJob } from '../../synth/stage-job.ts';
import { shippedRegistry } from '../../scripts/world/registry.ts';

// Validators generated from the Kubernetes OpenAPI schemas (kubernetes-models), keyed as objects are.
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'coordination.k8s.io/v1/Lease': Lease,
  'batch/v1/CronJob': CronJob,
  'batch/v1/Job': Job,
};

function validate(m: Manifest): void {
  const Model = MODELS[`${m.apiVersion}/${m.kind}`];
  if (!Model) throw new Error(`no schema for ${m.apiVersion}/${m.kind}`);
  new Model(structuredClone(m)).validate();
}

describe('synthesized objects against the Kubernetes OpenAPI schemas', () => {
  const manifests = synthesize(shippedRegistry());

  it.each(manifests.map((m) => [`${m.kind}/${m.metadata.name}`, m] as const))('%s is schema-valid', (_, m) => {
    expect(() => validate(m)).not.toThrow();
  });

  // The stage Jobs are not in dist/ (each run creates its own), but they are checked the same way.
  const stageJobs = GIT_MIRROR_STAGES.map((stage) =>
    synthesizeStageJob(shippedRegistry(), {
      stage,
      name: `branch-follower-mirror-${stage}-a1b2c`,
      mirror: 'hwlab',
      follower: stage === 'sync' ? undefined : 'hwlab-jd01-v03',
    }),
  );

  it.each(stageJobs.map((m) => [`git-mirror stage Job ${m.metadata.name}`, m] as const))(
    '%s is schema-valid',
    (_, m) => {
      expect(() => validate(m)).not.toThrow();
    },
  );

  it('the validator does reject a broken object (so the checks above can fail)', () => {
    const cronJob = manifests.find((m) => m.kind === 'CronJob')!;
    const broken = structuredClone(cronJob) as any;
    broken.spec.jobTemplate.spec.backoffLimit = 'zero';
    expect(() => validate(broken)).toThrow();
    const missing = structuredClone(cronJob) as any;
    delete missing.spec.jobTemplate;
    expect(() => validate(missing)).toThrow();
    const badJob = structuredClone(stageJobs[0]) as any;
    badJob.spec.template.spec.volumes[4].secret.defaultMode = '0440';
    expect(() => validate(badJob)).toThrow();
  });
});
