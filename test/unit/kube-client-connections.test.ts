import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../core/kube/client.ts';
import { KubeconfigAuth } from '../../core/kube/kube-auth.ts';
import { resourceType } from '../../core/kube/resources.ts';
import { generateCerts } from '../../scripts/envtest/certs.ts';

// The client's TLS connections against a real HTTPS server on loopback that asks for a client
// certificate, as the API server does: requests one after another share one connection.

const CM = resourceType('v1', 'ConfigMap');

let dir: string;
let server: Server;
let url: string;
let handshakes = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bf-kube-tls-'));
  const certs = generateCerts(dir);
  server = createServer(
    {
      cert: readFileSync(certs.servingCert),
      key: readFileSync(certs.servingKey),
      ca: readFileSync(certs.caCert),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: req.url?.split('/').at(-1) } }));
    },
  );
  server.on('secureConnection', () => handshakes++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function client(): KubeClient {
  const b64 = (f: string) => readFileSync(join(dir, f)).toString('base64');
  const auth = new KubeconfigAuth(
    { name: 'c', server: url, caData: b64('ca.crt'), insecureSkipTlsVerify: false, file: '(test)' },
    { name: 'u', certData: b64('admin.crt'), keyData: b64('admin.key'), file: '(test)' },
    { timeoutMs: 5000, env: {} },
  );
  return new KubeClient(
    auth,
    {
      kubeconfig: '(test)',
      context: 'x',
      contextSource: 'flag',
      server: url,
      user: 'u',
      requestTimeoutMs: 5000,
      retry: { budgetMs: 5000, initialBackoffMs: 50, maxBackoffMs: 400 },
    },
    { progress: () => undefined },
  );
}

describe('kube client connections', () => {
  it('reuses one TLS connection for requests made one after another', async () => {
    const c = client();
    const before = handshakes;
    for (let i = 0; i < 5; i++) expect((await c.get(CM, 'ns', `cm-${i}`))?.metadata.name).toBe(`cm-${i}`);
    expect(handshakes - before).toBe(1);
  });
});
