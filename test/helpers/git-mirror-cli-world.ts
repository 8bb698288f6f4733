import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConnectProxy, type ConnectProxy } from '../../scripts/world/connect-proxy.ts';
import { hermeticGit } from '../../scripts/world/git-server.ts';
import { makeFixture, type Edit } from './registry-fixture.ts';
import { startSshUpstream, type SshUpstream } from '../../scripts/world/ssh-upstream.ts';

// What `git-mirror … --local` needs, all real: an SSH upstream (sshd) holding the three repositories
// of the shipped registry, reached through a CONNECT proxy (tinyproxy); a mirror cache directory with
// one bare repository per mirrors[].cachePath; a directory laid out as the pod mounts the githubSsh
// Secret (identity/<key>, known-hosts/<key>); and a registry copy pointing at all of it.

/** The shipped mirrors: cachePath (also the upstream path) and the branch its follower follows. */
export const MIRRORS = [
  {
    id: 'hwlab',
    path: 'pikasTech/HWLAB.git',
    branch: 'v0.3',
    follower: 'hwlab-jd01-v03',
    adapter: 'hwlab-node-runtime',
    gitopsRef: 'refs/heads/gitops/jd01-v03',
  },
  {
    id: 'agentrun',
    path: 'pikasTech/agentrun.git',
    branch: 'v0.2',
    follower: 'agentrun-jd01-v02',
    adapter: 'agentrun-yaml-lane',
    gitopsRef: 'refs/heads/gitops/jd01-v02',
  },
  {
    id: 'unidesk',
    path: 'pikasTech/unidesk.git',
    branch: 'master',
    follower: 'web-probe-sentinel-master',
    adapter: 'web-probe-sentinel-cicd',
    gitopsRef: 'refs/heads/gitops/jd01-web-probe-sentinel',
  },
] as const;

const IDENTITY = {
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@test.invalid',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@test.invalid',
};

export interface LocalWorld {
  readonly ssh: SshUpstream;
  readonly proxy: ConnectProxy;
  /** The registry copy's project root: the CLI's working directory. */
  readonly root: string;
  /** Holds one bare repository per mirrors[].cachePath: what --mirror-dir names. */
  readonly mirrorDir: string;
  /** The Secret mount layout; the registry's gitMirror.sshMountPath points here. */
  readonly sshDir: string;
  /** The private key's text, to prove no output carries any of it. */
  readonly privateKey: string;
  /** git in one of the mirror cache repositories (by cachePath); trimmed stdout. */
  cacheGit(path: string, args: readonly string[]): Promise<string>;
  /** ref → sha of one mirror cache repository. */
  cacheRefs(path: string): Promise<Record<string, string>>;
  /** The environment the CLI gets: PATH only, to find git and ssh. */
  readonly env: NodeJS.ProcessEnv;
  dispose(): Promise<void>;
}

/** Registry edits: githubSsh and every upstream at the test sshd, through the proxy, keys under `sshDir`. */
function localEdits(ssh: SshUpstream, proxyPort: number, sshDir: string, extra: readonly Edit[] = []): Edit[] {
  return [
    { from: 'host: ssh.github.com', to: 'host: 127.0.0.1' },
    { from: 'port: 443', to: `port: ${ssh.port}` },
    { from: '      user: git\n', to: `      user: ${ssh.user}\n` },
    {
      from: 'url: http://egress-proxy.unidesk-system.svc.cluster.local:3128',
      to: `url: http://127.0.0.1:${proxyPort}`,
    },
    { from: 'sshMountPath: /etc/branch-follower/github-ssh', to: `sshMountPath: ${sshDir}` },
    ...MIRRORS.map((m) => ({
      from: `upstream: ssh://git@ssh.github.com:443/${m.path}`,
      to: `upstream: ${ssh.repoUrl(m.path)}`,
    })),
    ...extra,
  ];
}

export async function startLocalWorld(): Promise<LocalWorld> {
  const ssh = await startSshUpstream();
  const proxy = await startConnectProxy({ connectPort: ssh.port });
  const base = mkdtempSync(join(tmpdir(), 'bf-git-mirror-cli-'));
  const mirrorDir = join(base, 'cache');
  const sshDir = join(base, 'github-ssh');
  mkdirSync(join(sshDir, 'identity'), { recursive: true });
  mkdirSync(join(sshDir, 'known-hosts'), { recursive: true });
  copyFileSync(ssh.identityFile, join(sshDir, 'identity', 'id_ed25519'));
  copyFileSync(ssh.knownHostsFile, join(sshDir, 'known-hosts', 'known_hosts'));
  const cacheGit = (path: string, args: readonly string[]) =>
    hermeticGit([`--git-dir=${join(mirrorDir, path)}`, ...args], { home: base, env: IDENTITY });
  for (const m of MIRRORS) {
    await ssh.createRepo(m.path);
    await ssh.commit(m.path, m.branch, `${m.id} one`);
    mkdirSync(join(mirrorDir, m.path), { recursive: true });
    await hermeticGit(['init', '-q', '--bare', join(mirrorDir, m.path)], { home: base });
  }
  const { root } = makeFixture(localEdits(ssh, proxy.port, sshDir));
  return {
    ssh,
    proxy,
    root,
    mirrorDir,
    sshDir,
    privateKey: readFileSync(ssh.identityFile, 'utf8'),
    cacheGit,
    async cacheRefs(path) {
      const out = await cacheGit(path, ['for-each-ref', '--format=%(refname) %(objectname)']);
      return Object.fromEntries(
        out
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' ') as [string, string]),
      );
    },
    env: { PATH: process.env.PATH },
    async dispose() {
      await proxy.dispose();
      await ssh.dispose();
      rmSync(base, { recursive: true, force: true });
    },
  };
}
