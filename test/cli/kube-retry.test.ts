import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.ts';
import { makeFixture, removeFixtures } from '../helpers/registry-fixture.ts';
import { freePort } from '../../scripts/envtest/control-plane.ts';

// The CLI's clients tell every retry on stderr, and an API server that never comes back within
// controller.kubeRoute.retry.budgetSeconds ends the verb with an error naming that setting.

const dirs: string[] = [];
afterAll(() => {
  removeFixtures();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A kubeconfig whose context of the registry's kube route points at a port nothing listens on. */
async function deadKubeconfig(port?: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bf-dead-'));
  dirs.push(dir);
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: gone\n  cluster: { server: "https://127.0.0.1:${port ?? (await freePort())}", insecure-skip-tls-verify: true }`,
      'users:',
      '- name: someone\n  user: { token: "tok-never-printed-5be1" }',
      'contexts:',
      '- name: unidesk-jd01\n  context: { cluster: gone, user: someone }',
      'current-context: unidesk-jd01',
      '',
    ].join('\n'),
  );
  return file;
}

describe('a verb whose API server is not there', () => {
  it('says each retry on stderr, then gives up naming controller.kubeRoute.retry.budgetSeconds (exit 5)', async () => {
    const { root } = makeFixture([
      { from: 'requestTimeoutSeconds: 15', to: 'requestTimeoutSeconds: 1' },
      { from: 'budgetSeconds: 30\n', to: 'budgetSeconds: 2\n' },
      { from: 'maxBackoffMilliseconds: 5000', to: 'maxBackoffMilliseconds: 500' },
    ]);
    const r = await cli(['status', '--kubeconfig', await deadKubeconfig()], { cwd: root });
    expect(r.code).toBe(5);
    const retries = r.stderr.split('\n').filter((l) => l.startsWith('kube: '));
    expect(retries.length).toBeGreaterThanOrEqual(2);
    expect(retries[0]).toMatch(
      /^kube: get \S+ unidesk-cicd\/\S+: cannot reach the API server \(connection refused\); retry 1 in \d\.\ds \(\d\.\ds of 2s budget\)$/,
    );
    const error = r.stderr.split('\n').find((l) => l.startsWith('error: ')) ?? '';
    expect(error).toMatch(
      /^error: cannot reach the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ \(context "unidesk-jd01", /,
    );
    expect(error).toMatch(/: connect ECONNREFUSED \S+; \d+ tries over \d\.\ds did not get through /);
    expect(error).toContain('(controller.kubeRoute.retry.budgetSeconds: 2)');
    expect(`${r.stdout}${r.stderr}`).not.toContain('tok-never-printed-5be1');
  });

  it('--request-timeout bounds one try instead of controller.kubeRoute.requestTimeoutSeconds', async () => {
    // A server that takes the connection and never answers.
    const held: Socket[] = [];
    const silent = createServer((socket) => held.push(socket));
    await new Promise<void>((listening) => silent.listen(0, '127.0.0.1', listening));
    try {
      const { root } = makeFixture([
        { from: 'requestTimeoutSeconds: 15', to: 'requestTimeoutSeconds: 1' },
        { from: 'budgetSeconds: 30\n', to: 'budgetSeconds: 2\n' },
        { from: 'maxBackoffMilliseconds: 5000', to: 'maxBackoffMilliseconds: 500' },
      ]);
      const port = (silent.address() as { port: number }).port;
      const kubeconfig = await deadKubeconfig(port);
      const r = await cli(['status', '--request-timeout', '300ms', '--kubeconfig', kubeconfig], { cwd: root });
      expect(r.code).toBe(5);
      const retries = r.stderr.split('\n').filter((l) => l.startsWith('kube: '));
      expect(retries[0]).toMatch(/cannot reach the API server \(no answer within 0\.3s\); retry 1 in /);
      const bad = await cli(['status', '--request-timeout', 'soon', '--kubeconfig', kubeconfig], { cwd: root });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--request-timeout "soon": a duration above zero');
    } finally {
      for (const s of held) s.destroy();
      await new Promise((closed) => silent.close(closed));
    }
  });
});
