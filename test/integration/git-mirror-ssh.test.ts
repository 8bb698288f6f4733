import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  sshArgs,
  sshTransportEnv,
  transportDisclosure,
  type SshTransport,
} from '../../runner/git-mirror/ssh-transport.ts';
import { flush } from '../../runner/git-mirror/flush.ts';
import { sync } from '../../runner/git-mirror/sync.ts';
import { startConnectProxy, type ConnectProxy } from '../../scripts/world/connect-proxy.ts';
import { ROOT } from '../../scripts/world/registry.ts';
import { startSshUpstream, type SshUpstream } from '../../scripts/world/ssh-upstream.ts';

let ssh: SshUpstream;
let proxy: ConnectProxy;
beforeAll(async () => {
  ssh = await startSshUpstream();
  proxy = await startConnectProxy({ connectPort: ssh.port });
});
afterAll(async () => {
  await proxy.dispose();
  await ssh.dispose();
});

const transport = (over: Partial<SshTransport> = {}): SshTransport => ({
  identityFile: ssh.identityFile,
  knownHostsFile: ssh.knownHostsFile,
  proxy: { mode: 'connect', url: `http://127.0.0.1:${proxy.port}` },
  node: process.execPath,
  tunnelScript: join(ROOT, 'runner/git-mirror/connect-tunnel.ts'),
  ...over,
});

function bareMirror(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'bf-mirror-')), 'cache.git');
  execFileSync('git', ['init', '-q', '--bare', dir]);
  return dir;
}

