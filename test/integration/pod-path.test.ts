import { stateObjectName, stateObjectOf } from '../../core/config/shards.ts';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStateRecord } from '../../runner/state-record.ts';
import { resourceType } from '../../core/kube/resources.ts';
import {
  apiServerOf,
  assertPortFree,
  checkPodSpec,
  preparePod,
  dockerfileImage,
  type CronJobPod,
  type PodResult,
  type PodSpec,
  type PreparedPod,
} from '../../scripts/pod-exec/index.ts';
import { adminClient, auditEvents, kubeconfig, type AuditEvent } from '../helpers/cluster.ts';
import { cli } from '../helpers/cli.ts';
import {
  preparePassPod,
  startPodPathWorld,
  type FollowerFacts,
  type PodPathWorld,
} from '../../scripts/world/pod-path-world.ts';
import { ROOT } from '../../scripts/world/registry.ts';

// Issue 6: everything else can pass while the one thing that runs in production — the CronJob's pod —
// has never executed. Here it does: dist/ applied as it is, the synthesized pod's init container and
// pass run as local processes (scripts/pod-exec) with the pod's user, environment, mounts and
// ServiceAccount token, against the mirror, the SSH upstream and the proxy at the names the shipped
// registry declares. POD_EXEC_VERBOSE=1 prints the mapping table and streams the containers' output.

const VERBOSE = process.env.POD_EXEC_VERBOSE === '1';
const CONFIG_MAP = resourceType('v1', 'ConfigMap');
const ADMIN = 'envtest-admin';

let world: PodPathWorld;
let prepared: PreparedPod;
let result: PodResult;
let hwlab: FollowerFacts;
let newSha: string;
let window: { from: number; to: number };
/** What the main container saw, read through /proc/<pid>/root before its command ran; its status once running. */
const seen: { registry?: Buffer; mountinfo?: string; status?: Promise<string | undefined> } = {};

/** The process's status once it has exec'd the container's command (setpriv has dropped to the pod's user). */
async function statusOnceRunning(pid: number): Promise<string | undefined> {
  for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (!/^Uid:\s+0\s/m.test(status)) return status;
    } catch {
      return undefined; // already gone
    }
  }
  return undefined;
}

/** Streams container output line by line, each line prefixed with its container's name. */
function prefixLines(): (name: string, stream: 'stdout' | 'stderr', text: string) => void {
  const partial = new Map<string, string>();
  return (name, stream, text) => {
    const key = `${name}/${stream}`;
    const lines = `${partial.get(key) ?? ''}${text}`.split('\n');
    partial.set(key, lines.pop()!);
    for (const line of lines) process.stdout.write(`[${name}] ${line}\n`);
  };
}

beforeAll(async () => {
  const applied = await cli(['apply', '--confirm', '--wait', '--kubeconfig', kubeconfig()], { cwd: ROOT });
  expect(applied.code, applied.stderr).toBe(0);
  world = await startPodPathWorld(adminClient());

  // Every follower's branch exists upstream; the control planes already run the tips, except hwlab's,
  // which gets one new commit: the pass has exactly one sha to trigger.
  const lanes: Record<string, { initialTargetSha: string }> = {};
  for (const f of world.followers) {
    const tip =
      (await world.upstreamRef(f.repo, `refs/heads/${f.branch}`)) ??
      (await world.pushUpstream(f.repo, f.branch, `${f.id} base`));
    lanes[f.fakeKey] = { initialTargetSha: tip };
  }
  hwlab = world.followers.find((f) => f.id === 'hwlab-jd01-v03')!;
  newSha = await world.pushUpstream(hwlab.repo, hwlab.branch, 'one new commit for the pass pod');
  world.configure({ lanes });

  const c = world.loaded.registry.controller;
  prepared = await preparePassPod(world, {
    admin: adminClient(),
    kubeconfig: kubeconfig(),
    podName: `${world.pod.cronJobName}-pod-exec-${process.pid}`,
    // The shipped registry has one shard: its Indexed Job runs one pod, index 0.
    completionIndex: 0,
    ...(VERBOSE ? { log: (line: string) => console.log(line) } : {}),
  });

  const checkoutRegistry = `${c.image.appDir}/checkout/config/cicd-branch-followers.yaml`;
  const from = Date.now();
  result = await prepared.run({
    onStarted: ({ name, pid, root }) => {
      if (name !== 'reconcile-pass') return;
      seen.registry = readFileSync(join(root, checkoutRegistry));
      seen.mountinfo = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
      seen.status = statusOnceRunning(pid);
    },
    ...(VERBOSE ? { onOutput: prefixLines() } : {}),
  });
  window = { from, to: Date.now() };
}, 90_000);

