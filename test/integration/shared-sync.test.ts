import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRegistry } from '../../core/config/load.ts';
import { mirrorPort, type ProcessMirrorPort } from '../../runner/process-ports.ts';
import { mountedSecretLiterals } from '../../runner/secret-literals.ts';
import { countingPath } from '../../scripts/bench/counting-path.ts';
import { startGitServer, type GitServer } from '../../scripts/world/git-server.ts';
import { startSshUpstream, type SshUpstream } from '../../scripts/world/ssh-upstream.ts';
import { disposeWorlds, makePassWorld, REPOS } from '../helpers/pass-world.ts';
import { REGISTRY } from '../helpers/registry-fixture.ts';

// The shards of one run-once share one mirror port: a look that says `notBefore` takes a sync of its
// mirror that started at or after it (another shard's, in flight or done) instead of starting its own,
// and never one that started before it. Real git over real SSH; git processes counted on PATH.
let git: GitServer;
let ssh: SshUpstream;
const dirs: string[] = [];
const ports: ProcessMirrorPort[] = [];
beforeAll(async () => {
  [git, ssh] = await Promise.all([startGitServer(), startSshUpstream()]);
});
afterAll(async () => {
  for (const p of ports) p.close();
  disposeWorlds();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await Promise.all([git.dispose(), ssh.dispose()]);
});

describe('syncs shared between the shards of one process', () => {
  it('two side-by-side looks with the same notBefore sync each mirror once; a later notBefore syncs anew', async () => {
    const w = await makePassWorld({ git, ssh }, 'shared-sync');
    const loaded = loadRegistry(REGISTRY, w.root);
    const f = loaded.registry.followers.find((x) => x.id === 'hwlab-jd01-v03')!;
    const dir = mkdtempSync(join(tmpdir(), 'bf-shared-sync-'));
    dirs.push(dir);
    const counted = countingPath(dir, { git: '/usr/bin/git' });
    const port = mirrorPort(loaded, { ...w.env, PATH: `${counted.dir}:${w.env.PATH}` }, mountedSecretLiterals(loaded));
    ports.push(port);
    const look = (notBefore?: number) => port.syncThenObserve([f.source.mirror], [f], undefined, notBefore);
    const tip = async (p: ReturnType<typeof look>) => {
      const v = (await p).views.get(f.id);
      if (!v || 'error' in v) throw new Error(`look failed: ${JSON.stringify(v)}`);
      return v.tip;
    };

    const first = await ssh.commit(w.repoOf('hwlab-jd01-v03'), REPOS['hwlab-jd01-v03'].branch, 'shared 1');
    expect(await tip(look())).toBe(first);
    counted.reset();
    expect(await tip(look())).toBe(first);
    const alone = counted.counts().git!;
    expect(alone).toBeGreaterThan(0);

    // Two shards' first looks, side by side: one sync of the mirror, both answers from it.
    counted.reset();
    const passStart = Date.now();
    const [a, b] = await Promise.all([tip(look(passStart)), tip(look(passStart))]);
    expect([a, b]).toEqual([first, first]);
    const shared = counted.counts().git!;
    // The second look syncs nothing of its own; it still reads the mirror as served for its view.
    expect(shared).toBeLessThan(2 * alone);

    // A look whose notBefore is after that sync never takes it: it sees the upstream as it is now.
    const second = await ssh.commit(w.repoOf('hwlab-jd01-v03'), REPOS['hwlab-jd01-v03'].branch, 'shared 2');
    expect(await tip(look(Date.now()))).toBe(second);
    // Without notBefore nothing is shared either.
    counted.reset();
    await Promise.all([look(), look()]);
    expect(counted.counts().git!).toBeGreaterThanOrEqual(2 * alone);
  }, 120_000);
});
