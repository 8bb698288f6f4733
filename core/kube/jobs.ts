import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { BranchFollowerError, KubeError, WaitTimeoutError } from '../errors.ts';
import type { Manifest } from './manifest.ts';
import { FIELD_MANAGER, type KubeClient, type KubeObject } from './client.ts';
import { collectionPath, describeObject, resourceType } from './resources.ts';
import { realClock, type Clock } from '../clock.ts';
import { elapsedOf, Heartbeat } from '../heartbeat.ts';

// Jobs this CLI creates (git-mirror stage Jobs, reconcile --now) and follows: a unique name suffix,
// a strict create (or server-side dry run), and polling to the Complete or Failed condition. An
// Indexed Job (the sharded pass) is followed until every index has finished: the Job controller
// sets Complete only once succeeded = completions, and, with backoffLimitPerIndex, Failed
// (FailedIndexes) only once every index has succeeded or failed; each index's outcome is read from
// status.completedIndexes and status.failedIndexes.

const JOB = resourceType('batch/v1', 'Job');

/** A short random suffix: every run gets its own Job. */
export function runSuffix(): string {
  return randomBytes(4).readUInt32BE(0).toString(36).padStart(5, '0').slice(-5);
}

/**
 * POST of the Job under the field manager, strict field validation; `dryRun` writes nothing. A create
 * whose first try landed but whose answer was lost is answered 409 AlreadyExists when tried again:
 * the Job of that name (made with a random suffix before the first try) with the labels sent is this
 * create's own, and is returned as created.
 */
export async function createJob(client: KubeClient, job: Manifest, dryRun: boolean): Promise<KubeObject> {
  const ns = job.metadata.namespace!;
  const query = new URLSearchParams({ fieldManager: FIELD_MANAGER, fieldValidation: 'Strict' });
  if (dryRun) query.set('dryRun', 'All');
  try {
    return await client.post<KubeObject>(
      `${collectionPath(JOB, ns)}?${query}`,
      job,
      dryRun ? 'create (dry-run)' : 'create',
      describeObject('Job', ns, job.metadata.name),
    );
  } catch (err) {
    if (dryRun || !(err instanceof KubeError && err.status === 409)) throw err;
    const existing = await client.get(JOB, ns, job.metadata.name);
    if (existing && isDeepStrictEqual(existing.metadata.labels ?? {}, job.metadata.labels ?? {})) return existing;
    throw err;
  }
}

/** What became of one index of an Indexed Job: succeeded, failed (its retries spent), or not finished yet. */
interface IndexOutcome {
  readonly index: number;
  readonly outcome: 'succeeded' | 'failed' | 'unfinished';
}

/** Where a Job stands, from its status; pure. */
export interface JobState {
  /** One line for progress: the counts and true conditions, or the final condition. */
  readonly summary: string;
  readonly done: { readonly type: 'Complete' | 'Failed'; readonly reason: string; readonly message: string } | null;
  /** Each index of an Indexed Job, in order; null for any other Job. */
  readonly indexes: readonly IndexOutcome[] | null;
}

interface JobStatus {
  active?: number;
  succeeded?: number;
  failed?: number;
  completedIndexes?: string;
  failedIndexes?: string;
  conditions?: { type: string; status: string; reason?: string; message?: string }[];
}

/** The indexes of a Job status list such as "0,2-4" (how completedIndexes and failedIndexes are written). */
function parseIndexList(list: string | undefined): Set<number> {
  const out = new Set<number>();
  for (const item of (list ?? '').split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(item.trim());
    if (!m) continue;
    const [from, to] = [Number(m[1]), Number(m[2] ?? m[1])];
    for (let k = from; k <= to; k++) out.add(k);
  }
  return out;
}

function indexOutcomes(job: KubeObject, s: JobStatus): IndexOutcome[] | null {
  const spec = (job.spec as { completionMode?: string; completions?: number } | undefined) ?? {};
  if (spec.completionMode !== 'Indexed' || spec.completions === undefined) return null;
  const succeeded = parseIndexList(s.completedIndexes);
  const failed = parseIndexList(s.failedIndexes);
  return Array.from({ length: spec.completions }, (_, index) => ({
    index,
    outcome: succeeded.has(index) ? 'succeeded' : failed.has(index) ? 'failed' : 'unfinished',
  }));
}

export function jobState(job: KubeObject): JobState {
  const s = (job.status as JobStatus | undefined) ?? {};
  const indexes = indexOutcomes(job, s);
  const trueConditions = (s.conditions ?? []).filter((c) => c.status === 'True');
  const final = trueConditions.find((c) => c.type === 'Complete' || c.type === 'Failed');
  if (final) {
    const done = {
      type: final.type as 'Complete' | 'Failed',
      reason: final.reason ?? '',
      message: final.message ?? '',
    };
    const why = [done.reason, done.message].filter((x) => x !== '').join(': ');
    return { summary: why ? `${done.type} (${why})` : done.type, done, indexes };
  }
  const others = trueConditions.map((c) => c.type);
  const of = indexes ? `/${indexes.length}` : '';
  const counts = `active ${s.active ?? 0}, succeeded ${s.succeeded ?? 0}${of}, failed ${s.failed ?? 0}`;
  return { summary: others.length > 0 ? `${counts}, ${others.join(', ')}` : counts, done: null, indexes };
}

// Polls the Job every pollIntervalSeconds until it has a Complete or Failed condition, printing one
// progress line whenever what it shows changes, and a heartbeat when it printed nothing for
// heartbeatSeconds; gives up after waitSeconds. The Job keeps running then.
export async function followJob(
  client: KubeClient,
  job: Manifest,
  budget: { waitSeconds: number; pollIntervalSeconds: number; heartbeatSeconds: number; path: string; after: string },
  progress: (line: string) => void,
  clock: Clock = realClock,
): Promise<JobState & { elapsedMs: number }> {
  const ns = job.metadata.namespace!;
  const name = job.metadata.name;
  const label = describeObject('Job', ns, name);
  const start = clock.now();
  const heartbeat = new Heartbeat(clock, budget.heartbeatSeconds * 1000, progress);
  let last = '';
  for (;;) {
    const live = await client.get(JOB, ns, name);
    if (!live) {
      throw new BranchFollowerError(
        `${label} is gone before it finished (deleted by someone, or its TTL passed); run \`${budget.after}\` to see ` +
          `what it did`,
        {
          reason: 'KubeNotFound',
          retryable: false,
        },
      );
    }
    const state = jobState(live);
    const elapsedMs = clock.now() - start;
    if (state.summary !== last) {
      progress(`  ${label}: ${state.summary} (${(elapsedMs / 1000).toFixed(1)}s)`);
      heartbeat.beat();
      last = state.summary;
    }
    if (state.done) return { ...state, elapsedMs };
    if (elapsedMs + budget.pollIntervalSeconds * 1000 > budget.waitSeconds * 1000) {
      throw new WaitTimeoutError(
        `${label} did not finish within ${budget.waitSeconds}s (${budget.path}); last seen: ${state.summary}. ` +
          `It keeps running until its activeDeadlineSeconds: follow it with \`kubectl -n ${ns} get job ${name}\`, ` +
          `then run \`${budget.after}\``,
      );
    }
    await heartbeat.sleep(
      budget.pollIntervalSeconds * 1000,
      () =>
        `  still waiting: ${elapsedOf(clock.now() - start, { ms: budget.waitSeconds * 1000, path: budget.path })}; ` +
        `${label}: ${last}`,
    );
  }
}
