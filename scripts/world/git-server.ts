import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { hermeticGitEnv } from '../../core/git/env.ts';
import { freePort } from '../envtest/control-plane.ts';
import { acceptsTcp } from './processes.ts';

// Real git over a real protocol (git://, loopback only) for integration tests: a `git daemon` serving
// bare repositories from a temp root. Every git the helper runs gets a hermetic environment, so a test
// that poisons process.env (GIT_DIR, GIT_CONFIG_GLOBAL, …) cannot poison the server's side.

/** PATH as it was when the helper loaded, before any test could change process.env. */
const PATH = process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin';
/** git never looks for a repository above the temp directory (as it was at load) it works in. */
const CEILING = tmpdir();
const IDENTITY = {
  GIT_AUTHOR_NAME: 'git-server test',
  GIT_AUTHOR_EMAIL: 'git-server@test.invalid',
  GIT_COMMITTER_NAME: 'git-server test',
  GIT_COMMITTER_EMAIL: 'git-server@test.invalid',
};
const READY = 'Ready to rumble';
const READY_TIMEOUT_MS = 10_000;

/** Runs git with only the hermetic environment (HOME = `home`); returns trimmed stdout. */
export async function hermeticGit(
  args: readonly string[],
  opts: { home: string; cwd?: string; env?: Readonly<Record<string, string>>; input?: string },
): Promise<string> {
  const result = await execa('git', args, {
    cwd: opts.cwd ?? opts.home,
    extendEnv: false,
    env: { ...hermeticGitEnv(PATH, opts.home), GIT_CEILING_DIRECTORIES: CEILING, ...opts.env },
    ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }),
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
  return result.stdout.trim();
}

export interface GitServer {
  /** The directory served (`--base-path`); repositories live under it. */
  readonly root: string;
  readonly port: number;
  /** The daemon's stderr (verbose log), appended to across restarts. */
  readonly logFile: string;
  /** A HOME for git commands a test runs against the server (clones and the like). */
  readonly home: string;
  /** `git://127.0.0.1:<port>/<repoPath>`. */
  url(repoPath: string): string;
  /** Creates an empty bare repository at `<root>/<repoPath>`. */
  createRepo(repoPath: string): Promise<void>;
  /** Adds a commit (empty tree, parent = the branch's tip if any) and moves the branch to it; returns its sha. */
  commit(repoPath: string, branch: string, message: string): Promise<string>;
  /** Points `ref` at `sha` in the bare repository. */
  setRef(repoPath: string, ref: string, sha: string): Promise<void>;
  /** Deletes `ref` from the bare repository. */
  deleteRef(repoPath: string, ref: string): Promise<void>;
  /** How many connections the daemon has accepted (one per ls-remote, fetch or push). */
  connectionCount(): number;
  /** The repositories requested so far, one entry per request (e.g. `/owner/name.git`). */
  requests(): string[];
  /** The daemon's log so far. */
  log(): string;
  /** Stops the daemon and waits until it is gone; the repositories stay. */
  stop(): Promise<void>;
  /** Starts the daemon again on the same port and waits until it accepts connections. */
  restart(): Promise<void>;
  /** Stops the daemon and removes everything the helper made. */
  dispose(): Promise<void>;
}

