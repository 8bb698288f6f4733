import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotRefName } from '../../runner/observe/snapshot-ref.ts';
import { loadRegistry } from '../../core/config/load.ts';
import { fingerprint } from '../../core/kube/normalize.ts';
import { resourceType } from '../../core/kube/resources.ts';
import { synthesizeStageJob } from '../../synth/stage-job.ts';
import { cli } from '../helpers/cli.ts';
import { adminClient, appliedFixture, auditEvents, kubeconfig, MUTATING } from '../helpers/cluster.ts';
import { completeJob, dropFalse, failJob, startJob, waitForStageJob } from '../helpers/job-controller.ts';
import { startGitServer, type GitServer } from '../../scripts/world/git-server.ts';
import { REGISTRY, removeFixtures } from '../helpers/registry-fixture.ts';

// `git-mirror sync|flush|status` without --local, against a real kube-apiserver (envtest: no
// controller-manager, so the tests play the Job controller through the status subresource).

const JOB = resourceType('batch/v1', 'Job');
const STAGE_JOBS = 'app.kubernetes.io/component=git-mirror-stage';

let git: GitServer;
beforeAll(async () => {
  git = await startGitServer();
});
afterAll(async () => {
  await git.dispose();
  removeFixtures();
});

/** A namespace with the controller applied, and the registry copy that declares it. */
const applied = appliedFixture;

const mirrorCli = (root: string, argv: string[]) =>
  cli(['git-mirror', ...argv, '--kubeconfig', kubeconfig()], { cwd: root, env: { PATH: process.env.PATH } });

/** Requests about `ns` that reached storage (dry runs excluded). */
const writes = (ns: string) =>
  auditEvents((e) => MUTATING.has(e.verb) && !e.requestURI.includes('dryRun=') && e.objectRef?.namespace === ns);
const jobDryRuns = (ns: string) =>
  auditEvents(
    (e) =>
      e.verb === 'create' &&
      e.requestURI.includes('dryRun=All') &&
      e.objectRef?.resource === 'jobs' &&
      e.objectRef.namespace === ns,
  );

