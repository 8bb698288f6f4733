import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fingerprint } from '../../core/kube/normalize.ts';
import { freshProcessDir } from '../process-dir.ts';
import { GitMirrorError, GitMirrorReason } from './errors.ts';

/** How the mirror reaches its upstream: SSH only, with declared files, optionally through a CONNECT proxy. */
export interface SshTransport {
  /** The mounted Secret key holding the private key. */
  readonly identityFile: string;
  /** The mounted Secret key holding the upstream's known_hosts lines. */
  readonly knownHostsFile: string;
  /** `connect`: the HTTP proxy is used only as a CONNECT tunnel; `none`: direct. */
  readonly proxy: { readonly mode: 'connect'; readonly url: string } | { readonly mode: 'none' };
  /** The Node binary and the tunnel script the ProxyCommand runs. */
  readonly node: string;
  readonly tunnelScript: string;
  /**
   * One SSH connection shared by every git call made through this transport (OpenSSH connection multiplexing):
   * the first call's connection stays as the master, at most `idleSeconds` after its last session, and the others
   * open sessions on it instead of connecting and authenticating again. Absent: each call connects on its own.
   */
  readonly share?: {
    /** The control socket's name inside the transport's own directory. */
    readonly controlPath: string;
    readonly idleSeconds: number;
    /** PATH to find ssh when the master is told to end. */
    readonly pathEnv: string;
  };
}

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** The ssh argv before git's own (host, command); pure, so its every option can be checked. */
export function sshArgs(t: SshTransport): string[] {
  const args = [
    '-F',
    '/dev/null',
    '-i',
    t.identityFile,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${t.knownHostsFile}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'ForwardAgent=no',
  ];
  if (t.proxy.mode === 'connect') {
    const u = new URL(t.proxy.url);
    args.push('-o', `ProxyCommand=${quote(t.node)} ${quote(t.tunnelScript)} ${u.hostname} ${u.port} %h %p`);
  }
  if (t.share) {
    args.push(
      '-o',
      'ControlMaster=auto',
      '-o',
      `ControlPath=${t.share.controlPath}`,
      '-o',
      `ControlPersist=${t.share.idleSeconds}s`,
    );
  }
  return args;
}

// Every copy of the key lives under one private parent, in a directory of the process that made it
// (runner/process-dir.ts): a process killed before `dispose` leaves its copy behind, and the next
// transport made on this machine removes every copy whose process is gone before it makes its own.

// Writes the GIT_SSH wrapper into a fresh private directory and returns the variables git needs:
// nothing else of the caller's environment, no HTTPS, no token. The wrapper execs ssh with the
// declared identity and known_hosts only, and the proxy only as a CONNECT tunnel.
// A mounted Secret key is owned by root and group-readable (fsGroup), which ssh refuses for a private
// key; so the key is copied into the wrapper's own 0700 directory with mode 0600, and removed by
// `dispose` (or, if this process is killed first, by the next transport: see freshProcessDir).
// With `share`, the control socket lives in the same directory (its `controlPath` is taken as a name
// there), and `dispose` first tells the master to exit; a master whose process was killed first ends
// by itself once idle for `idleSeconds`, and its directory goes with the next transport's sweep.
export function sshTransportEnv(
  t: SshTransport,
  parent = join(tmpdir(), 'bf-git-ssh'),
): { env: Record<string, string>; wrapper: string; dispose(): void } {
  const dir = freshProcessDir(parent);
  const share = t.share ? { ...t.share, controlPath: join(dir, t.share.controlPath) } : undefined;
  const wrapper = join(dir, 'git-ssh');
  const identity = join(dir, 'identity');
  let key: Buffer;
  try {
    key = readFileSync(t.identityFile);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new GitMirrorError(
      `the SSH identity ${t.identityFile} (controller.source.githubSsh.identity, mounted under ` +
        `gitMirror.sshMountPath) cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      {
        reason: GitMirrorReason.Transport,
      },
    );
  }
  writeFileSync(identity, key, { mode: 0o600 });
  const args = sshArgs({ ...t, identityFile: identity, ...(share ? { share } : {}) });
  writeFileSync(wrapper, `#!/bin/sh\nexec ssh ${args.map(quote).join(' ')} "$@"\n`);
  chmodSync(wrapper, 0o700);
  return {
    env: { GIT_SSH: wrapper, GIT_SSH_VARIANT: 'ssh' },
    wrapper,
    dispose: () => {
      if (share && existsSync(share.controlPath)) endMaster(share.controlPath, share.pathEnv);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// `ssh -O exit` asks the master behind the socket to end (the destination is required by ssh's
// syntax; the socket alone says which connection). Synchronous, so that it also runs as a process
// exits; a master that does not answer in time ends by itself once idle.
function endMaster(controlPath: string, pathEnv: string): void {
  spawnSync('ssh', ['-F', '/dev/null', '-o', `ControlPath=${controlPath}`, '-O', 'exit', 'branch-follower-mux'], {
    stdio: 'ignore',
    timeout: 5_000,
    env: { PATH: pathEnv },
  });
}

/** What status may say of the transport: where it is declared, the proxy mode, a fingerprint — never the key. */
export function transportDisclosure(
  t: SshTransport,
  refs: { identity: { secret: string; key: string }; knownHosts: { secret: string; key: string } },
) {
  const fp = (file: string) => {
    try {
      return fingerprint(readFileSync(file, 'utf8'));
    } catch {
      return null;
    }
  };
  return {
    source: 'yaml' as const,
    sourceRef: 'controller.source.githubSsh',
    transport: 'ssh' as const,
    proxyMode: t.proxy.mode,
    identity: { ...refs.identity, present: fp(t.identityFile) !== null, fingerprint: fp(t.identityFile) },
    knownHosts: { ...refs.knownHosts, present: fp(t.knownHostsFile) !== null, fingerprint: fp(t.knownHostsFile) },
  };
}
