import { afterAll, beforeAll } from 'vitest';
import { loadRegistry } from '../../core/config/load.ts';
import type { FollowerConfig } from '../../core/config/schema.ts';
import { adapterPort, mirrorPort } from '../../runner/process-ports.ts';
import { mountedSecretLiterals } from '../../runner/secret-literals.ts';
import { startGitServer, type GitServer } from '../../scripts/world/git-server.ts';
import { startSshUpstream, type SshUpstream } from '../../scripts/world/ssh-upstream.ts';
import { outsideContract } from '../helpers/outside-contract.ts';
import { disposeWorlds, makePassWorld, REPOS, type FollowerId } from '../helpers/pass-world.ts';
import { REGISTRY } from '../helpers/registry-fixture.ts';

// git-mirror sync and flush over real SSH into a mirror cache served by a git daemon, and the
// UniDesk CLI doubles behind the adapter commands: the contract the in-memory mirror and control
// plane are held to (test/unit/memory-ports.contract.test.ts).
let git: GitServer;
let made = 0;
const branchOf = (ref: string) => ref.slice('refs/heads/'.length);
let ssh: SshUpstream;
const ports: { close(): void }[] = [];
beforeAll(async () => {
  [git, ssh] = await Promise.all([startGitServer(), startSshUpstream()]);
});
afterAll(async () => {
  for (const p of ports) p.close();
  disposeWorlds();
  await Promise.all([git.dispose(), ssh.dispose()]);
});

outsideContract(
  'git and the adapter commands',
  async () => {
    const w = await makePassWorld({ git, ssh }, 'outside');
    const loaded = loadRegistry(REGISTRY, w.root);
    const follower = loaded.registry.followers.find((f) => f.id === 'hwlab-jd01-v03')!;
    const runSeconds = 1;
    w.configure({ lanes: { 'hwlab:v03': { lagSeconds: 0, runSeconds } } });
    const r = REPOS['hwlab-jd01-v03'];
    const mirror = mirrorPort(loaded, w.env, mountedSecretLiterals(loaded));
    ports.push(mirror);
    const repoOf = (f: FollowerConfig) =>
      w.repoOf(loaded.registry.followers.find((x) => x.source.mirror === f.source.mirror)!.id as FollowerId);
    return {
      follower,
      mirror,
      adapters: adapterPort(loaded, w.env, mountedSecretLiterals(loaded)),
      pushUpstream: () => ssh.commit(w.repoOf('hwlab-jd01-v03'), r.branch, `contract ${Date.now()} ${Math.random()}`),
      finishRun: () => new Promise((done) => setTimeout(done, runSeconds * 1000 + 300)),
      other: loaded.registry.followers.find((f) => f.id === 'agentrun-jd01-v02')!,
      // The mirror cache is the git daemon's repository of the follower's mirror; the upstream the SSH one.
      publish: (f, ref) => git.commit(repoOf(f), branchOf(ref), `published ${f.id} ${ref} ${made++} ${Math.random()}`),
      pushForeign: (f, ref) =>
        ssh.commit(repoOf(f), branchOf(ref), `foreign ${f.id} ${ref} ${made++} ${Math.random()}`),
      upstreamSha: (f, ref) => ssh.refSha(repoOf(f), ref),
    };
  },
  60_000,
);
