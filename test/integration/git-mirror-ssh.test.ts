import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sshArgs, sshTransportEnv, transportDisclosure, type SshTransport } from '../../runner/git-mirror/ssh-transport.ts';
import { sync } from '../../runner/git-mirror/sync.ts';
import { startConnectProxy, type ConnectProxy } from '../helpers/connect-proxy.ts';
import { ROOT } from '../helpers/registry.ts';
import { startSshUpstream, type SshUpstream } from '../helpers/ssh-upstream.ts';

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
    expect(r.snapshots).toEqual([{ ref: `refs/unidesk/snapshots/hwlab-node-runtime/v0.3/${tip}`, sha: tip, action: 'created' }]);
    expect(proxy.connectCount()).toBeGreaterThan(before); // it went through the tunnel
  });

  it('refuses an upstream whose host key is not the declared one', async () => {
    await ssh.createRepo('pikasTech/agentrun.git').catch(() => undefined);
    await ssh.commit('pikasTech/agentrun.git', 'v0.2', 'one');
    const emptyKnownHosts = join(mkdtempSync(join(tmpdir(), 'bf-kh-')), 'known_hosts');
    execFileSync('touch', [emptyKnownHosts]);
    const { env } = sshTransportEnv(transport({ knownHostsFile: emptyKnownHosts, proxy: { mode: 'none' } }));
    await expect(
      sync({ mirrorDir: bareMirror(), upstreamUrl: ssh.repoUrl('pikasTech/agentrun.git'), branches: ['v0.2'], snapshots: [], transportEnv: env, timeoutMs: 20_000, dryRun: false }),
    ).rejects.toThrow(/Host key verification failed: fatal: Could not read from remote repository/);
  });

  it('the wrapper holds no key material, and the disclosure shows only presence and a fingerprint', () => {
    const t = transport();
    const { wrapper } = sshTransportEnv(t);
    const key = readFileSync(ssh.identityFile, 'utf8');
    const script = readFileSync(wrapper, 'utf8');
    expect(script).toContain(`'-i' '${ssh.identityFile}'`);
    expect(script).not.toContain(key.split('\n')[1]!);
    expect(sshArgs(t)).toContain('StrictHostKeyChecking=yes');
    const shown = JSON.stringify(transportDisclosure(t, { identity: { secret: 'git-mirror-github-ssh', key: 'id_ed25519' }, knownHosts: { secret: 'git-mirror-github-ssh', key: 'known_hosts' } }));
    expect(shown).toMatch(/"present":true,"fingerprint":"sha256:[0-9a-f]{16}"/);
    expect(shown).toContain('"proxyMode":"connect"');
    for (const line of key.split('\n').filter((l) => l.length > 20)) expect(shown).not.toContain(line);
  });
});