afterAll(async () => {
  await prepared?.dispose();
  await world?.dispose();
});

const output = (name: string) => {
  const c = result.containers.find((x) => x.name === name);
  return c ? `${c.stdout}\n${c.stderr}` : '(did not run)';
};

/** Audit events in the pod's namespace received while the pod ran. */
function duringRun(filter: (e: AuditEvent) => boolean): AuditEvent[] {
  const t = (e: AuditEvent) =>
    Date.parse((e as AuditEvent & { requestReceivedTimestamp: string }).requestReceivedTimestamp);
  return auditEvents(
    (e) => e.objectRef?.namespace === world.pod.namespace && t(e) >= window.from && t(e) <= window.to && filter(e),
  );
}

describe('the synthesized CronJob pod, executed for real', () => {
  it('runs the init container, then the pass, both to exit 0', () => {
    expect(
      result.containers.map((c) => [c.name, c.exitCode]),
      `${output('clone-source')}\n${output('reconcile-pass')}`,
    ).toEqual([
      ['clone-source', 0],
      ['reconcile-pass', 0],
    ]);
    expect(result.phase).toBe('Succeeded');
  });

  it("the init container cloned this checkout's committed HEAD from the mirror over git://", () => {
    const checkout = prepared.volumes.get('checkout')!.dir;
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'safe.directory=*', '-C', checkout, ...args], { encoding: 'utf8' }).trim();
    expect(git('rev-parse', 'HEAD')).toBe(
      execFileSync('git', ['-C', ROOT, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(),
    );
    expect(git('config', 'remote.origin.url')).toBe(
      'git://git-mirror.unidesk-cicd.svc.cluster.local/pikasTech/unidesk.git',
    );
    expect(git('rev-parse', '--is-shallow-repository')).toBe('true');
    expect(world.git.log()).toMatch(/Request upload-pack for '\/pikasTech\/unidesk\.git'/);
  });

  it(
    "the pass read the registry ConfigMap's bytes over the clone's file, mounted read-only, on a read-only root, as " +
      "the pod's user",
    async () => {
      expect(seen.registry?.toString('utf8')).toBe(world.registryText);
      const optionsAt = (point: string) =>
        seen
          .mountinfo!.split('\n')
          .find((l) => l.split(' ')[4] === point)
          ?.split(' ')[5]
          ?.split(',');
      expect(optionsAt('/opt/branch-follower/checkout/config/cicd-branch-followers.yaml'), seen.mountinfo).toContain(
        'ro',
      );
      expect(optionsAt('/'), 'readOnlyRootFilesystem').toContain('ro');
      expect(optionsAt('/opt/branch-follower/checkout')).toContain('rw');
      const status = await seen.status;
      expect(status).toMatch(/^Uid:\s+10001\s+10001\s+10001\s+10001$/m);
      expect(status).toMatch(/^Groups:\s+10001\s*$/m);
      expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
      expect(status).toMatch(/^CapBnd:\s+0+$/m);
    },
  );

  it(
    "the pass talked to the API server only with the controller ServiceAccount's token, and the admin " + 'not at all',
    () => {
      const sa = `system:serviceaccount:${world.pod.namespace}:${world.pod.spec.serviceAccountName}`;
      const bySa = duringRun((e) => e.user.username === sa).map((e) => `${e.verb} ${e.objectRef?.resource}`);
      expect(bySa).toContain('update leases');
      expect(bySa).toContain('update configmaps');
      expect(bySa).toContain('create events');
      expect(duringRun((e) => e.user.username === ADMIN)).toEqual([]);
    },
  );

  it('the pass triggered the new sha once, by its snapshot ref, and closed it out Succeeded', async () => {
    const triggers = world.fake.triggers();
    expect(triggers.map((t) => t.snapshotRef)).toEqual([
      `refs/unidesk/snapshots/${hwlab.adapter}/${hwlab.branch}/${newSha}`,
    ]);
    // The record is in the follower's state object.
    const c = world.loaded.registry.controller;
    const cm = await adminClient().get(
      CONFIG_MAP,
      world.pod.namespace,
      stateObjectName(c, stateObjectOf(hwlab.id, c.state.objects)),
    );
    const text = (cm?.data as Record<string, string> | undefined)?.[hwlab.id];
    expect(text, output('reconcile-pass')).toBeDefined();
    const parsed = parseStateRecord(text!);
    if ('error' in parsed) throw new Error(parsed.error);
    expect(parsed.record.phase, output('reconcile-pass')).toBe('Succeeded');
    expect(parsed.record.lastSucceededSha).toBe(newSha);
  });

  it('the GitOps commit the run published into the mirror was flushed upstream over SSH through the proxy', async () => {
    const mirror = await world.mirrorRef(hwlab.repo, hwlab.gitopsRef);
    expect(mirror).toBeDefined();
    expect(await world.upstreamRef(hwlab.repo, hwlab.gitopsRef)).toBe(mirror);
    expect(world.proxy.connectCount()).toBeGreaterThan(0);
    expect(readFileSync(world.ssh.logFile, 'utf8')).toMatch(/Accepted publickey for git /);
  });
});

