import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseExecCredential } from '../../core/kube/exec-credential.ts';
import { KubeconfigAuth } from '../../core/kube/kube-auth.ts';
import { readKubeconfig } from '../../core/kube/kubeconfig.ts';
import { resolveRoute } from '../../core/kube/route.ts';

const dir = mkdtempSync(join(tmpdir(), 'bf-kubeconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROUTE = {
  context: 'a',
  requestTimeoutSeconds: 5,
  retry: { budgetSeconds: 5, initialBackoffMilliseconds: 100, maxBackoffMilliseconds: 1000 },
};

function file(name: string, text: string): string {
  const p = join(dir, name);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
}

/** The TLS settings and headers one try would be sent with. */
async function tryOf(auth: { applyTo(o: RequestOptions): Promise<void> }) {
  const opts: RequestOptions = { headers: {}, timeout: 1000 };
  await auth.applyTo(opts);
  const tls = (opts.agent as unknown as { options: Record<string, unknown> } | undefined)?.options ?? {};
  return { opts, tls, headers: opts.headers as Record<string, string> };
}

describe('kubeconfig files, read as kubectl reads them', () => {
  it('merges files in order: the first to name a cluster, user or context wins it; paths are relative to their file', () => {
    const first = file(
      'one/config',
      [
        'clusters:',
        '- name: c',
        '  cluster: { server: "https://one:6443", certificate-authority: ca.crt }',
        'users:',
        '- name: u',
        '  user: { token: first }',
        'contexts:',
        '- name: a',
        '  context: { cluster: c, user: u }',
      ].join('\n'),
    );
    const second = file(
      'two/config',
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: c',
        '  cluster:',
        '    server: https://two:6443',
        '- name: d',
        '  cluster:',
        '    server: https://d:6443',
        '    insecure-skip-tls-verify: true',
        'users:',
        '- name: v',
        '  user:',
        '    client-certificate: certs/v.crt',
        '    client-key: /abs/v.key',
        'contexts:',
        '- name: a',
        '  context: { cluster: d, user: v }',
        '- name: b',
        '  context: { cluster: d, user: v }',
      ].join('\n'),
    );
    const kc = readKubeconfig([first, second]);
    expect(kc.clusters.get('c')).toMatchObject({ server: 'https://one:6443', caFile: join(dir, 'one/ca.crt') });
    expect(kc.clusters.get('d')).toMatchObject({ insecureSkipTlsVerify: true, file: second });
    expect(kc.contexts.get('a')).toMatchObject({ cluster: 'c', user: 'u' });
    expect(kc.contexts.get('b')).toMatchObject({ cluster: 'd', user: 'v' });
    expect(kc.users.get('v')).toMatchObject({ certFile: join(dir, 'two/certs/v.crt'), keyFile: '/abs/v.key' });
  });

  it('names the file and the field of what it cannot use, never a credential', () => {
    const noServer = file('bad/no-server', 'clusters:\n- name: c\n  cluster: { certificate-authority-data: QUJD }\n');
    expect(() => readKubeconfig([noServer])).toThrow(
      `cannot read kubeconfig ${noServer}: clusters[0].cluster (cluster "c") has no server`,
    );
    const numberToken = file('bad/token', 'users:\n- name: u\n  user:\n    token: 12345\n');
    expect(() => readKubeconfig([numberToken])).toThrow(/users\[0\]\.user\.token must be a string/);
    const notYaml = file('bad/yaml', 'clusters: [\n');
    expect(() => readKubeconfig([notYaml])).toThrow(`cannot read kubeconfig ${notYaml}:`);
    expect(() => readKubeconfig([join(dir, 'absent')])).toThrow(
      `cannot read kubeconfig ${join(dir, 'absent')}: ENOENT`,
    );
  });

  it('a context, its cluster and its user that kubectl would not find are errors naming the registry key', () => {
    const f = file('route/config', 'contexts:\n- name: a\n  context: { cluster: gone, user: u }\n');
    expect(() => resolveRoute({ kubeconfig: f }, ROUTE, {})).toThrow(/context "a" names cluster "gone"/);
    expect(() => resolveRoute({ kubeconfig: f }, { ...ROUTE, context: 'x' }, {})).toThrow(
      /context "x" \(controller.kubeRoute.context; override with --context\) is not in kubeconfig .* \(contexts: a\)/,
    );
  });
});

