import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConnectProxy, type ConnectProxy } from '../../scripts/world/connect-proxy.ts';
import { hermeticGit } from '../../scripts/world/git-server.ts';
import { startSshUpstream, type SshUpstream } from '../../scripts/world/ssh-upstream.ts';

// Proves the test upstream with plain git, the way the product will reach GitHub: only through a
// GIT_SSH wrapper with a declared identity, known_hosts and port, optionally tunnelled through an
// HTTP CONNECT proxy by runner/git-mirror/connect-tunnel.ts.

const TUNNEL = fileURLToPath(new URL('../../runner/git-mirror/connect-tunnel.ts', import.meta.url));
const REPO = 'org/app.git';

let upstream: SshUpstream;
let work: string;
let home: string;
let sshdStartMs = 0;

beforeAll(async () => {
  const started = Date.now();
  upstream = await startSshUpstream();
  sshdStartMs = Date.now() - started;
  console.log(`ssh-upstream: sshd on 127.0.0.1:${upstream.port} ready in ${sshdStartMs}ms (keys + config + listen)`);
  await upstream.createRepo(REPO);
  work = mkdtempSync(join(tmpdir(), 'bf-ssh-client-'));
  home = join(work, 'home');
  mkdirSync(home);
});

afterAll(async () => {
  await upstream?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

let wrappers = 0;
/** Writes a GIT_SSH wrapper script; only what it declares reaches ssh (-F /dev/null). */
function gitSsh(
  opts: { identityFile?: string; knownHostsFile?: string; proxyPort?: number } = {},
): Record<string, string> {
  const file = join(work, `git-ssh-${++wrappers}`);
  const args = [
    'ssh -F /dev/null',
    `-i '${opts.identityFile ?? upstream.identityFile}' -o IdentitiesOnly=yes`,
    `-o 'UserKnownHostsFile=${opts.knownHostsFile ?? upstream.knownHostsFile}' -o GlobalKnownHostsFile=/dev/null`,
    '-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10',
    `-p ${upstream.port}`,
    ...(opts.proxyPort === undefined
      ? []
      : [`-o 'ProxyCommand=${process.execPath} ${TUNNEL} 127.0.0.1 ${opts.proxyPort} %h %p'`]),
  ];
  writeFileSync(file, `#!/bin/sh\nexec ${args.join(' ')} "$@"\n`);
  chmodSync(file, 0o755);
  return { GIT_SSH: file, GIT_SSH_VARIANT: 'ssh' };
}

function lsRemote(env: Record<string, string>): Promise<string> {
  return hermeticGit(['ls-remote', upstream.repoUrl(REPO)], { home, env });
}

describe('ssh upstream (real sshd on loopback)', () => {
  it('serves git ls-remote over ssh with the declared key and known_hosts', async () => {
    const sha = await upstream.commit(REPO, 'main', 'first');
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await upstream.refSha(REPO, 'refs/heads/main')).toBe(sha);
    expect(await lsRemote(gitSsh())).toContain(`${sha}\trefs/heads/main`);
    expect(readFileSync(upstream.logFile, 'utf8')).toMatch(/Accepted publickey for \S+ from 127\.0\.0\.1/);
  });

  it('refuses a key that is not authorized', async () => {
    const otherKey = join(work, 'other_ed25519');
    await execa('ssh-keygen', ['-q', '-N', '', '-t', 'ed25519', '-f', otherKey], { stdin: 'ignore' });
    await expect(lsRemote(gitSsh({ identityFile: otherKey }))).rejects.toThrow(/Permission denied \(publickey\)/);
  });

  it('refuses an unknown host key (strict checking, batch mode)', async () => {
    const emptyKnownHosts = join(work, 'empty_known_hosts');
    writeFileSync(emptyKnownHosts, '');
    await expect(lsRemote(gitSsh({ knownHostsFile: emptyKnownHosts }))).rejects.toThrow(/Host key verification failed/);
  });

  it('fails while sshd is stopped and works again after a restart on the same port', async () => {
    const port = upstream.port;
    await upstream.stop();
    await expect(lsRemote(gitSsh())).rejects.toThrow(/Connection refused/);
    await upstream.restart();
    expect(upstream.port).toBe(port);
    expect(await lsRemote(gitSsh())).toContain('refs/heads/main');
  });

  it('accepts a fast-forward git push', async () => {
    const base = await upstream.refSha(REPO, 'refs/heads/main');
    const local = join(work, 'local.git');
    const env = {
      ...gitSsh(),
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@test.invalid',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@test.invalid',
    };
    const git = (args: string[], input?: string): Promise<string> =>
      hermeticGit(['--git-dir', local, ...args], { home, env, ...(input === undefined ? {} : { input }) });
    await hermeticGit(['init', '-q', '--bare', local], { home });
    await git(['fetch', '-q', upstream.repoUrl(REPO), 'refs/heads/main:refs/heads/main']);
    const tree = await git(['mktree'], '');
    const next = await git(['commit-tree', tree, '-p', `${base}`, '-m', 'pushed over ssh']);
    await git(['push', '-q', upstream.repoUrl(REPO), `${next}:refs/heads/main`]);
    expect(await upstream.refSha(REPO, 'refs/heads/main')).toBe(next);
  });
});

describe('ssh upstream through an HTTP CONNECT proxy (tinyproxy)', () => {
  let proxy: ConnectProxy;
  afterAll(async () => proxy?.dispose());

  it('tunnels git ls-remote through CONNECT, and the proxy logs it', async () => {
    proxy = await startConnectProxy({ connectPort: upstream.port });
    const sha = await upstream.refSha(REPO, 'refs/heads/main');
    expect(await lsRemote(gitSsh({ proxyPort: proxy.port }))).toContain(`${sha}\trefs/heads/main`);
    expect(proxy.connectCount()).toBe(1);
    expect(readFileSync(proxy.logFile, 'utf8')).toContain(`CONNECT 127.0.0.1:${upstream.port} HTTP/1.1`);
  });

  it('fails while the proxy is stopped and works after its restart', async () => {
    await proxy.stop();
    await expect(lsRemote(gitSsh({ proxyPort: proxy.port }))).rejects.toThrow(
      /connect-tunnel: proxy 127\.0\.0\.1:\d+: .*ECONNREFUSED/,
    );
    await proxy.restart();
    expect(await lsRemote(gitSsh({ proxyPort: proxy.port }))).toContain('refs/heads/main');
    expect(proxy.connectCount()).toBe(2);
  });

  it('a proxy that refuses the first CONNECT: the first attempt fails with the 403, the next succeeds', async () => {
    const refusing = await startConnectProxy({ connectPort: upstream.port, refuseFirst: 1 });
    try {
      const env = gitSsh({ proxyPort: refusing.port });
      await expect(lsRemote(env)).rejects.toThrow(
        /connect-tunnel: proxy 127\.0\.0\.1:\d+ refused CONNECT 127\.0\.0\.1:\d+: HTTP\/1\.[01] 403/,
      );
      // The helper reloads tinyproxy's config once it has logged the refusal; wait for that.
      await expect
        .poll(() => readFileSync(refusing.logFile, 'utf8').match(/Reloading config file finished/g)?.length ?? 0)
        .toBe(2);
      expect(await lsRemote(env)).toContain('refs/heads/main');
      expect(refusing.refusedCount()).toBe(1);
      expect(refusing.connectCount()).toBe(2);
    } finally {
      await refusing.dispose();
    }
  });
});
