import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import {
  makeFakeControlPlane,
  type FakeConfig,
  type FakeControlPlane,
  type TriggerRecord,
} from '../../scripts/world/fake-control-plane-harness.ts';
import { cli, type CliResult } from './cli.ts';
import { adminClient, clusterFixture, kubeconfig, uniqueNamespace } from './cluster.ts';
import { loadRegistry } from '../../core/config/load.ts';
import { stateObjectName, stateObjectOf } from '../../core/config/shards.ts';
import { syncMirror } from '../../runner/git-mirror/stages.ts';
import { resourceType } from '../../core/kube/resources.ts';
import { parseStateRecord, type StateRecord } from '../../runner/state-record.ts';
import { hermeticGit, startGitServer, type GitServer } from '../../scripts/world/git-server.ts';
import { REGISTRY, removeFixtures, type Edit } from './registry-fixture.ts';
import { ROOT } from '../../scripts/world/registry.ts';
import { removeSshMounts, sshEdits, sshMount } from './ssh-registry.ts';
import { startSshUpstream, type SshUpstream } from '../../scripts/world/ssh-upstream.ts';

/** The three upstream repositories and branches of the shipped followers, as the mirror serves them. */
export const REPOS = {
  'hwlab-jd01-v03': {
    repo: 'pikasTech/HWLAB.git',
    branch: 'v0.3',
    adapter: 'hwlab-node-runtime',
    cli: 'hwlab',
    lane: 'v03',
    gitopsRef: 'refs/heads/gitops/jd01-v03',
  },
  'agentrun-jd01-v02': {
    repo: 'pikasTech/agentrun.git',
    branch: 'v0.2',
    adapter: 'agentrun-yaml-lane',
    cli: 'agentrun',
    lane: 'jd01-v02',
    gitopsRef: 'refs/heads/gitops/jd01-v02',
  },
  'web-probe-sentinel-master': {
    repo: 'pikasTech/unidesk.git',
    branch: 'master',
    adapter: 'web-probe-sentinel-cicd',
    cli: 'web-probe',
    lane: 'v03',
    gitopsRef: 'refs/heads/gitops/jd01-web-probe-sentinel',
  },
} as const;
export type FollowerId = keyof typeof REPOS;

/** The servers a world runs against: the mirror (git daemon over the cache root) and the SSH upstream. */
export interface WorldServers {
  readonly git: GitServer;
  readonly ssh: SshUpstream;
}

/**
 * A namespace with the controller applied, an SSH upstream, a git mirror over its cache, and the fake control planes.
 */
export interface PassWorld {
  readonly ns: string;
  readonly root: string;
  readonly fake: FakeControlPlane;
  readonly git: GitServer;
  readonly ssh: SshUpstream;
  /** PATH for the pass: the fake CLIs first. */
  readonly env: NodeJS.ProcessEnv;
  /**
   * Pushes a new commit to a follower's branch upstream; returns its sha. The mirror cache then holds
   * it too (refs/mirror-stage/<branch>, as after a sync that predates the snapshot); with `snapshot`,
   * a real git-mirror sync of the world's registry ran, so its snapshot ref exists as well.
   */
  push(id: FollowerId, opts?: { snapshot?: boolean }): Promise<string>;
  /** The world's repository path of a follower (the same under the upstream and the mirror roots). */
  repoOf(id: FollowerId): string;
  /** The sha of `ref` in the upstream (undefined: absent). */
  upstreamRef(id: FollowerId, ref: string): Promise<string | undefined>;
  /** The sha of `ref` in the mirror cache (undefined: absent). */
  mirrorRef(id: FollowerId, ref: string): Promise<string | undefined>;
  /** Creates the immutable snapshot ref of `sha` for a follower, as git-mirror sync does. */
  snapshot(id: FollowerId, sha: string): Promise<void>;
  /** Runs the CLI in-process against this world. */
  run(args: string[]): Promise<CliResult>;
  /** Starts the CLI as its own process group (so a test can SIGKILL it). */
  spawn(args: string[]): ChildProcess & { output(): string };
  /** Triggers the fake recorded, per follower. */
  triggersOf(id: FollowerId): TriggerRecord[];
  configure(cfg: FakeConfig): void;
  /** The follower's record in the state ConfigMap that keeps it (undefined: none; one that does not parse throws). */
  record(id: FollowerId): Promise<StateRecord | undefined>;
}

