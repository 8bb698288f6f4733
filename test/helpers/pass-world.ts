import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { expect } from 'vitest';
import { makeFakeControlPlane, type FakeConfig, type FakeControlPlane } from '../fixtures/adapters/fake-control-plane-harness.ts';
import { cli, type CliResult } from './cli.ts';
import { clusterFixture, kubeconfig, uniqueNamespace } from './cluster.ts';
import type { GitServer } from './git-server.ts';
import { removeFixtures, type Edit } from './registry-fixture.ts';
import { ROOT } from './registry.ts';

/** The three upstream repositories and branches of the shipped followers, as the mirror serves them. */
export const REPOS = {
  'hwlab-jd01-v03': { repo: 'pikasTech/HWLAB.git', branch: 'v0.3', adapter: 'hwlab-node-runtime', cli: 'hwlab', lane: 'v03' },
  'agentrun-jd01-v02': { repo: 'pikasTech/agentrun.git', branch: 'v0.2', adapter: 'agentrun-yaml-lane', cli: 'agentrun', lane: 'jd01-v02' },
  'web-probe-sentinel-master': { repo: 'pikasTech/unidesk.git', branch: 'master', adapter: 'web-probe-sentinel-cicd', cli: 'web-probe', lane: 'v03' },
} as const;
export type FollowerId = keyof typeof REPOS;

/** A namespace with the controller applied, a git mirror, and the fake control planes. */
export interface PassWorld {
  readonly ns: string;
  readonly root: string;
  readonly fake: FakeControlPlane;
  readonly git: GitServer;
  /** PATH for the pass: the fake CLIs first. */
  readonly env: NodeJS.ProcessEnv;
  /** Pushes a new commit to a follower's branch; returns its sha. With `snapshot`, also creates its snapshot ref. */
  push(id: FollowerId, opts?: { snapshot?: boolean }): Promise<string>;
  /** Creates the immutable snapshot ref of `sha` for a follower, as git-mirror sync does. */
  snapshot(id: FollowerId, sha: string): Promise<void>;
  /** Runs the CLI in-process against this world. */
  run(args: string[]): Promise<CliResult>;
  /** Starts the CLI as its own process group (so a test can SIGKILL it). */
  spawn(args: string[]): ChildProcess & { output(): string };
  /** Triggers the fake recorded, per follower. */
  triggersOf(id: FollowerId): { sha: string }[];
  configure(cfg: FakeConfig): void;
}

/** Registry edits every pass test wants: its namespace, the loopback mirror, short budgets. */
function worldEdits(git: GitServer, extra: readonly Edit[]): Edit[] {
  const base = git.url('');
  return [
    { from: /git:\/\/git-mirror\.unidesk-cicd\.svc\.cluster\.local\//g, to: base.endsWith('/') ? base : `${base}/` },
    { from: /durationSeconds: 60\n    renewSeconds: 20/, to: 'durationSeconds: 4\n    renewSeconds: 1' },
    { from: /pollIntervalSeconds: 5/g, to: 'pollIntervalSeconds: 1' },
    { from: /backoffSeconds: 60/g, to: 'backoffSeconds: 0' },
    // An unconfirmed trigger is re-sent after timeoutSeconds + statusLagSeconds: keep that short.
    { from: /timeoutSeconds: 30/g, to: 'timeoutSeconds: 4' },
    { from: /statusLagSeconds: 10/g, to: 'statusLagSeconds: 1' },
    ...extra,
  ];
}

const made: FakeControlPlane[] = [];

/** Removes the fake control planes the worlds of a test file made (call from afterAll). */
export function disposeWorlds(): void {
  for (const fake of made.splice(0)) fake.remove();
  removeFixtures();
}

export async function makePassWorld(git: GitServer, prefix: string, extra: readonly Edit[] = []): Promise<PassWorld> {
  const ns = uniqueNamespace(prefix);
  const root = clusterFixture(ns, worldEdits(git, extra));
  const fake = makeFakeControlPlane();
  made.push(fake);
  const env = { PATH: `${fake.binDir}:${process.env.PATH}` };
  const applied = await cli(['apply', '--confirm', '--kubeconfig', kubeconfig()], { cwd: root, env });
  expect(applied.code, applied.stderr).toBe(0);
  for (const { repo } of Object.values(REPOS)) await git.createRepo(repo).catch(() => undefined);
  const world: PassWorld = {
    ns,
    root,
    fake,
    git,
    env,
    async push(id, opts = {}) {
      const r = REPOS[id];
      const sha = await git.commit(r.repo, r.branch, `${ns} ${id} ${Date.now()} ${Math.random()}`);
      if (opts.snapshot) await world.snapshot(id, sha);
      return sha;
    },
    async snapshot(id, sha) {
      const r = REPOS[id];
      await git.setRef(r.repo, `refs/unidesk/snapshots/${r.adapter}/${r.branch}/${sha}`, sha);
    },
    run: (args) => cli([...args, '--kubeconfig', kubeconfig()], { cwd: root, env }),
    spawn(args) {
      const child = spawn(process.execPath, [join(ROOT, 'src/cli/main.ts'), ...args, '--kubeconfig', kubeconfig()], {
        cwd: root,
        env: { ...env },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (c) => (out += c));
      child.stderr!.on('data', (c) => (out += c));
      return Object.assign(child, { output: () => out });
    },
    triggersOf: (id) => fake.triggers().filter((t) => t.lane === REPOS[id].lane && t.cli === REPOS[id].cli),
    configure: (cfg) => fake.configure(cfg),
  };
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
