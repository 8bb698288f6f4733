import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Edit } from './registry-fixture.ts';
import type { SshUpstream } from '../../scripts/world/ssh-upstream.ts';

// Points a registry copy's git-mirror settings at the test SSH upstream: githubSsh's host, port and
// user, every mirrors[].upstream, the mirror cache root, and the Secret mount laid out as the pod
// sees it (identity/<key>, known-hosts/<key>), with the proxy off unless a CONNECT proxy is given.

const REPOS = ['pikasTech/HWLAB.git', 'pikasTech/agentrun.git', 'pikasTech/unidesk.git'] as const;
const made: string[] = [];

/** A directory laid out like the githubSsh Secret mount, holding the test upstream's client key and known_hosts. */
export function sshMount(ssh: SshUpstream): string {
  const dir = mkdtempSync(join(tmpdir(), 'bf-ssh-mount-'));
  made.push(dir);
  mkdirSync(join(dir, 'identity'));
  mkdirSync(join(dir, 'known-hosts'));
  copyFileSync(ssh.identityFile, join(dir, 'identity', 'id_ed25519'));
  copyFileSync(ssh.knownHostsFile, join(dir, 'known-hosts', 'known_hosts'));
  return dir;
}

export function removeSshMounts(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Registry edits: the upstream over the test sshd, the cache under `mirrorRoot`, the keys under `sshDir` (`repos`: the
 * upstream paths the registry names, default the shipped ones).
 */
export function sshEdits(
  ssh: SshUpstream,
  opts: { mirrorRoot: string; sshDir: string; proxyPort?: number; repos?: readonly string[] },
): Edit[] {
  const proxy =
    opts.proxyPort === undefined
      ? 'proxy: { mode: none }'
      : `proxy:\n        mode: connect\n        url: http://127.0.0.1:${opts.proxyPort}`;
  return [
    { from: 'host: ssh.github.com', to: 'host: 127.0.0.1' },
    { from: 'port: 443', to: `port: ${ssh.port}` },
    { from: '      user: git\n', to: `      user: ${ssh.user}\n` },
    { from: /proxy:\n {8}mode: connect\n {8}url: \S+/, to: proxy },
    { from: 'mountPath: /var/lib/git-mirror', to: `mountPath: ${opts.mirrorRoot}` },
    { from: 'sshMountPath: /etc/branch-follower/github-ssh', to: `sshMountPath: ${opts.sshDir}` },
    ...(opts.repos ?? REPOS).map((repo) => ({
      from: `upstream: ssh://git@ssh.github.com:443/${repo}`,
      to: `upstream: ${ssh.repoUrl(repo)}`,
    })),
  ];
}