describe('what the reader leaves to @kubernetes/client-node', () => {
  it('a cluster behind a proxy-url or a user with a legacy auth-provider is read by the library', async () => {
    const f = file(
      'proxy/config',
      [
        'clusters:',
        '- name: c',
        '  cluster: { server: "https://c:6443", proxy-url: "http://proxy:3128" }',
        'users:',
        '- name: u',
        '  user: { token: via-library }',
        'contexts:',
        '- name: a',
        '  context: { cluster: c, user: u }',
      ].join('\n'),
    );
    const { auth, route } = resolveRoute({ kubeconfig: f }, ROUTE, {});
    expect(auth).not.toBeInstanceOf(KubeconfigAuth);
    expect(route).toMatchObject({ server: 'https://c:6443', user: 'u', context: 'a' });
    const opts: RequestOptions = { headers: {} };
    await auth.applyTo(opts);
    expect((opts.headers as Record<string, string>).Authorization).toBe('Bearer via-library');
    expect(opts.agent?.constructor.name).toMatch(/Proxy/);
  });
});

describe('the credentials of one try', () => {
  const cluster = { name: 'c', server: 'https://c:6443', insecureSkipTlsVerify: false, file: '(test)' };
  const plugin = { timeoutMs: 5000, env: { PATH: process.env.PATH } };

  it('sends the CA, client certificate and key, bearer token, server name and impersonation kubectl would', async () => {
    const ca = file('tls/ca.crt', 'CA-BYTES');
    const auth = new KubeconfigAuth(
      { ...cluster, caFile: ca, tlsServerName: 'api.internal' },
      {
        name: 'u',
        certData: Buffer.from('CERT').toString('base64'),
        keyData: Buffer.from('KEY').toString('base64'),
        token: 'tok',
        impersonate: 'someone',
        file: '(test)',
      },
      plugin,
    );
    const { tls, headers } = await tryOf(auth);
    expect(String(tls.ca)).toBe('CA-BYTES');
    expect([String(tls.cert), String(tls.key), tls.servername, tls.rejectUnauthorized]).toEqual([
      'CERT',
      'KEY',
      'api.internal',
      undefined,
    ]);
    expect(headers).toMatchObject({ Authorization: 'Bearer tok', 'Impersonate-User': 'someone' });
  });

  it('re-reads a token file on every try (the kubelet rotates it), skips verification only when asked', async () => {
    const token = file('sa/token', 'first\n');
    const auth = new KubeconfigAuth(
      { ...cluster, insecureSkipTlsVerify: true },
      { name: 'sa', tokenFile: token, file: '(test)' },
      plugin,
    );
    expect((await tryOf(auth)).headers.Authorization).toBe('Bearer first');
    writeFileSync(token, 'second');
    const again = await tryOf(auth);
    expect(again.headers.Authorization).toBe('Bearer second');
    expect(again.tls.rejectUnauthorized).toBe(false);
    rmSync(token);
    await expect(tryOf(auth)).rejects.toThrow(`cannot read the token file of kubeconfig user "sa": ${token}: ENOENT`);
  });

  it('sends basic auth without a token, and nothing at all for a user the kubeconfig lacks', async () => {
    const basic = await tryOf(
      new KubeconfigAuth(cluster, { name: 'b', username: 'me', password: 'pw', file: '' }, plugin),
    );
    expect(basic.opts.auth).toBe('me:pw');
    const none = await tryOf(new KubeconfigAuth(cluster, { name: 'n', file: '' }, plugin));
    expect(none.headers.Authorization).toBeUndefined();
    expect(none.tls.cert).toBeUndefined();
  });

  it('withToken keeps the cluster and trusts it the same way, with only the new bearer token', async () => {
    const auth = new KubeconfigAuth(
      { ...cluster, caData: Buffer.from('CA').toString('base64') },
      { name: 'admin', certData: 'Q0VSVA==', keyData: 'S0VZ', file: '' },
      plugin,
    ).withToken('sa-token', 'system:serviceaccount:ns:sa');
    const { tls, headers } = await tryOf(auth);
    expect([String(tls.ca), tls.cert, headers.Authorization]).toEqual(['CA', undefined, 'Bearer sa-token']);
  });
});

