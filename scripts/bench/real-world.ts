import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIRROR_STAGE_PREFIX } from '../../runner/observe/observation.ts';
import { snapshotRefName } from '../../runner/observe/snapshot-ref.ts';
import { startControlPlane, stopControlPlane, type ControlPlaneInfo } from '../envtest/control-plane.ts';
import { hermeticGit, startGitServer, type GitServer } from '../world/git-server.ts';
import { startSshUpstream, type SshUpstream } from '../world/ssh-upstream.ts';
import { adapterDouble, type AdapterDouble } from './adapter-double.ts';
import { laidOut } from './layout.ts';
import { startByteProxy, type ByteProxy } from './byte-proxy.ts';
import { countingPath, type CountingPath } from './counting-path.ts';
import { type BenchFollower, type RegistryDir, writeRegistryDir } from './registry-dir.ts';

// The bench world on real parts, as the integration tests build theirs: a real kube-apiserver + etcd
// on loopback (envtest binaries, never built here), the upstream as real bare repositories behind
// a real sshd, the mirror caches served by a real `git daemon`, and adapter doubles that answer at
// once or after 200 ms. The pass reaches the API server through a byte-counting proxy, and finds
// git, ssh and the adapter CLIs through a counting PATH.

/** The adapter CLIs of the shipped adapters. */
const ADAPTER_CLIS = ['hwlab', 'agentrun', 'web-probe'] as const;
/** The slow adapters' answer time. */
export const SLOW_ADAPTER_SECONDS = 0.2;

export interface BenchServers {
  readonly control: ControlPlaneInfo;
  /** The admin kubeconfig (setup, reading objects back). */
  readonly adminKubeconfig: string;
  /** The same admin, through the byte proxy: what the pass uses. */
  readonly passKubeconfig: string;
  readonly proxy: ByteProxy;
  readonly git: GitServer;
  readonly ssh: SshUpstream;
  /** kubectl of the envtest assets. */
  readonly kubectl: string;
  readonly scratch: string;
  dispose(): Promise<void>;
}

/** The envtest binaries; the bench never builds them. */
export function envtestAssetsDir(): string | undefined {
  return process.env.BRANCH_FOLLOWER_ENVTEST_ASSETS || undefined;
}