describe('git-mirror sync|flush as a stage Job', () => {
  it('--dry-run is a server-side dry run of the Job: the server saw it, nothing was written', async () => {
    const { ns, root } = await applied('gm-dry');
    const mark = writes(ns).length;
    const r = await mirrorCli(root, ['sync', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^git-mirror sync: would create Job ${ns}/branch-follower-mirror-sync-[a-z0-9]{5} in context \\S+ ` +
          `\\(server-side dry run: nothing was written\\)$`,
        'm',
      ),
    );
    expect(r.stdout).toMatch(
      /^command\s+node build\/branch-follower\.js git-mirror sync --local --mirror-dir \/var\/lib\/git-mirror --confirm$/m,
    );
    expect(r.stdout).toMatch(
      /^ssh identity\s+Secret git-mirror-github-ssh key id_ed25519 at \/etc\/branch-follower\/github-ssh\/identity\/id_ed25519 \(read-only, 0440\)$/m,
    );
    expect(jobDryRuns(ns)).toHaveLength(1);
    expect(writes(ns).slice(mark)).toEqual([]);
    expect(await adminClient().list(JOB, ns, STAGE_JOBS)).toEqual([]);
  });

  it('without --dry-run or --confirm prints the Job, exits 4 and writes nothing', async () => {
    const { ns, root } = await applied('gm-noconfirm');
    const mark = writes(ns).length;
    const r = await mirrorCli(root, ['flush']);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/would create Job \S+\/branch-follower-mirror-flush-[a-z0-9]{5}/);
    expect(r.stderr).toContain('`git-mirror flush` writes; nothing was written. Re-run with --confirm');
    expect(writes(ns).slice(mark)).toEqual([]);
  });

  it('--confirm creates exactly one Job, and its spec is what the construct says', async () => {
    const { ns, root } = await applied('gm-confirm');
    const mark = writes(ns).length;
    const r = await mirrorCli(root, ['flush', '--follower', 'hwlab-jd01-v03', '--confirm', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const { job } = JSON.parse(r.stdout);
    const created = writes(ns).slice(mark);
    expect(created.map((e) => [e.verb, e.objectRef?.resource, e.objectRef?.name])).toEqual([
      ['create', 'jobs', job.name],
    ]);
    const live = await adminClient().list(JOB, ns, STAGE_JOBS);
    expect(live.map((j) => j.metadata.name)).toEqual([job.name]);

    const expected = synthesizeStageJob(loadRegistry(REGISTRY, root), {
      stage: 'flush',
      name: job.name,
      mirror: undefined,
      follower: 'hwlab-jd01-v03',
    });
    expect(live[0]!.metadata.labels).toMatchObject(expected.metadata.labels!);
    // the server drops false booleans it does not keep (omitempty) and adds its defaults; the rest is ours
    expect(live[0]!.spec).toMatchObject(dropFalse(expected.spec) as object);
    const pod = (live[0]!.spec as any).template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].command).toEqual([
      'node',
      'build/branch-follower.js',
      'git-mirror',
      'flush',
      '--local',
      '--mirror-dir',
      '/var/lib/git-mirror',
      '--confirm',
      '--follower',
      'hwlab-jd01-v03',
    ]);
    expect(pod.containers[0].env).toEqual([
      { name: 'HOME', value: '/tmp' },
      { name: 'GIT_TERMINAL_PROMPT', value: '0' },
    ]);
  });

  it('--confirm --wait follows the Job to Complete: exit 0, one progress line per change', async () => {
    const { ns, root } = await applied('gm-complete');
    const running = mirrorCli(root, ['sync', '--mirror', 'hwlab', '--confirm', '--wait']);
    const name = await waitForStageJob(ns);
    await startJob(ns, name);
    await new Promise((r) => setTimeout(r, 2500)); // at least one poll (stageJob.pollIntervalSeconds: 2) sees it running
    await completeJob(ns, name);
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^git-mirror sync: Job ${ns}/${name} Complete \\(CompletionsReached: Reached expected number of succeeded ` +
          `pods\\) after \\d+\\.\\ds$`,
        'm',
      ),
    );
    expect(r.stderr).toContain('budget 300s, controller.gitMirror.stageJob.waitSeconds');
    const lines = r.stderr.split('\n').filter((l) => l.startsWith(`  Job ${ns}/${name}: `));
    expect(lines).toContainEqual(expect.stringMatching(/: active 1, succeeded 0, failed 0 \(/));
    expect(lines.at(-1)).toMatch(/: Complete \(CompletionsReached/);
    expect(new Set(lines.map((l) => l.replace(/ \([\d.]+s\)$/, ''))).size).toBe(lines.length); // no repeated line
  });

  it('--confirm --wait exits 5 when the Job fails, with the condition reason and message', async () => {
    const { ns, root } = await applied('gm-failed');
    const running = mirrorCli(root, ['flush', '--confirm', '--wait']);
    const name = await waitForStageJob(ns);
    await failJob(ns, name);
    const r = await running;
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(
      new RegExp(`Job ${ns}/${name} Failed \\(BackoffLimitExceeded: Job has reached the specified backoff limit\\)`),
    );
    expect(r.stderr).toContain(
      `error: Job ${ns}/${name} Failed (BackoffLimitExceeded: Job has reached the specified backoff limit); see ` +
        `its pod's log`,
    );
  });

  it('--confirm --wait gives up after controller.gitMirror.stageJob.waitSeconds and leaves the Job running', async () => {
    const { ns, root } = await applied('gm-timeout', [
      { from: 'waitSeconds: 300', to: 'waitSeconds: 2' },
      { from: 'pollIntervalSeconds: 2', to: 'pollIntervalSeconds: 1', nth: 1 },
    ]);
    const started = Date.now();
    const r = await mirrorCli(root, ['sync', '--confirm', '--wait']);
    expect(r.code).toBe(5);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.stderr).toMatch(
      /error: Job \S+ did not finish within 2s \(controller\.gitMirror\.stageJob\.waitSeconds\); last seen: active 0, succeeded 0, failed 0/,
    );
    expect(await adminClient().list(JOB, ns, STAGE_JOBS)).toHaveLength(1);
  });
});

describe('git-mirror status without --local', () => {
  const PLANTED =
    '-----BEGIN OPENSSH PRIVATE KEY-----\nPLANTEDb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ-never-shown\n-----END ' +
    'OPENSSH PRIVATE KEY-----\n';

  it('reads the mirror as served and the Secret from the cluster, writes nothing, and never shows the key', async () => {
    // GIVEN a served mirror: hwlab synced with a snapshot and an unflushed GitOps ref, agentrun synced without one,
    // unidesk empty
    for (const repo of ['pikasTech/HWLAB.git', 'pikasTech/agentrun.git', 'pikasTech/unidesk.git'])
      await git.createRepo(repo);
    const a = await git.commit('pikasTech/HWLAB.git', 'v0.3', 'a');
    await git.setRef('pikasTech/HWLAB.git', 'refs/mirror-stage/v0.3', a);
    await git.setRef('pikasTech/HWLAB.git', snapshotRefName('hwlab-node-runtime', 'v0.3', a), a);
    const g = await git.commit('pikasTech/HWLAB.git', 'gitops/jd01-v03', 'gitops');
    await git.setRef('pikasTech/HWLAB.git', 'refs/mirror-stage/gitops/jd01-v03', a);
    const x = await git.commit('pikasTech/agentrun.git', 'v0.2', 'x');
    await git.setRef('pikasTech/agentrun.git', 'refs/mirror-stage/v0.2', x);
    const { ns, root } = await applied(
      'gm-status',
      ['HWLAB', 'agentrun', 'unidesk'].map((r) => ({
        from: `url: git://git-mirror.unidesk-cicd.svc.cluster.local/pikasTech/${r}.git`,
        to: `url: ${git.url(`pikasTech/${r}.git`)}`,
      })),
    );
    await adminClient().post(
      `/api/v1/namespaces/${ns}/secrets`,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'git-mirror-github-ssh' },
        stringData: { id_ed25519: PLANTED },
      },
      'create',
      'Secret',
    );
    const mark = writes(ns).length;

    const outputs = await Promise.all(
      [['-o', 'wide'], ['-o', 'json'], ['-o', 'yaml'], ['--raw']].map((f) => mirrorCli(root, ['status', ...f])),
    );
    for (const o of outputs) {
      expect(o.code, o.stderr).toBe(0);
      for (const part of [...PLANTED.split('\n').filter((l) => l.length > 0), Buffer.from(PLANTED).toString('base64')])
        expect(o.stdout + o.stderr).not.toContain(part);
    }
    const table = outputs[0]!.stdout;
    expect(table).toMatch(
      new RegExp(
        `^hwlab-jd01-v03\\s+hwlab\\s+v0\\.3\\s+${a.slice(0, 12)}\\s+unknown\\s+present\\s+refs/heads/gitops/jd01-v03\\s+${g.slice(0, 12)}\\s+true\\s+false$`,
        'm',
      ),
    );
    expect(table).toMatch(
      new RegExp(
        `^agentrun-jd01-v02\\s+agentrun\\s+v0\\.2\\s+${x.slice(0, 12)}\\s+unknown\\s+missing\\s+refs/heads/gitops/jd01-v02\\s+-\\s+false\\s+false$`,
        'm',
      ),
    );
    expect(table).toMatch(
      /^web-probe-sentinel-master\s+unidesk\s+master\s+-\s+unknown\s+-\s+refs\/heads\/gitops\/jd01-web-probe-sentinel\s+-\s+false\s+false$/m,
    );
    expect(table).toContain(
      'fetched-at is unknown here: only the mirror cache reflog knows it; `branch-follower git-mirror status ' +
        '--local` in the pod shows it',
    );
    expect(table).toContain(
      `key id_ed25519 present ${fingerprint(PLANTED)} (sourceRef=controller.source.githubSsh.identity; in Secret ` +
        `${ns}/git-mirror-github-ssh)`,
    );
    expect(table).toContain(
      `key known_hosts absent (sourceRef=controller.source.githubSsh.knownHosts; Secret ${ns}/git-mirror-github-ssh ` +
        `has no key known_hosts)`,
    );
    expect(table).toMatch(
      /^transport\s+source=yaml, sourceRef=controller\.source\.githubSsh, transport=ssh, proxy=connect$/m,
    );
    expect(table).toMatch(/^refSources\.githubFieldsAreMirrorStageCache=true$/m);
    expect(JSON.parse(outputs[1]!.stdout).refSources).toEqual({
      githubFieldsAreMirrorStageCache: true,
      fetchedAt: 'unknown',
    });
    expect(writes(ns).slice(mark)).toEqual([]);
    expect(await adminClient().list(JOB, ns, STAGE_JOBS)).toEqual([]);
  });

  it('a mirror that cannot be read is a failure of that mirror (exit 5); the others still show', async () => {
    const { root } = await applied('gm-status-down', [
      {
        from: 'url: git://git-mirror.unidesk-cicd.svc.cluster.local/pikasTech/HWLAB.git',
        to: `url: git://127.0.0.1:1/pikasTech/HWLAB.git`,
      },
    ]);
    const r = await mirrorCli(root, ['status', '--mirror', 'hwlab']);
    expect(r.code).toBe(5);
    expect(r.stdout).toMatch(/^failed: mirror hwlab \(MirrorUnreachable\)/m);
    expect(r.stderr).toContain(
      'error: mirror hwlab: git mirror hwlab (git://127.0.0.1:1/pikasTech/HWLAB.git) could not be read',
    );
  });
});
