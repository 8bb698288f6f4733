import { afterAll, describe, expect, it } from 'vitest';
import { INSTANTIATE_ANNOTATION } from '../../src/cli/reconcile.ts';
import { resourceType } from '../../core/kube/resources.ts';
import { cli } from '../helpers/cli.ts';
import {
  adminClient,
  appliedFixture,
  auditEvents,
  clusterFixture,
  kubeconfig,
  MUTATING,
  uniqueNamespace,
} from '../helpers/cluster.ts';
import { completeJob, failJob, finishIndexes, startJob, waitForJob } from '../helpers/job-controller.ts';
import { removeFixtures } from '../helpers/registry-fixture.ts';

// `reconcile --now` against a real kube-apiserver: the Job it makes from the live CronJob, as
// `kubectl create job --from=cronjob/...` does. envtest runs no controller-manager, so the tests play
// the Job controller through the status subresource.

const JOB = resourceType('batch/v1', 'Job');
const CRONJOB = resourceType('batch/v1', 'CronJob');
const PASS_JOBS = 'app.kubernetes.io/component=reconcile-pass';

afterAll(() => removeFixtures());

const applied = appliedFixture;

const reconcile = (root: string, argv: string[]) =>
  cli(['reconcile', ...argv, '--kubeconfig', kubeconfig()], { cwd: root });
const writes = (ns: string) =>
  auditEvents((e) => MUTATING.has(e.verb) && !e.requestURI.includes('dryRun=') && e.objectRef?.namespace === ns);