export async function startBenchServers(assets: string): Promise<BenchServers> {
  const scratch = mkdtempSync(join(tmpdir(), 'bf-bench-'));
  const [control, git, ssh] = await Promise.all([
    startControlPlane({
      assets,
      dir: join(scratch, 'envtest'),
      contextAliases: ['unidesk-jd01'],
      guardParent: true,
      readyTimeoutMs: 120_000,
    }),
    startGitServer(),
    // A pass syncs every mirror at once: sshd must take that many connections at a time (its
    // default MaxStartups drops the eleventh unauthenticated one), as GitHub does.
    startSshUpstream({ wrap: (argv) => [...argv, '-o', 'MaxStartups=1000', '-o', 'PerSourceMaxStartups=none'] }),
  ]);
  const url = new URL(control.server);
  const proxy = await startByteProxy({ host: url.hostname, port: Number(url.port) });
  const passKubeconfig = join(scratch, 'kubeconfig-pass');
  writeFileSync(passKubeconfig, readFileSync(control.kubeconfig, 'utf8').replace(control.server, proxy.url), {
    mode: 0o600,
  });
  return {
    control,
    adminKubeconfig: control.kubeconfig,
    passKubeconfig,
    proxy,
    git,
    ssh,
    kubectl: join(assets, 'kubectl'),
    scratch,
    async dispose() {
      await proxy.close();
      await Promise.all([stopControlPlane(control), git.dispose(), ssh.dispose()]);
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** One size of the bench world: the repositories, the doubles, and a registry per namespace. */
export interface BenchWorld {
  readonly n: number;
  readonly mirrors: number;
  readonly followers: readonly BenchFollower[];
  readonly repos: readonly string[];
  readonly double: AdapterDouble;
  /** Counting PATH of the instant and of the slow adapters (git and ssh are the real ones behind both). */
  readonly paths: { readonly instant: CountingPath; readonly slow: CountingPath };
  /** The git URL of mirror j, as the pass reads it. */
  mirrorUrl(j: number): string;
  /** A registry directory whose controller lives in namespace `ns` (written on first use). */
  registryFor(ns: string): RegistryDir;
  /** Pushes one new commit to every follower's branch upstream. */
  pushAll(): Promise<void>;
  /** Every adapter's control plane targets its follower's upstream tip already. */
  targetTips(): Promise<void>;
}

/** The executable `name` resolves to on the bench's own PATH. */
const which = (name: string) => execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();

/** ref → sha of every ref under `prefix` in the bare repository `gitDir`. */
async function refsOf(gitDir: string, prefix: string, home: string): Promise<Map<string, string>> {
  const out = await hermeticGit(['--git-dir', gitDir, 'for-each-ref', '--format=%(refname) %(objectname)', prefix], {
    home,
  });
  return new Map(
    out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(' ') as [string, string]),
  );
}

/** A fast-import stream of one new commit on each of `refs`, children of their tips when `onTop`. */
function commits(refs: readonly string[], onTop: boolean, tag: string): string {
  const when = Math.floor(Date.now() / 1000);
  return refs
    .map((ref) => {
      const msg = `bench ${tag} ${ref}`;
      return [
        `commit ${ref}`,
        `committer bench <bench@bench.invalid> ${when} +0000`,
        `data ${Buffer.byteLength(msg)}`,
        msg,
        ...(onTop ? [`from ${ref}^0`] : []),
        '',
      ].join('\n');
    })
    .join('\n');
}

export async function buildWorld(servers: BenchServers, n: number, mirrors: number): Promise<BenchWorld> {
  const { git, ssh } = servers;
  const dir = join(servers.scratch, `world-${n}`);
  const sshDir = join(dir, 'ssh');
  mkdirSync(join(sshDir, 'identity'), { recursive: true });
  mkdirSync(join(sshDir, 'known-hosts'), { recursive: true });
  copyFileSync(ssh.identityFile, join(sshDir, 'identity', 'id_ed25519'));
  copyFileSync(ssh.knownHostsFile, join(sshDir, 'known-hosts', 'known_hosts'));
  const prefix = `n${n}`;
  const layout = {
    url: (p: string) => git.url(`${prefix}/${p}`),
    upstream: (p: string) => ssh.repoUrl(`${prefix}/${p}`),
  };
  const edits = (ns: string) => (c: Record<string, unknown>) => {
    const src = c.source as { githubSsh: Record<string, unknown> };
    Object.assign(src.githubSsh, { host: '127.0.0.1', port: ssh.port, user: ssh.user, proxy: { mode: 'none' } });
    Object.assign(c.gitMirror as Record<string, unknown>, {
      mountPath: join(git.root, prefix),
      sshMountPath: sshDir,
    });
    c.namespace = ns;
    const laid = laidOut(c as { pass: object; state: object }, n);
    c.pass = laid.pass;
    c.state = laid.state;
  };
  const registries = new Map<string, RegistryDir>();
  const registryFor = (ns: string) => {
    let r = registries.get(ns);
    if (!r) {
      r = writeRegistryDir(join(dir, 'registries', ns), n, { mirrors, layout, edits: edits(ns) });
      registries.set(ns, r);
    }
    return r;
  };
  const base = registryFor('bench-setup');
  const { followers, repos } = base;
  const onMirror = (j: number) => followers.filter((f) => f.mirror === j);

  // Upstream: every follower's branch and its GitOps branch, one commit each, one fast-import per repo.
  for (const [j, path] of repos.entries()) {
    const repo = `${prefix}/${path}`;
    await ssh.createRepo(repo);
    const refs = onMirror(j).flatMap((f) => [`refs/heads/${f.branch}`, f.gitopsRef]);
    await hermeticGit(['--git-dir', ssh.repoPath(repo), 'fast-import', '--quiet'], {
      home: ssh.home,
      input: commits(refs, false, 'initial'),
    });
    // The mirror cache as a git-mirror sync leaves it (every branch copied to refs/mirror-stage/, a
    // snapshot ref of every tip), with the GitOps branches flushed (the mirror's and its upstream
    // copy agree): laid out in three git commands per mirror, where sync takes one per snapshot.
    const cache = join(git.root, repo);
    await git.createRepo(repo);
    await hermeticGit(
      [
        '--git-dir',
        cache,
        'fetch',
        '--quiet',
        '--no-tags',
        ssh.repoPath(repo),
        '+refs/heads/*:refs/mirror-stage/*',
        '+refs/heads/gitops/*:refs/heads/gitops/*',
      ],
      { home: git.home },
    );
    const staged = await refsOf(cache, MIRROR_STAGE_PREFIX, git.home);
    const snapshots = onMirror(j).map((f) => {
      const tip = staged.get(`${MIRROR_STAGE_PREFIX}${f.branch}`)!;
      return `create ${snapshotRefName(f.adapter, f.branch, tip)} ${tip}\n`;
    });
    await hermeticGit(['--git-dir', cache, 'update-ref', '--stdin'], { home: git.home, input: snapshots.join('') });
  }

  const realGit = which('git');
  const double = adapterDouble(join(dir, 'double'), realGit);
  for (const f of followers) double.publishTo(f.lane, join(git.root, prefix, repos[f.mirror]!), f.gitopsRef);
  const pathOf = (name: string, program: string) =>
    countingPath(join(dir, name), {
      git: realGit,
      ssh: which('ssh'),
      ...Object.fromEntries(ADAPTER_CLIS.map((c) => [c, program])),
    });
  const paths = {
    instant: pathOf('path-instant', double.program(0)),
    slow: pathOf('path-slow', double.program(SLOW_ADAPTER_SECONDS)),
  };

  return {
    n,
    mirrors,
    followers,
    repos,
    double,
    paths,
    mirrorUrl: (j) => layout.url(repos[j]!),
    registryFor,
    async pushAll() {
      for (const [j, path] of repos.entries()) {
        const refs = onMirror(j).map((f) => `refs/heads/${f.branch}`);
        await hermeticGit(['--git-dir', ssh.repoPath(`${prefix}/${path}`), 'fast-import', '--quiet'], {
          home: ssh.home,
          input: commits(refs, true, `push ${Date.now()}`),
        });
      }
    },
    async targetTips() {
      for (const [j, path] of repos.entries()) {
        const tips = await refsOf(ssh.repoPath(`${prefix}/${path}`), 'refs/heads/', ssh.home);
        for (const f of onMirror(j)) double.target(f.lane, tips.get(`refs/heads/${f.branch}`)!);
      }
    },
  };
}
