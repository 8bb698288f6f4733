import type { KubeObject } from '../../core/kube/client.ts';
import { objectPath, resourceType } from '../../core/kube/resources.ts';
import { adminClient } from './cluster.ts';

// envtest runs no controller-manager, so nothing ever runs a Job. These helpers do what the Job
// controller would: write the Job's status through the status subresource, as it would after a pod
// started, and after the pod succeeded or the backoff limit was reached. An Indexed Job (the sharded
// pass) has one pod per index: its status counts them all, and lists which indexes succeeded
// (completedIndexes) and which spent their backoffLimitPerIndex (failedIndexes).

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

/** What the Job controller reads of the spec: one pod, or one per index of an Indexed Job. */
interface JobShape {
  /** completions of an Indexed Job, else null. */
  readonly indexed: number | null;
  readonly parallelism: number;
}

async function putStatus(
  ns: string,
  name: string,
  status: (prev: Record<string, unknown>, shape: JobShape) => Record<string, unknown>,
): Promise<void> {
  const admin = adminClient();
  const job = (await admin.get(JOB, ns, name))!;
  const spec = job.spec as { completionMode?: string; completions?: number; parallelism?: number };
  const shape: JobShape = {
    indexed: spec.completionMode === 'Indexed' ? (spec.completions ?? 1) : null,
    parallelism: spec.parallelism ?? 1,
  };
  const body: KubeObject = {
    ...job,
    status: status((job.status as Record<string, unknown> | undefined) ?? {}, shape),
  };
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

/** Indexes as the Job controller lists them: sorted, runs of consecutive ones as "a-b" ("0-2,4"). */
function indexList(indexes: readonly number[]): string {
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  const runs: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    runs.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return runs.join(',');
}

const allIndexes = (n: number) => Array.from({ length: n }, (_, k) => k);

/** The pods started: startTime and one active pod (an Indexed Job: parallelism of them, one per index). */
export function startJob(ns: string, name: string): Promise<void> {
  return putStatus(ns, name, (_prev, shape) => ({
    startTime: time(Date.now() - 1000),
    active: shape.indexed === null ? 1 : shape.parallelism,
    ready: 0,
    terminating: 0,
  }));
}

/**
 * Some pods of an Indexed Job finished, the others still run: `succeeded` in completedIndexes, `failed`
 * in failedIndexes (their backoffLimitPerIndex spent), no final condition yet.
 */
export function finishIndexes(
  ns: string,
  name: string,
  done: { succeeded: readonly number[]; failed: readonly number[] },
): Promise<void> {
  return putStatus(ns, name, (prev, shape) => {
    if (shape.indexed === null) throw new Error(`Job ${ns}/${name} is not an Indexed Job`);
    const finished = done.succeeded.length + done.failed.length;
    return {
      startTime: prev.startTime ?? time(Date.now() - 1000),
      active: shape.indexed - finished,
      ready: 0,
      terminating: 0,
      succeeded: done.succeeded.length,
      failed: done.failed.length,
      completedIndexes: indexList(done.succeeded),
      ...(done.failed.length > 0 ? { failedIndexes: indexList(done.failed) } : {}),
    };
  });
}

/** Every pod succeeded (an Indexed Job: one per index): SuccessCriteriaMet, then Complete, as the controller writes them. */
export function completeJob(ns: string, name: string): Promise<void> {
  const now = time(Date.now());
  return putStatus(ns, name, (prev, shape) => ({
    startTime: prev.startTime ?? time(Date.now() - 1000),
    completionTime: now,
    active: 0,
    ready: 0,
    terminating: 0,
    succeeded: shape.indexed ?? 1,
    ...(shape.indexed === null ? {} : { completedIndexes: indexList(allIndexes(shape.indexed)) }),
    conditions: [
      condition('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods', now),
      condition('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods', now),
    ],
  }));
}

/**
 * The Job failed: one pod past backoffLimit (0): FailureTarget, then Failed (BackoffLimitExceeded). An
 * Indexed Job with backoffLimitPerIndex fails only once every index has finished: `failed` indexes
 * (default: all) spent their retries, the others succeeded; FailureTarget, then Failed (FailedIndexes).
 */
export function failJob(ns: string, name: string, failed?: readonly number[]): Promise<void> {
  const now = time(Date.now());
  return putStatus(ns, name, (prev, shape) => {
    const base = { startTime: prev.startTime ?? time(Date.now() - 1000), active: 0, ready: 0, terminating: 0 };
    if (shape.indexed === null)
      return {
        ...base,
        failed: 1,
        conditions: [
          condition('FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now),
          condition('Failed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', now),
        ],
      };
    const bad = failed ?? allIndexes(shape.indexed);
    const good = allIndexes(shape.indexed).filter((k) => !bad.includes(k));
    return {
      ...base,
      succeeded: good.length,
      failed: bad.length,
      ...(good.length > 0 ? { completedIndexes: indexList(good) } : {}),
      failedIndexes: indexList(bad),
      conditions: [
        condition('FailureTarget', 'FailedIndexes', 'Job has failed indexes', now),
        condition('Failed', 'FailedIndexes', 'Job has failed indexes', now),
      ],
    };
  });
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
