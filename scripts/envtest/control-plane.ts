import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { generateCerts, type CertFiles } from './certs.ts';

/** Where a running control plane is, for tests, the demo and people. */
export interface ControlPlaneInfo {
  readonly dir: string;
  readonly server: string;
  readonly kubeconfig: string;
  readonly auditLog: string;
  readonly pids: { readonly etcd: number; readonly apiserver: number };
}

/** How to start one. */
export interface StartOptions {
  /** Directory holding kube-apiserver, etcd and kubectl. */
  readonly assets: string;
  /** Empty directory for data, certificates, logs and the kubeconfig. */
  readonly dir: string;
  /** Extra context names in the kubeconfig (e.g. the registry's kube route), all for the admin. */
  readonly contextAliases: readonly string[];
  /** Stop the servers when this process dies (tests); false leaves them running (`envtest up`). */
  readonly guardParent: boolean;
  /** How long to wait for /readyz. */
  readonly readyTimeoutMs: number;
}

const GUARD = join(import.meta.dirname, 'guard.sh');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function launch(opts: StartOptions, name: string, binary: string, args: string[]): ChildProcess {
  const log = openSync(join(opts.dir, `${name}.log`), 'a');
  const child = opts.guardParent
    ? spawn('bash', [GUARD, String(process.pid), '--', binary, ...args], {
        stdio: ['ignore', log, log],
        detached: true,
      })
    : spawn(binary, args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  child.unref();
  return child;
}

/** GET a path with the admin certificate; resolves the status code, or 0 when the server is not there. */
export function adminGet(
  info: { server: string; dir: string },
  path: string,
): Promise<{ status: number; body: string }> {
  const certs = (f: string) => readFileSync(join(info.dir, f));
  return new Promise((resolve) => {
    const req = request(
      `${info.server}${path}`,
      { ca: certs('ca.crt'), cert: certs('admin.crt'), key: certs('admin.key'), timeout: 2000 },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function kubeconfig(server: string, certs: CertFiles, aliases: readonly string[]): string {
  const b64 = (f: string) => readFileSync(f).toString('base64');
  const contexts = ['envtest', ...aliases.filter((a) => a !== 'envtest')];
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: envtest',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(certs.caCert)}`,
    'users:',
    '- name: envtest-admin',
    '  user:',
    `    client-certificate-data: ${b64(certs.adminCert)}`,
    `    client-key-data: ${b64(certs.adminKey)}`,
    'contexts:',
    ...contexts.flatMap((c) => [`- name: ${c}`, '  context:', '    cluster: envtest', '    user: envtest-admin']),
    'current-context: envtest',
    '',
  ].join('\n');
}

const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`;

// Starts etcd and a real kube-apiserver on loopback (the envtest approach): RBAC authorization,
// ServiceAccount token signing, an audit log of every request, an admin client certificate.
export async function startControlPlane(opts: StartOptions): Promise<ControlPlaneInfo> {
  mkdirSync(opts.dir, { recursive: true });
  const certs = generateCerts(opts.dir);
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcd = launch(opts, 'etcd', join(opts.assets, 'etcd'), [
    '--name=envtest',
    `--data-dir=${join(opts.dir, 'etcd-data')}`,
    `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
    `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=envtest=http://127.0.0.1:${peerPort}`,
    '--unsafe-no-fsync=true',
    '--log-level=warn',
  ]);
  writeFileSync(join(opts.dir, 'audit-policy.yaml'), AUDIT_POLICY);
  const server = `https://127.0.0.1:${apiPort}`;
  const auditLog = join(opts.dir, 'audit.log');
  const apiserver = launch(opts, 'kube-apiserver', join(opts.assets, 'kube-apiserver'), [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiPort}`,
    `--cert-dir=${opts.dir}`,
    `--tls-cert-file=${certs.servingCert}`,
    `--tls-private-key-file=${certs.servingKey}`,
    `--client-ca-file=${certs.caCert}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=${server}`,
    `--service-account-key-file=${certs.serviceAccountPub}`,
    `--service-account-signing-key-file=${certs.serviceAccountKey}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    // No Service endpoints to reconcile for a loopback server (envtest does the same).
    '--endpoint-reconciler-type=none',
    `--audit-policy-file=${join(opts.dir, 'audit-policy.yaml')}`,
    `--audit-log-path=${auditLog}`,
    '--audit-log-mode=blocking',
    '--v=1',
  ]);
  const info: ControlPlaneInfo = {
    dir: opts.dir,
    server,
    kubeconfig: join(opts.dir, 'kubeconfig'),
    auditLog,
    pids: { etcd: etcd.pid ?? 0, apiserver: apiserver.pid ?? 0 },
  };
  writeFileSync(info.kubeconfig, kubeconfig(server, certs, opts.contextAliases), { mode: 0o600 });
  writeFileSync(join(opts.dir, 'control-plane.json'), `${JSON.stringify(info, null, 2)}\n`);

  const deadline = Date.now() + opts.readyTimeoutMs;
  for (;;) {
    const { status } = await adminGet(info, '/readyz');
    if (status === 200) return info;
    if (Date.now() > deadline || apiserver.exitCode !== null || etcd.exitCode !== null) {
      await stopControlPlane(info);
      const tail = (f: string) => readFileSync(join(opts.dir, f), 'utf8').split('\n').slice(-15).join('\n');
      const why =
        apiserver.exitCode !== null
          ? `kube-apiserver exited (${apiserver.exitCode})`
          : etcd.exitCode !== null
            ? `etcd exited (${etcd.exitCode})`
            : `kube-apiserver not ready after ${opts.readyTimeoutMs} ms (last /readyz: ${status})`;
      throw new Error(
        `${why}\n--- kube-apiserver.log\n${tail('kube-apiserver.log')}\n--- etcd.log\n${tail('etcd.log')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops both servers (their whole process groups), waiting until they are gone. */
export async function stopControlPlane(info: Pick<ControlPlaneInfo, 'pids'>): Promise<void> {
  for (const pid of [info.pids.apiserver, info.pids.etcd]) {
    if (pid > 0 && alive(pid)) {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }
  const deadline = Date.now() + 10_000;
  while ([info.pids.apiserver, info.pids.etcd].some((p) => p > 0 && alive(p)) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const pid of [info.pids.apiserver, info.pids.etcd]) {
    if (pid > 0 && alive(pid)) process.kill(-pid, 'SIGKILL');
  }
}

export { alive };
