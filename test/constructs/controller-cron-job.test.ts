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
  successfulJobsHistoryLimit: 1,
  failedJobsHistoryLimit: 5,
  serviceAccountName: 'sa',
  image: { ref: 'img@sha256:abc', pullPolicy: 'Always', appDir: '/app', runAsUser: 2000, runAsGroup: 3000 },
  source: { url: 'git://mirror/x.git', ref: 'v1' },
  registry: { configMapName: 'reg', key: 'r.yaml', overlayPath: 'config/r.yaml' },
  resources: { clone: resources, pass: resources },
  scratch: { checkoutSizeLimit: '1Gi', tmpSizeLimit: '8Mi' },
};

describe('ControllerCronJob', () => {
  it('passes every prop through without inventing values', () => {
    // GIVEN props unlike the shipped registry WHEN synthesized THEN each shows up where it belongs
    const chart = Testing.chart();
    const cj = new ControllerCronJob(chart, 'cj', props);
    const [obj] = Testing.synth(chart) as any[];
    expect(obj.spec).toMatchObject({ schedule: '*/5 * * * *', timeZone: 'Europe/Berlin', suspend: true, startingDeadlineSeconds: 20 });
    expect(obj.spec.jobTemplate.spec).toMatchObject({ activeDeadlineSeconds: 200, backoffLimit: 1 });
    const pod = obj.spec.jobTemplate.spec.template.spec;
    expect(pod.securityContext).toMatchObject({ runAsUser: 2000, runAsGroup: 3000 });
    expect(pod.initContainers[0].command.slice(-2)).toEqual(['git://mirror/x.git', '/app/checkout']);
    expect(pod.containers[0].volumeMounts[2]).toMatchObject({ mountPath: '/app/checkout/config/r.yaml', subPath: 'r.yaml' });
    expect(pod.volumes[1]).toEqual({ name: 'tmp', emptyDir: { sizeLimit: '8Mi' } });
    expect(cj.checkoutDir).toBe('/app/checkout');
  });

  it.each(['/etc/registry.yaml', '../outside.yaml'])('refuses a registry overlay path outside the checkout (%s)', (overlayPath) => {
    const chart = Testing.chart();
    expect(() => new ControllerCronJob(chart, 'cj', { ...props, registry: { ...props.registry, overlayPath } })).toThrow(
      `registry.overlayPath must be a path inside the checkout, got "${overlayPath}"`,
    );
  });
});