describe('reconcile --now against a real API server', () => {
  it('creates one Job from the live CronJob template, owned by the CronJob, marked manual, with a unique name', async () => {
    const { ns, root } = await applied('reconcile');
    const r = await reconcile(root, ['--now']);
    expect(r.code, r.stderr).toBe(0);
    const admin = adminClient();
    const [job] = await admin.list(JOB, ns, PASS_JOBS);
    const cronJob = (await admin.get(CRONJOB, ns, 'branch-follower'))!;
    expect(job).toBeDefined();
    expect(job!.metadata.name).toMatch(/^branch-follower-now-[0-9a-z]{5}$/);
    expect(r.stdout).toContain(`created Job ${ns}/${job!.metadata.name}`);
    expect(job!.metadata.ownerReferences).toEqual([
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        name: 'branch-follower',
        uid: cronJob.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(job!.metadata.annotations).toMatchObject({ [INSTANTIATE_ANNOTATION]: 'manual' });
    const tpl = (
      cronJob.spec as {
        jobTemplate: {
          metadata: { labels: Record<string, string> };
          spec: { template: { spec: unknown }; activeDeadlineSeconds: number; backoffLimit: number };
        };
      }
    ).jobTemplate;
    expect(job!.metadata.labels).toMatchObject(tpl.metadata.labels);
    const spec = job!.spec as {
      template: { spec: unknown };
      activeDeadlineSeconds: number;
      backoffLimit: number;
      backoffLimitPerIndex: number;
    };
    // The pod is exactly the scheduled one (the server adds only its defaults to both alike).
    expect(spec.template.spec).toEqual(tpl.spec.template.spec);
    expect(spec).toMatchObject({
      activeDeadlineSeconds: tpl.spec.activeDeadlineSeconds,
      backoffLimitPerIndex: 0,
      completionMode: 'Indexed',
    });
    // Retries are per shard: the API server leaves no Job-wide limit that would stop the other shards.
    expect(spec.backoffLimit).toBe(2147483647);

    const again = await reconcile(root, ['--now']);
    expect(again.code, again.stderr).toBe(0);
    const names = (await admin.list(JOB, ns, PASS_JOBS)).map((j) => j.metadata.name);
    expect(new Set(names).size).toBe(2);
  });

  it('--dry-run is a server-side dry run: nothing is written', async () => {
    const { ns, root } = await applied('reconcile-dry');
    const mark = writes(ns).length;
    const r = await reconcile(root, ['--now', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /would create Job \S+\/branch-follower-now-[0-9a-z]{5} from CronJob \S+\/branch-follower \(server-side dry run: nothing was written\)/,
    );
    expect(writes(ns).slice(mark)).toEqual([]);
    expect(
      auditEvents(
        (e) =>
          e.verb === 'create' &&
          e.requestURI.includes('dryRun=All') &&
          e.objectRef?.namespace === ns &&
          e.objectRef?.resource === 'jobs',
      ),
    ).toHaveLength(1);
    expect(await adminClient().list(JOB, ns, PASS_JOBS)).toEqual([]);
  });

  it('--wait follows the Job to Complete (exit 0) or Failed (exit 5)', async () => {
    const { ns, root } = await applied('reconcile-wait');
    const ok = reconcile(root, ['--now', '--wait']);
    const first = await waitForJob(ns, PASS_JOBS);
    await startJob(ns, first);
    await completeJob(ns, first);
    const done = await ok;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toMatch(/waiting for Job \S+ \(budget 330s, controller\.reconcile\.waitSeconds\)/);
    expect(done.stdout).toMatch(
      new RegExp(`Job ${ns}/${first}: Complete \\(CompletionsReached: .*\\) after \\d+\\.\\ds`),
    );

    await adminClient().delete(JOB, ns, first);
    const bad = reconcile(root, ['--now', '--wait']);
    const second = await waitForJob(ns, PASS_JOBS);
    await failJob(ns, second);
    const failed = await bad;
    expect(failed.code).toBe(5);
    expect(failed.stdout).toMatch(/Failed \(FailedIndexes: Job has failed indexes\)/);
    expect(failed.stdout).toMatch(/^ {2}shard 0: failed$/m);
  });

  it('--wait follows every shard of the Indexed Job and says per shard what happened', async () => {
    // GIVEN three shards WHEN shards 0 and 2 finish THEN still waiting; once shard 1 spent its retries THEN
    // Failed (exit 5), with one line per shard
    const { ns, root } = await applied('reconcile-shards', [
      { from: 'shards: 1', to: 'shards: 3' },
      { from: 'objects: 1', to: 'objects: 3' },
    ]);
    const run = reconcile(root, ['--now', '--wait', '-o', 'json']);
    const name = await waitForJob(ns, PASS_JOBS);
    const job = (await adminClient().get(JOB, ns, name))!;
    expect(job.spec).toMatchObject({ completionMode: 'Indexed', completions: 3, parallelism: 3 });
    await startJob(ns, name);
    await finishIndexes(ns, name, { succeeded: [0, 2], failed: [] });
    await failJob(ns, name, [1]);
    const r = await run;
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/: active \d, succeeded \d\/3, failed \d \(/);
    const out = JSON.parse(r.stdout) as { result: { condition: { reason: string }; shards: unknown[] } };
    expect(out.result.condition.reason).toBe('FailedIndexes');
    expect(out.result.shards).toEqual([
      { shard: 0, outcome: 'succeeded' },
      { shard: 1, outcome: 'failed' },
      { shard: 2, outcome: 'succeeded' },
    ]);

    await adminClient().delete(JOB, ns, name);
    const ok = reconcile(root, ['--now', '--wait']);
    const second = await waitForJob(ns, PASS_JOBS);
    await startJob(ns, second);
    await completeJob(ns, second);
    const done = await ok;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/^ {2}shard 0: succeeded\n {2}shard 1: succeeded\n {2}shard 2: succeeded$/m);
  });

  it('--wait says it still waits every controller.progress.heartbeatSeconds, gives up after waitSeconds and says so', async () => {
    const { ns, root } = await applied('reconcile-slow', [
      { from: 'waitSeconds: 330\n    pollIntervalSeconds: 2', to: 'waitSeconds: 5\n    pollIntervalSeconds: 2' },
      { from: 'heartbeatSeconds: 10', to: 'heartbeatSeconds: 1' },
    ]);
    const r = await reconcile(root, ['--now', '--wait']);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/did not finish within 5s \(controller\.reconcile\.waitSeconds\)/);
    // Nothing changed for the whole wait: one line on creation, then a heartbeat each second between polls.
    const beats = r.stderr.split('\n').filter((l) => l.startsWith('  still waiting: '));
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats[0]).toMatch(
      new RegExp(`^ {2}still waiting: \\ds of 5s \\(controller\\.reconcile\\.waitSeconds\\); Job ${ns}/\\S+: active 0`),
    );
  });

  it('a missing CronJob is named, with the command that creates it; no --now is a usage error', async () => {
    const ns = uniqueNamespace('reconcile-none');
    const root = clusterFixture(ns);
    const r = await reconcile(root, ['--now']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(
      `CronJob ${ns}/branch-follower does not exist; run \`branch-follower apply --confirm --wait\` first`,
    );
    const u = await reconcile(root, []);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/reconcile needs --now/);
  });
});