describe('pod-exec carries out restartPolicy Never, the Job deadline and the declared ports', () => {
  const small = (spec: PodSpec, activeDeadlineSeconds?: number): CronJobPod => ({
    namespace: world.pod.namespace,
    cronJobName: 'small',
    activeDeadlineSeconds,
    indexedCompletions: null,
    spec,
    notEnforced: checkPodSpec(spec),
  });
  const run = async (pod: CronJobPod) => {
    const p = await preparePod({
      pod,
      podName: 'small',
      client: adminClient(),
      serviceAccountToken: '',
      apiServer: apiServerOf(kubeconfig()),
      claims: {},
      image: dockerfileImage({ dockerfile: join(ROOT, 'image/Dockerfile'), projectRoot: ROOT }),
      hosts: [],
    });
    try {
      return await p.run();
    } finally {
      await p.dispose();
    }
  };
  const base = {
    restartPolicy: 'Never',
    automountServiceAccountToken: false,
    securityContext: { runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001, runAsNonRoot: true },
  } as const;

  it('a failing init container stops the pod: the main container never runs', async () => {
    const r = await run(
      small({
        ...base,
        initContainers: [{ name: 'first', command: ['sh', '-c', 'echo from-first; exit 3'] }],
        containers: [{ name: 'never', command: ['true'] }],
      }),
    );
    expect(r.phase).toBe('Failed');
    expect(r.reason).toBe('InitContainerFailed');
    expect(r.containers.map((c) => [c.name, c.exitCode, c.stdout.trim()])).toEqual([['first', 3, 'from-first']]);
  });

  it("the Job's activeDeadlineSeconds kills the running container and everything it started", async () => {
    const started = Date.now();
    const r = await run(
      small({ ...base, containers: [{ name: 'sleeper', command: ['sh', '-c', 'sleep 60 & sleep 60'] }] }, 1),
    );
    expect(r.reason).toBe('DeadlineExceeded');
    expect(r.containers[0]!.signal).toBe('SIGKILL');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toMatch(/^sleep 60$/m);
  });

  it('a port the spec names that is taken fails with a message naming it', async () => {
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const port = (holder.address() as AddressInfo).port;
    try {
      await expect(
        assertPortFree({ host: 'git-mirror.example', port, what: 'the git mirror', from: 'a test' }),
      ).rejects.toThrow(`port ${port} on 127.0.0.1 is taken`);
    } finally {
      holder.close();
    }
  });
});
