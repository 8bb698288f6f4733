import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
  /** How kube-apiserver was started, so that restartApiserver starts it again exactly so. */
  readonly apiserverLaunch: Launch;
}

/** One server process as launched: its binary, its arguments, and whether a guard stops it with us. */
interface Launch {
  readonly binary: string;
  readonly args: readonly string[];
  readonly guardParent: boolean;
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

function launch(dir: string, name: string, { binary, args, guardParent }: Launch): ChildProcess {
  const log = openSync(join(dir, `${name}.log`), 'a');
  const child = guardParent
    ? spawn('bash', [GUARD, String(process.pid), '--', binary, ...args], {
        stdio: ['ignore', log, log],
        detached: true,
      })
    : spawn(binary, [...args], { stdio: ['ignore', log, log], detached: true });
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
  // freePort gives a port that was free when asked: another process (a test file running beside this
  // one) can bind it before etcd or kube-apiserver does. Such a start is made again on fresh ports,
  // from an empty etcd data directory; any other failure is the test's.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, certs);
    } catch (err) {
      if (attempt >= PORT_ATTEMPTS || !(err as Error).message.includes('address already in use')) throw err;
      rmSync(join(opts.dir, 'etcd-data'), { recursive: true, force: true });
    }
  }
}

/** Starts taken over when a port was taken between freePort and the bind. */
const PORT_ATTEMPTS = 3;

async function startOnce(opts: StartOptions, certs: CertFiles): Promise<ControlPlaneInfo> {
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const guardParent = opts.guardParent;
  const etcd = launch(opts.dir, 'etcd', {
    binary: join(opts.assets, 'etcd'),
    guardParent,
    args: [
      '--name=envtest',
      `--data-dir=${join(opts.dir, 'etcd-data')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=envtest=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
  });
  writeFileSync(join(opts.dir, 'audit-policy.yaml'), AUDIT_POLICY);
  const server = `https://127.0.0.1:${apiPort}`;
  const auditLog = join(opts.dir, 'audit.log');
  const apiserverLaunch: Launch = {
    binary: join(opts.assets, 'kube-apiserver'),
    guardParent,
    args: [
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
      // Events are watched straight from etcd, as on a server with its watch cache off: a watch from a
      // version etcd has compacted away then ends in 410 Gone, which the tests of a watch's re-list need.
      '--watch-cache-sizes=events#0,events.events.k8s.io#0',
      `--audit-policy-file=${join(opts.dir, 'audit-policy.yaml')}`,
      `--audit-log-path=${auditLog}`,
      '--audit-log-mode=blocking',
      '--v=1',
    ],
  };
  const apiserver = launch(opts.dir, 'kube-apiserver', apiserverLaunch);
  const info: ControlPlaneInfo = {
    dir: opts.dir,
    server,
    kubeconfig: join(opts.dir, 'kubeconfig'),
    auditLog,
    pids: { etcd: etcd.pid ?? 0, apiserver: apiserver.pid ?? 0 },
    apiserverLaunch,
  };
  writeFileSync(info.kubeconfig, kubeconfig(server, certs, opts.contextAliases), { mode: 0o600 });
  writeFileSync(join(opts.dir, 'control-plane.json'), `${JSON.stringify(info, null, 2)}\n`);

  await untilReady(info, { apiserver, etcd }, opts.readyTimeoutMs);
  return info;
}

/** Waits for /readyz; stops both servers and says why (with their logs' tails) when it does not come. */
async function untilReady(
  info: ControlPlaneInfo,
  procs: { apiserver: ChildProcess; etcd: ChildProcess | undefined },
  readyTimeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    const { status } = await adminGet(info, '/readyz');
    if (status === 200) return;
    const etcdGone = procs.etcd ? procs.etcd.exitCode !== null : !alive(info.pids.etcd);
    if (Date.now() > deadline || procs.apiserver.exitCode !== null || etcdGone) {
      await stopControlPlane(info);
      const tail = (f: string) => readFileSync(join(info.dir, f), 'utf8').split('\n').slice(-15).join('\n');
      const why =
        procs.apiserver.exitCode !== null
          ? `kube-apiserver exited (${procs.apiserver.exitCode})`
          : etcdGone
            ? `etcd exited (${procs.etcd?.exitCode ?? 'not running'})`
            : `kube-apiserver not ready after ${readyTimeoutMs} ms (last /readyz: ${status})`;
      throw new Error(
        `${why}\n--- kube-apiserver.log\n${tail('kube-apiserver.log')}\n--- etcd.log\n${tail('etcd.log')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Whether any process of the group `pgid` is still there. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Crashes kube-apiserver and brings it back, as a restart of the API server does to its clients:
 * SIGKILLs only its process group (etcd keeps running, with every object), waits `downMs` from the
 * kill, starts it again with the same arguments (same port, certificates, etcd and audit log) and
 * waits until it is ready. Returns the info with the new pid, which stopControlPlane then needs;
 * `outageMs` is how long the server was away, kill to ready.
 */
export async function restartApiserver(
  info: ControlPlaneInfo,
  downMs: number,
  readyTimeoutMs = 60_000,
): Promise<{ info: ControlPlaneInfo; outageMs: number }> {
  const killedAt = Date.now();
  const pgid = info.pids.apiserver;
  if (pgid > 0 && groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
  while (pgid > 0 && groupAlive(pgid)) {
    if (Date.now() - killedAt > 10_000) throw new Error(`kube-apiserver (process group ${pgid}) outlived SIGKILL`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, Math.max(0, killedAt + downMs - Date.now())));
  const apiserver = launch(info.dir, 'kube-apiserver', info.apiserverLaunch);
  const next: ControlPlaneInfo = { ...info, pids: { ...info.pids, apiserver: apiserver.pid ?? 0 } };
  writeFileSync(join(info.dir, 'control-plane.json'), `${JSON.stringify(next, null, 2)}\n`);
  await untilReady(next, { apiserver, etcd: undefined }, readyTimeoutMs);
  return { info: next, outageMs: Date.now() - killedAt };
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