/** How startGitServer may differ from its default (a free port, a fresh root, run as the caller). */
export interface GitServerOptions {
  /** Listen on this loopback port (e.g. 9418, git's own, for a URL without a port). */
  readonly port?: number;
  /** Serve this existing directory instead of a fresh one (dispose leaves it in place). */
  readonly root?: string;
  /** Run the daemon as this uid/gid (git serves only repositories its user owns). */
  readonly runAs?: { readonly uid: number; readonly gid: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (text: string, needle: string) => text.split('\n').filter((l) => l.includes(needle)).length;

// Starts a git daemon on a free loopback port over a fresh temp root, and waits until it is ready.
export async function startGitServer(opts: GitServerOptions = {}): Promise<GitServer> {
  const base = mkdtempSync(join(CEILING, 'bf-git-server-'));
  const root = opts.root ?? join(base, 'root');
  const home = join(base, 'home');
  const logFile = join(base, 'daemon.log');
  if (opts.root === undefined) mkdirSync(root);
  mkdirSync(home);
  if (opts.runAs) {
    // The daemon's user must reach its working directory.
    chmodSync(base, 0o755);
    chownSync(home, opts.runAs.uid, opts.runAs.gid);
  }
  const port = opts.port ?? (await freePort());
  let daemon: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  /** Connections the helper made itself (readiness probes), left out of connectionCount(). */
  let probes = 0;
  const killOnExit = () => daemon?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const git = (args: readonly string[], env?: Record<string, string>) =>
    hermeticGit(args, { home, ...(env ? { env } : {}) });
  const bare = (repoPath: string) => join(root, repoPath);

  async function start(): Promise<void> {
    const readyBefore = count(log(), READY);
    const fd = openSync(logFile, 'a');
    const child = spawn(
      'git',
      [
        'daemon',
        '--reuseaddr',
        '--export-all',
        '--enable=receive-pack',
        `--base-path=${root}`,
        '--listen=127.0.0.1',
        `--port=${port}`,
        '--verbose',
        '--log-destination=stderr',
        root,
      ],
      { cwd: home, env: { ...hermeticGitEnv(PATH, home) }, stdio: ['ignore', 'ignore', fd], ...(opts.runAs ?? {}) },
    );
    closeSync(fd);
    daemon = child;
    let gone = false;
    exited = new Promise((resolve) => {
      child.once('exit', () => {
        gone = true;
        resolve();
      });
      child.once('error', () => {
        gone = true;
        resolve();
      });
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (count(log(), READY) > readyBefore) {
        // The readiness probe is itself a connection the daemon logs: wait for its line, so the next
        // connectionCount() is stable, and remember it as not the test's.
        const before = count(log(), 'Connection from');
        if (await acceptsTcp(port)) {
          await waitForLines('Connection from', before + 1);
          probes += 1;
          return;
        }
      }
      if (gone) throw new Error(`git daemon exited before it was ready; its log:\n${log()}`);
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`git daemon not ready on 127.0.0.1:${port} within ${READY_TIMEOUT_MS}ms; its log:\n${log()}`);
      }
      await sleep(20);
    }
  }

  async function waitForLines(needle: string, n: number): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (count(log(), needle) < n) {
      if (Date.now() > deadline) throw new Error(`git daemon log never showed ${n}× "${needle}":\n${log()}`);
      await sleep(10);
    }
  }

  async function stop(): Promise<void> {
    const child = daemon;
    daemon = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (await acceptsTcp(port)) {
      if (Date.now() > deadline)
        throw new Error(`127.0.0.1:${port} still accepts connections after the daemon stopped`);
      await sleep(20);
    }
  }

  await start();

  return {
    root,
    port,
    logFile,
    home,
    url: (repoPath) => `git://127.0.0.1:${port}/${repoPath}`,
    async createRepo(repoPath) {
      mkdirSync(bare(repoPath), { recursive: true });
      await git(['init', '--quiet', '--bare', bare(repoPath)]);
    },
    async commit(repoPath, branch, message) {
      const dir = bare(repoPath);
      const tree = await git(['-C', dir, 'mktree'], undefined);
      let parent: string | undefined;
      try {
        parent = await git(['-C', dir, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`]);
      } catch {
        parent = undefined;
      }
      const args = ['-C', dir, 'commit-tree', tree, '-m', message, ...(parent ? ['-p', parent] : [])];
      const sha = await git(args, IDENTITY);
      await git(['-C', dir, 'update-ref', `refs/heads/${branch}`, sha]);
      return sha;
    },
    async setRef(repoPath, ref, sha) {
      await git(['-C', bare(repoPath), 'update-ref', ref, sha]);
    },
    async deleteRef(repoPath, ref) {
      await git(['-C', bare(repoPath), 'update-ref', '-d', ref]);
    },
    connectionCount: () => count(log(), 'Connection from') - probes,
    requests: () => [...log().matchAll(/Request \S+ for '([^']+)'/g)].map((m) => m[1]!),
    log,
    stop,
    async restart() {
      await stop();
      await start();
    },
    async dispose() {
      await stop();
      process.removeListener('exit', killOnExit);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
