import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceType } from '../../core/kube/resources.ts';
import { adminClient } from '../helpers/cluster.ts';
import { startGitServer, type GitServer } from '../../scripts/world/git-server.ts';
import { startSshUpstream, type SshUpstream } from '../../scripts/world/ssh-upstream.ts';
import { disposeWorlds, makePassWorld, type WorldServers } from '../helpers/pass-world.ts';

let git: GitServer;
let ssh: SshUpstream;
let servers: WorldServers;
beforeAll(async () => {
  [git, ssh] = await Promise.all([startGitServer(), startSshUpstream()]);
  servers = { git, ssh };
});
afterAll(async () => {
  disposeWorlds();
  await Promise.all([git.dispose(), ssh.dispose()]);
});

const PLANTED_TOKEN = 'PLANTEDtoken0123456789';
const PLANTED_KEY = 'PLANTEDkeymaterial0123456789';
const PLANTED_SSH = 'PLANTED-github-ssh-secret-value';
const LEAK = `token=${PLANTED_TOKEN} -----BEGIN OPENSSH PRIVATE KEY-----\n${PLANTED_KEY}\n-----END OPENSSH PRIVATE KEY-----`;

describe('what the pass must never depend on or show', () => {
  it(
    'a dirty, stale and broken dev directory in the working directory changes no observed sha, trigger ' +
      'or closeout',
    async () => {
      const w = await makePassWorld(servers, 'devdir');
      const sha = await w.push('hwlab-jd01-v03', { snapshot: true });
      // The registry's own directory becomes a stale, dirty checkout of "HWLAB" at another commit.
      const g = (...args: string[]) =>
        execFileSync('git', args, {
          cwd: w.root,
          env: { PATH: process.env.PATH!, HOME: w.root, GIT_CONFIG_NOSYSTEM: '1' },
          stdio: 'pipe',
        });
      g('init', '-q', '-b', 'v0.3');
      g('-c', 'user.email=x@y', '-c', 'user.name=x', 'commit', '-q', '--allow-empty', '-m', 'stale local work');
      writeFileSync(join(w.root, 'uncommitted.txt'), 'dirty');
      g('remote', 'add', 'origin', 'git://127.0.0.1:1/nowhere.git');
      mkdirSync(join(w.root, 'broken'), { recursive: true });
      writeFileSync(join(w.root, 'broken', '.git'), 'gitdir: /nonexistent/worktree\n');
      const env = {
        ...w.env,
        GIT_DIR: join(w.root, 'broken', '.git'),
        GIT_WORK_TREE: w.root,
        GIT_CONFIG_GLOBAL: join(w.root, 'uncommitted.txt'),
      };
      const { cli } = await import('../helpers/cli.ts');
      const { kubeconfig } = await import('../helpers/cluster.ts');
      const r = await cli(
        ['run-once', '--follower', 'hwlab-jd01-v03', '--confirm', '--wait', '--kubeconfig', kubeconfig()],
        { cwd: w.root, env },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(w.triggersOf('hwlab-jd01-v03').map((t) => t.sha)).toEqual([sha]);
      const cm = await adminClient().get(resourceType('v1', 'ConfigMap'), w.ns, 'branch-follower-state-0');
      const rec = JSON.parse((cm!.data as Record<string, string>)['hwlab-jd01-v03']!);
      expect(rec).toMatchObject({ observedSha: sha, lastTriggeredSha: sha, lastSucceededSha: sha, phase: 'Succeeded' });
    },
  );

  it('planted secrets in adapter output and in the githubSsh Secret appear in no output, Event, log or state', async () => {
    const w = await makePassWorld(servers, 'secrets');
    await adminClient().post(
      `/api/v1/namespaces/${w.ns}/secrets`,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'git-mirror-github-ssh' },
        stringData: { id_ed25519: PLANTED_SSH, known_hosts: PLANTED_SSH },
      },
      'create',
      'Secret',
    );
    w.configure({
      lanes: { 'agentrun:jd01-v02': { leak: LEAK, runSeconds: 1 }, 'hwlab:v03': { leak: LEAK, statusExit: 3 } },
    });
    await w.push('agentrun-jd01-v02', { snapshot: true });
    await w.push('hwlab-jd01-v03', { snapshot: true });
    const outputs: string[] = [];
    for (const args of [
      ['run-once', '--all', '--dry-run'],
      ['run-once', '--all', '--confirm', '--wait'],
      ['status'],
      ['status', '-o', 'json'],
      ['events', '--follower', 'agentrun-jd01-v02', '-o', 'yaml'],
      ['events', '--follower', 'hwlab-jd01-v03'],
      ['logs', '--follower', 'agentrun-jd01-v02'],
      ['logs', '--follower', 'hwlab-jd01-v03', '-o', 'json'],
    ]) {
      const r = await w.run(args);
      outputs.push(r.stdout, r.stderr);
    }
    const c = adminClient();
    const state = JSON.stringify(await c.get(resourceType('v1', 'ConfigMap'), w.ns, 'branch-follower-state-0'));
    const events = JSON.stringify(
      await c.list(resourceType('events.k8s.io/v1', 'Event'), w.ns, 'app.kubernetes.io/managed-by=branch-follower'),
    );
    const everything = [...outputs, state, events].join('\n');
    expect(everything).toContain('[REDACTED]'); // the leak did reach the pass, and was redacted
    expect(outputs.join('\n')).toMatch(/key id_ed25519 present sha256:[0-9a-f]{16}/);
    for (const planted of [PLANTED_TOKEN, PLANTED_KEY, PLANTED_SSH, Buffer.from(PLANTED_SSH).toString('base64')]) {
      expect(everything).not.toContain(planted);
    }
  });
});