describe('the git mirror over real SSH through a real CONNECT proxy', () => {
  it('sync reaches the upstream only through the generated GIT_SSH wrapper and the proxy tunnel', async () => {
    await ssh.createRepo('pikasTech/HWLAB.git');
    const tip = await ssh.commit('pikasTech/HWLAB.git', 'v0.3', 'one');
    const { env } = sshTransportEnv(transport());
    const before = proxy.connectCount();
    const r = await sync({
      mirrorDir: bareMirror(),
      upstreamUrl: ssh.repoUrl('pikasTech/HWLAB.git'),
      branches: ['v0.3'],
      snapshots: [{ adapter: 'hwlab-node-runtime', branch: 'v0.3' }],
      transportEnv: env,
      timeoutMs: 20_000,
      dryRun: false,
    });
    expect(r.snapshots).toEqual([
      { ref: `refs/unidesk/snapshots/hwlab-node-runtime/v0.3/${tip}`, sha: tip, action: 'created' },
    ]);
    expect(proxy.connectCount()).toBeGreaterThan(before); // it went through the tunnel
  });

  it('a sync with nothing new opens one SSH connection (its ls-remote), one that fetches opens two', async () => {
    await ssh.createRepo('pikasTech/idle.git');
    const tip = await ssh.commit('pikasTech/idle.git', 'v0.3', 'one');
    const t = sshTransportEnv(transport());
    const opts = {
      mirrorDir: bareMirror(),
      upstreamUrl: ssh.repoUrl('pikasTech/idle.git'),
      branches: ['v0.3'],
      snapshots: [{ adapter: 'hwlab-node-runtime', branch: 'v0.3' }],
      transportEnv: t.env,
      timeoutMs: 20_000,
      dryRun: false,
    };
    try {
      const first = proxy.connectCount();
      await sync(opts);
      const second = proxy.connectCount();
      const r = await sync(opts);
      expect(second - first).toBe(2);
      expect(proxy.connectCount() - second).toBe(1);
      expect(r.fetched).toEqual([{ branch: 'v0.3', from: tip, to: tip }]);
    } finally {
      t.dispose();
    }
  });

  it('a shared transport connects once for every sync, and dispose ends the connection and removes it all', async () => {
    const repos = ['pikasTech/shared-a.git', 'pikasTech/shared-b.git', 'pikasTech/shared-c.git'];
    for (const repo of repos) {
      await ssh.createRepo(repo);
      await ssh.commit(repo, 'v0.3', 'one');
    }
    const parent = mkdtempSync(join(tmpdir(), 'bf-shared-ssh-'));
    const share = { controlPath: 'mux', idleSeconds: 30, pathEnv: process.env.PATH ?? '' };
    const t = sshTransportEnv(transport({ share }), parent);
    const [dir] = readdirSync(parent);
    const socket = join(parent, dir!, 'mux');
    const syncOf = (repo: string) =>
      sync({
        mirrorDir: bareMirror(),
        upstreamUrl: ssh.repoUrl(repo),
        branches: ['v0.3'],
        snapshots: [{ adapter: 'hwlab-node-runtime', branch: 'v0.3' }],
        transportEnv: t.env,
        timeoutMs: 20_000,
        dryRun: false,
      });
    const before = proxy.connectCount();
    await syncOf(repos[0]!);
    expect(existsSync(socket)).toBe(true);
    await Promise.all(repos.slice(1).map(syncOf));
    // Three syncs, each an ls-remote and a fetch: one connection through the tunnel.
    expect(proxy.connectCount() - before).toBe(1);
    const master = () => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes(socket);
    expect(master()).toBe(true);
    t.dispose();
    expect(existsSync(join(parent, dir!))).toBe(false);
    // The master answers `-O exit` before it has gone: wait for it (the test's timeout bounds this).
    while (master()) await new Promise((r) => setTimeout(r, 50));
    rmSync(parent, { recursive: true, force: true });
  });

  it('refuses an upstream whose host key is not the declared one', async () => {
    await ssh.createRepo('pikasTech/agentrun.git').catch(() => undefined);
    await ssh.commit('pikasTech/agentrun.git', 'v0.2', 'one');
    const emptyKnownHosts = join(mkdtempSync(join(tmpdir(), 'bf-kh-')), 'known_hosts');
    execFileSync('touch', [emptyKnownHosts]);
    const { env } = sshTransportEnv(transport({ knownHostsFile: emptyKnownHosts, proxy: { mode: 'none' } }));
    await expect(
      sync({
        mirrorDir: bareMirror(),
        upstreamUrl: ssh.repoUrl('pikasTech/agentrun.git'),
        branches: ['v0.2'],
        snapshots: [],
        transportEnv: env,
        timeoutMs: 20_000,
        dryRun: false,
      }),
    ).rejects.toThrow(/Host key verification failed: fatal: Could not read from remote repository/);
  });

  it(
    'flush over SSH: sshd stopped between the push and the recheck, restarted for the recovery: ' +
      'partialSuccessRecovered',
    async () => {
      const repo = 'pikasTech/flush-recovery.git';
      await ssh.createRepo(repo);
      const base = await ssh.commit(repo, 'gitops/jd01-v03', 'published before');
      const mirrorDir = bareMirror();
      execFileSync('git', [
        '--git-dir',
        mirrorDir,
        'fetch',
        '-q',
        ssh.repoPath(repo),
        'refs/heads/gitops/jd01-v03:refs/heads/gitops/jd01-v03',
      ]);
      const tree = execFileSync('git', ['--git-dir', mirrorDir, 'mktree'], { input: '', encoding: 'utf8' }).trim();
      const next = execFileSync(
        'git',
        [
          '--git-dir',
          mirrorDir,
          '-c',
          'user.name=t',
          '-c',
          'user.email=t@t.invalid',
          'commit-tree',
          tree,
          '-p',
          base,
          '-m',
          'publish',
        ],
        { encoding: 'utf8' },
      ).trim();
      execFileSync('git', ['--git-dir', mirrorDir, 'update-ref', 'refs/heads/gitops/jd01-v03', next]);
      const t = sshTransportEnv(transport({ proxy: { mode: 'none' } }));
      const attempts: number[] = [];
      try {
        const r = await flush({
          mirrorDir,
          upstreamUrl: ssh.repoUrl(repo),
          gitopsRef: 'refs/heads/gitops/jd01-v03',
          transportEnv: t.env,
          timeoutMs: 20_000,
          dryRun: false,
          recheck: {
            delayMs: 100,
            read: async (attempt, readUpstream) => {
              attempts.push(attempt);
              if (attempt === 1)
                await ssh.stop(); // the push landed; the recheck meets a dead sshd
              else await ssh.restart();
              return readUpstream();
            },
          },
        });
        expect(attempts).toEqual([1, 2]);
        expect(r).toMatchObject({
          ok: true,
          pushed: true,
          partialSuccess: 'push-succeeded-fetch-failed',
          partialSuccessRecovered: true,
          postPushRecovery: { attempts: 1 },
          githubInSync: true,
          pendingFlush: false,
          upstreamSha: next,
        });
        expect(await ssh.refSha(repo, 'refs/heads/gitops/jd01-v03')).toBe(next);
      } finally {
        t.dispose();
        await ssh.restart().catch(() => undefined);
      }
    },
  );

  it('a copy of the key left by a killed process is gone once the next transport is made', async () => {
    const parent = join(mkdtempSync(join(tmpdir(), 'bf-keys-')), 'bf-git-ssh');
    try {
      // A real process makes its transport, says where, and is killed before it can dispose of it.
      const script =
        `import { sshTransportEnv } from ${JSON.stringify(join(ROOT, 'runner/git-mirror/ssh-transport.ts'))};` +
        `const t = sshTransportEnv(JSON.parse(process.argv[1]), process.argv[2]);` +
        `console.log(t.wrapper); setInterval(() => {}, 1000);`;
      const child = spawn(
        process.execPath,
        ['--input-type=module', '-e', script, JSON.stringify(transport()), parent],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      const wrapper = await new Promise<string>((resolve) =>
        child.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())),
      );
      const left = join(dirname(wrapper), 'identity');
      expect(readFileSync(left, 'utf8')).toBe(readFileSync(ssh.identityFile, 'utf8'));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      expect(existsSync(left)).toBe(true);

      const next = sshTransportEnv(transport(), parent);
      expect(existsSync(dirname(left))).toBe(false);
      expect(readdirSync(parent)).toEqual([dirname(next.wrapper).split('/').at(-1)]);
      next.dispose();
      expect(readdirSync(parent)).toEqual([]);
    } finally {
      rmSync(dirname(parent), { recursive: true, force: true });
    }
  });

  it('the wrapper holds no key material, and the disclosure shows only presence and a fingerprint', () => {
    const t = transport();
    const { wrapper } = sshTransportEnv(t);
    const key = readFileSync(ssh.identityFile, 'utf8');
    const script = readFileSync(wrapper, 'utf8');
    expect(script).toContain(`'-i' '${join(dirname(wrapper), 'identity')}'`); // a 0600 copy, as ssh demands
    expect(statSync(join(dirname(wrapper), 'identity')).mode & 0o777).toBe(0o600);
    expect(script).not.toContain(key.split('\n')[1]!);
    expect(sshArgs(t)).toContain('StrictHostKeyChecking=yes');
    const shown = JSON.stringify(
      transportDisclosure(t, {
        identity: { secret: 'git-mirror-github-ssh', key: 'id_ed25519' },
        knownHosts: { secret: 'git-mirror-github-ssh', key: 'known_hosts' },
      }),
    );
    expect(shown).toMatch(/"present":true,"fingerprint":"sha256:[0-9a-f]{16}"/);
    expect(shown).toContain('"proxyMode":"connect"');
    for (const line of key.split('\n').filter((l) => l.length > 20)) expect(shown).not.toContain(line);
  });
});
