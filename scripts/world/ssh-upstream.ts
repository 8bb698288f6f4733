import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { freePort } from '../envtest/control-plane.ts';
import { hermeticGit } from './git-server.ts';
import { acceptsTcp, stopChild } from './processes.ts';

// A real SSH "upstream GitHub" on loopback for the git-mirror tests: the Debian /usr/sbin/sshd
// (scripts/install-test-deps.sh) with its own host key, one authorized client key and bare
// repositories in a temp dir. Git reaches it as ssh://<user>@127.0.0.1:<port>/<abs path>.

const SSHD = '/usr/sbin/sshd';
const READY_TIMEOUT_MS = 10_000;
const IDENTITY = {
  GIT_AUTHOR_NAME: 'ssh-upstream test',
  GIT_AUTHOR_EMAIL: 'ssh-upstream@test.invalid',
  GIT_COMMITTER_NAME: 'ssh-upstream test',
  GIT_COMMITTER_EMAIL: 'ssh-upstream@test.invalid',
};

export interface SshUpstream {
  readonly dir: string;
  readonly port: number;
  /** The login user: the user the tests run as (root in the container). */
  readonly user: string;
  /** The private key sshd accepts (authorized_keys, `restrict`ed). */
  readonly identityFile: string;
  /** One line, `[127.0.0.1]:<port> <host key>`, for StrictHostKeyChecking=yes. */
  readonly knownHostsFile: string;
  /** sshd's own log (`-E`), appended to across restarts. */
  readonly logFile: string;
  /** A HOME for git commands the helper (or a test) runs on the server side. */
  readonly home: string;
  /** Absolute path on disk of the bare repository `path` (relative, e.g. `org/app.git`). */
  repoPath(path: string): string;
  repoUrl(path: string): string;
  createRepo(path: string): Promise<void>;
  /** Commits an empty tree on `branch` (child of its current tip, if any); returns the new sha. */
  commit(path: string, branch: string, message: string): Promise<string>;
  /** The sha `ref` points at in the bare repository, or undefined when it does not exist. */
  refSha(path: string, ref: string): Promise<string | undefined>;
  stop(): Promise<void>;
  /** Starts sshd again on the same port with the same keys. */
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

/** How startSshUpstream may differ from its default (a free port, the caller's user, sshd as is). */
export interface SshUpstreamOptions {
  /** Listen on this loopback port (e.g. 443, as ssh.github.com does). */
  readonly port?: number;
  /** The login user sshd allows (default: the user the tests run as); sshd must find it in /etc/passwd. */
  readonly user?: string;
  /**
   * Runs sshd through this argv (e.g. a mount namespace whose /etc/passwd has `user`, or where the
   * repositories appear at the absolute paths the clients name); `repos` is where they are on disk.
   */
  readonly wrap?: (argv: readonly string[], paths: { readonly dir: string; readonly repos: string }) => string[];
}

async function keygen(file: string): Promise<void> {
  await execa('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-C', 'ssh-upstream-test', '-f', file], {
    stdin: 'ignore',
  });
}

// Ready = the port accepts a TCP connection (sshd listens before it forks per connection).
async function waitForPort(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`sshd exited (${child.exitCode ?? child.signalCode}) before listening:\n${readLog(logFile)}`);
    }
    if (await acceptsTcp(port)) return;
    if (Date.now() > deadline)
      throw new Error(`sshd not listening on 127.0.0.1:${port} after ${READY_TIMEOUT_MS}ms:\n${readLog(logFile)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function readLog(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '(no log)';
}

// One sshd per test file (or test); everything lives in one temp dir that dispose() removes.
export async function startSshUpstream(opts: SshUpstreamOptions = {}): Promise<SshUpstream> {
  const dir = mkdtempSync(join(tmpdir(), 'bf-ssh-upstream-'));
  const home = join(dir, 'home');
  const repos = join(dir, 'repos');
  mkdirSync(home);
  mkdirSync(repos);
  // sshd insists on its privilege-separation directory, which systemd would normally create.
  mkdirSync('/run/sshd', { recursive: true });

  const hostKey = join(dir, 'host_ed25519');
  const identityFile = join(dir, 'client_ed25519');
  await Promise.all([keygen(hostKey), keygen(identityFile)]);
  const authorizedKeys = join(dir, 'authorized_keys');
  // `restrict`: no pty, no port/agent/X11 forwarding, no ~/.ssh/rc; git only needs an exec channel.
  writeFileSync(authorizedKeys, `restrict ${readFileSync(`${identityFile}.pub`, 'utf8').trim()}\n`, { mode: 0o600 });

  const port = opts.port ?? (await freePort());
  const user = opts.user ?? userInfo().username;
  const config = join(dir, 'sshd_config');
  const logFile = join(dir, 'sshd.log');
  writeFileSync(
    config,
    [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AllowUsers ${user}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitUserEnvironment no',
      'AllowTcpForwarding no',
      'AllowAgentForwarding no',
      'X11Forwarding no',
      'PermitTTY no',
      'PrintMotd no',
      'UseDNS no',
      // A session runs the account's shell, and bash run by sshd reads $HOME/.bashrc even when not
      // interactive: whatever the account's dotfiles start would run once per git call. The
      // upstream's own home keeps every session (and the git it runs) to this world's files.
      `SetEnv HOME=${home}`,
      'LogLevel VERBOSE',
      '',
    ].join('\n'),
  );
  const knownHostsFile = join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, `[127.0.0.1]:${port} ${readFileSync(`${hostKey}.pub`, 'utf8').trim()}\n`);

  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    // -D: stay in the foreground as our child; -e/-E: log to the file, not syslog.
    const argv = [SSHD, '-D', '-e', '-f', config, '-E', logFile];
    const [cmd, ...args] = opts.wrap ? opts.wrap(argv, { dir, repos }) : argv;
    const proc = spawn(cmd!, args, { stdio: 'ignore' });
    proc.on('error', () => undefined);
    child = proc;
    await waitForPort(port, proc, logFile);
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    await stopChild(proc);
  };
  await start();

  const repoPath = (path: string): string => join(repos, path);
  const git = (path: string, args: readonly string[], input?: string): Promise<string> =>
    hermeticGit(['--git-dir', repoPath(path), ...args], {
      home,
      env: IDENTITY,
      ...(input === undefined ? {} : { input }),
    });
  const refSha = async (path: string, ref: string): Promise<string | undefined> => {
    try {
      return (await git(path, ['rev-parse', '-q', '--verify', `${ref}^{commit}`])) || undefined;
    } catch {
      return undefined;
    }
  };

  return {
    dir,
    port,
    user,
    identityFile,
    knownHostsFile,
    logFile,
    home,
    repoPath,
    repoUrl: (path) => `ssh://${user}@127.0.0.1:${port}${repoPath(path)}`,
    createRepo: async (path) => {
      mkdirSync(repoPath(path), { recursive: true });
      await git(path, ['init', '-q', '--bare', '--initial-branch=main']);
    },
    commit: async (path, branch, message) => {
      const tree = await git(path, ['mktree'], '');
      const parent = await refSha(path, `refs/heads/${branch}`);
      const sha = await git(path, ['commit-tree', tree, '-m', message, ...(parent ? ['-p', parent] : [])]);
      await git(path, ['update-ref', `refs/heads/${branch}`, sha, ...(parent ? [parent] : [])]);
      return sha;
    },
    refSha,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