describe('exec credential plugins', () => {
  const cluster = { name: 'c', server: 'https://c:6443', caData: 'Q0E=', insecureSkipTlsVerify: false, file: '' };
  // A plugin that counts its runs, records what it was given and prints the credential it is told to.
  const script = file(
    'exec/plugin.sh',
    [
      '#!/bin/sh',
      'dir=$(dirname "$0")',
      'echo run >> "$dir/runs"',
      'printf "%s" "$KUBERNETES_EXEC_INFO" > "$dir/info"',
      'printf "%s %s" "$PLUGIN_MODE" "$1" > "$dir/given"',
      'if [ "$PLUGIN_MODE" = fail ]; then echo "plugin says no" >&2; exit 3; fi',
      'cat "$dir/answer"',
    ].join('\n'),
  );
  chmodSync(script, 0o755);
  const runs = () => readFileSync(join(dir, 'exec/runs'), 'utf8').split('\n').filter(Boolean).length;
  const answer = (status: object) =>
    writeFileSync(join(dir, 'exec/answer'), JSON.stringify({ kind: 'ExecCredential', status }));
  const user = (mode: string) => ({
    name: 'e',
    file: '',
    exec: {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: script,
      args: ['--flag'],
      env: [{ name: 'PLUGIN_MODE', value: mode }],
      provideClusterInfo: true,
      installHint: 'install it from your platform team',
    },
  });
  const plugin = { timeoutMs: 5000, env: { PATH: process.env.PATH } };

  it('runs the plugin once while its credential holds, again after it expires, with the kubeconfig env and cluster', async () => {
    answer({ token: 'exec-token', expirationTimestamp: new Date(Date.now() + 3_600_000).toISOString() });
    const auth = new KubeconfigAuth(cluster, user('ok'), plugin);
    expect((await tryOf(auth)).headers.Authorization).toBe('Bearer exec-token');
    expect((await tryOf(auth)).headers.Authorization).toBe('Bearer exec-token');
    expect(runs()).toBe(1);
    expect(readFileSync(join(dir, 'exec/given'), 'utf8')).toBe('ok --flag');
    expect(JSON.parse(readFileSync(join(dir, 'exec/info'), 'utf8'))).toMatchObject({
      kind: 'ExecCredential',
      spec: { interactive: false, cluster: { server: 'https://c:6443', 'certificate-authority-data': 'Q0E=' } },
    });
    answer({
      clientCertificateData: 'CERT',
      clientKeyData: 'KEY',
      expirationTimestamp: new Date(Date.now() - 1000).toISOString(),
    });
    const expiring = new KubeconfigAuth(cluster, user('ok'), plugin);
    const cert = await tryOf(expiring);
    expect([String(cert.tls.cert), String(cert.tls.key), cert.headers.Authorization]).toEqual([
      'CERT',
      'KEY',
      undefined,
    ]);
    await tryOf(expiring);
    expect(runs()).toBe(3);
  });

  it('a failing or silent plugin is an error naming its command and install hint, never its output', async () => {
    await expect(tryOf(new KubeconfigAuth(cluster, user('fail'), plugin))).rejects.toThrow(
      `the exec credential plugin "${script}" of user "e" failed (exit 3); install it from your platform team`,
    );
    answer({ token: '' });
    await expect(tryOf(new KubeconfigAuth(cluster, user('ok'), plugin))).rejects.toThrow(
      /printed an ExecCredential with neither a token nor a client certificate and key/,
    );
    const missing = { ...user('ok'), exec: { ...user('ok').exec, command: 'bf-no-such-plugin' } };
    await expect(tryOf(new KubeconfigAuth(cluster, missing, plugin))).rejects.toThrow(/is not installed/);
    expect(parseExecCredential('secret-looking-output')).toBe('printed no ExecCredential JSON');
  });
});
