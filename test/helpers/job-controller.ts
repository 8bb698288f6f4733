import type { KubeObject } from '../../core/kube/client.ts';
import { objectPath, resourceType } from '../../core/kube/resources.ts';
import { adminClient } from './cluster.ts';

// envtest runs no controller-manager, so nothing ever runs a Job. These helpers do what the Job
// controller would: write the Job's status through the status subresource, as it would after a pod
// started, and after the pod succeeded or the backoff limit was reached.

const JOB = resourceType('batch/v1', 'Job');
const STAGE_JOBS = 'app.kubernetes.io/component=git-mirror-stage';

/** RFC 3339 in whole seconds, as Kubernetes writes times. */
const time = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Waits until exactly one Job matching `selector` exists in `ns` (the CLI is creating it) and returns its name. */
export async function waitForJob(ns: string, selector: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = await adminClient().list(JOB, ns, selector);
    if (jobs.length === 1) return jobs[0]!.metadata.name;
    if (jobs.length > 1)
      throw new Error(`expected one Job (${selector}) in ${ns}, found ${jobs.map((j) => j.metadata.name).join(', ')}`);
    if (Date.now() > deadline) throw new Error(`no Job (${selector}) appeared in ${ns} within ${timeoutMs}ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The one git-mirror stage Job in `ns`. */
export const waitForStageJob = (ns: string, timeoutMs?: number) => waitForJob(ns, STAGE_JOBS, timeoutMs);

async function putStatus(
  ns: string,
  name: string,
  status: (prev: Record<string, unknown>) => Record<string, unknown>,
): Promise<void> {
  const admin = adminClient();
  const job = (await admin.get(JOB, ns, name))!;
  const body: KubeObject = { ...job, status: status((job.status as Record<string, unknown> | undefined) ?? {}) };
  const path = `${objectPath(JOB, ns, name)}/status`;
  const res = await admin.raw(
    'PUT',
    path,
    { verb: 'update', resource: `Job ${ns}/${name} status`, context: 'envtest', server: admin.route.server },
    {
      contentType: 'application/json',
      data: JSON.stringify(body),
    },
  );
  if (res.status !== 200) throw new Error(`PUT ${path}: HTTP ${res.status}: ${res.body}`);
}

const condition = (type: string, reason: string, message: string, at: string) => ({
  type,
  status: 'True',
  reason,
  message,
  lastProbeTime: at,
  lastTransitionTime: at,
});

/** The pod started: startTime and one active pod. */
export function startJob(ns: string, name: string): Promise<void> {
  return putStatus(ns, name, () => ({ startTime: time(Date.now() - 1000), active: 1, ready: 0, terminating: 0 }));
}

/** The pod succeeded: SuccessCriteriaMet, then Complete, as the controller writes them. */
export function completeJob(ns: string, name: string): Promise<void> {
  const now = time(Date.now());
  return putStatus(ns, name, (prev) => ({
    startTime: prev.startTime ?? time(Date.now() - 1000),
    completionTime: now,
    active: 0,
    ready: 0,
    terminating: 0,
    succeeded: 1,
    conditions: [
      condition('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods', now),
      condition('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods', now),
    ],
  }));
}

/** The pod failed and backoffLimit (0) was reached: FailureTarget, then Failed. */
export function failJob(ns: string, name: string): Promise<void> {
  const now = time(Date.now());
  return putStatus(ns, name, (prev) => ({
    startTime: prev.startTime ?? time(Date.now() - 1000),
    active: 0,
    ready: 0,
    terminating: 0,
    failed: 1,
    conditions: [
      condition('FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now),
      condition('Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now),
    ],
  }));
}

/** A copy without `false` values: the API server omits false booleans of non-pointer fields (omitempty). */
export function dropFalse(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropFalse);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== false)
        .map(([k, x]) => [k, dropFalse(x)]),
    );
  return v;
}