/** Registry edits every pass test wants: its namespace, the loopback mirror, short budgets. */
function worldEdits(git: GitServer, extra: readonly Edit[]): Edit[] {
  const base = git.url('');
  return [
    { from: /git:\/\/git-mirror\.unidesk-cicd\.svc\.cluster\.local\//g, to: base.endsWith('/') ? base : `${base}/` },
    { from: /durationSeconds: 60\n {4}renewSeconds: 20/, to: 'durationSeconds: 4\n    renewSeconds: 1' },
    { from: /pollIntervalSeconds: 5/g, to: 'pollIntervalSeconds: 1' },
    { from: /backoffSeconds: 60/g, to: 'backoffSeconds: 0' },
    // An unconfirmed trigger is re-sent after timeoutSeconds + statusLagSeconds: keep that short
    // (and within the Lease: timeoutSeconds + renewSeconds <= durationSeconds).
    { from: /timeoutSeconds: 30/g, to: 'timeoutSeconds: 3' },
    { from: /statusLagSeconds: 10/g, to: 'statusLagSeconds: 1' },
    ...extra,
  ];
}

const made: FakeControlPlane[] = [];

/**
 * The servers of a test file's worlds: started before its tests, and disposed of after them with
 * every world it made. Call at the top of the file; the getter is valid inside tests.
 */
export function worldServersOfFile(): () => WorldServers {
  let servers: WorldServers | undefined;
  beforeAll(async () => {
    const [git, ssh] = await Promise.all([startGitServer(), startSshUpstream()]);
    servers = { git, ssh };
  });
  afterAll(async () => {
    disposeWorlds();
    if (servers) await Promise.all([servers.git.dispose(), servers.ssh.dispose()]);
  });
  return () => servers!;
}

/** Removes the fake control planes the worlds of a test file made (call from afterAll). */
export function disposeWorlds(): void {
  for (const fake of made.splice(0)) fake.remove();
  removeFixtures();
  removeSshMounts();
}

/**
 * A pass world on the shared control plane, or on the cluster of `opts.kubeconfig` (a test's own,
 * which it may restart).
 */
export async function makePassWorld(
  { git, ssh }: WorldServers,
  prefix: string,
  extra: readonly Edit[] = [],
  opts: { readonly kubeconfig?: string } = {},
): Promise<PassWorld> {
  const cluster = opts.kubeconfig ?? kubeconfig();
  const ns = uniqueNamespace(prefix);
  const sshDir = sshMount(ssh);
  // Every world has its own upstream and mirror repositories (<ns>/<name>.git), so what one test
  // leaves behind (a diverged GitOps branch, a moved tip) never reaches another.
  const repoOf = (id: FollowerId) => `${ns}/${REPOS[id].repo.split('/')[1]}`;
  const perWorld = Object.values(REPOS).flatMap(({ repo }) => [
    {
      from: `url: git://git-mirror.unidesk-cicd.svc.cluster.local/${repo}`,
      to: `url: git://git-mirror.unidesk-cicd.svc.cluster.local/${ns}/${repo.split('/')[1]}`,
    },
    {
      from: `upstream: ssh://git@ssh.github.com:443/${repo}`,
      to: `upstream: ssh://git@ssh.github.com:443/${ns}/${repo.split('/')[1]}`,
    },
    { from: `cachePath: ${repo}`, to: `cachePath: ${ns}/${repo.split('/')[1]}` },
  ]);
  const root = clusterFixture(ns, [
    ...perWorld,
    ...sshEdits(ssh, {
      mirrorRoot: git.root,
      sshDir,
      repos: Object.values(REPOS).map((r) => `${ns}/${r.repo.split('/')[1]}`),
    }),
    ...worldEdits(git, extra),
  ]);
  const fake = makeFakeControlPlane();
  made.push(fake);
  const env = { PATH: `${fake.binDir}:${process.env.PATH}` };
  const applied = await cli(['apply', '--confirm', '--kubeconfig', cluster], { cwd: root, env });
  expect(applied.code, applied.stderr).toBe(0);
  const ids = Object.keys(REPOS) as FollowerId[];
  for (const id of ids) {
    await git.createRepo(repoOf(id));
    await ssh.createRepo(repoOf(id));
  }
  // Each control plane publishes a GitOps commit into the mirror when its run succeeds.
  const publish = Object.fromEntries(
    ids.map((id) => [
      `${REPOS[id].cli}:${REPOS[id].lane}`,
      { gitDir: join(git.root, repoOf(id)), ref: REPOS[id].gitopsRef },
    ]),
  );
  const loaded = loadRegistry(REGISTRY, root);
  const refOf = async (dir: string, ref: string) =>
    (await hermeticGit(['--git-dir', dir, 'for-each-ref', '--format=%(objectname)', ref], { home: git.home })) ||
    undefined;
  const world: PassWorld = {
    ns,
    root,
    fake,
    git,
    ssh,
    env,
    repoOf,
    async push(id, opts = {}) {
      const r = { ...REPOS[id], repo: repoOf(id) };
      const sha = await ssh.commit(r.repo, r.branch, `${ns} ${id} ${Date.now()} ${Math.random()}`);
      if (opts.snapshot) {
        await syncMirror(
          loaded,
          loaded.registry.followers.find((f) => f.id === id)!.source.mirror,
          { mirrorRoot: git.root, sshRoot: sshDir },
          { pathEnv: process.env.PATH ?? '', dryRun: false },
        );
      } else {
        await hermeticGit(
          [
            '--git-dir',
            join(git.root, r.repo),
            'fetch',
            '--no-tags',
            ssh.repoPath(r.repo),
            `+refs/heads/${r.branch}:refs/mirror-stage/${r.branch}`,
          ],
          { home: git.home },
        );
      }
      return sha;
    },
    upstreamRef: (id, ref) => ssh.refSha(repoOf(id), ref),
    mirrorRef: (id, ref) => refOf(join(git.root, repoOf(id)), ref),
    async snapshot(id, sha) {
      const r = REPOS[id];
      await git.setRef(repoOf(id), `refs/unidesk/snapshots/${r.adapter}/${r.branch}/${sha}`, sha);
    },
    run: (args) => cli([...args, '--kubeconfig', cluster], { cwd: root, env }),
    spawn(args) {
      const child = spawn(
        process.execPath,
        [join(ROOT, 'build/branch-follower.js'), ...args, '--kubeconfig', cluster],
        {
          cwd: root,
          env: { ...env },
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout!.on('data', (c) => (out += c));
      child.stderr!.on('data', (c) => (out += c));
      return Object.assign(child, { output: () => out });
    },
    triggersOf: (id) => fake.triggers().filter((t) => t.lane === REPOS[id].lane && t.cli === REPOS[id].cli),
    configure: (cfg) => fake.configure({ ...cfg, publish }),
    async record(id) {
      const c = loaded.registry.controller;
      const name = stateObjectName(c, stateObjectOf(id, c.state.objects));
      const cm = await adminClient({ kubeconfig: cluster }).get(resourceType('v1', 'ConfigMap'), ns, name);
      const text = (cm?.data as Record<string, string> | undefined)?.[id];
      if (text === undefined) return undefined;
      const parsed = parseStateRecord(text);
      if ('error' in parsed) throw new Error(`record of ${id}: ${parsed.error}`);
      return parsed.record;
    },
  };
  world.configure({});
  return world;
}

/** Waits until `check` holds, polling; fails the test with `what` after `ms`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resolves when the child exits, with its exit code (or signal). */
export function exited(child: ChildProcess): Promise<number | string> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}
