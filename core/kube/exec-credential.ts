import { createRequire } from 'node:module';
import { BranchFollowerError } from '../errors.ts';
import type { ExecConfig, KubeconfigCluster } from './kubeconfig.ts';

// A kubeconfig user's exec credential plugin (client.authentication.k8s.io), run as kubectl runs it:
// without a terminal (spec.interactive false), the kubeconfig's env on top of ours, the cluster in
// KUBERNETES_EXEC_INFO when provideClusterInfo asks for it, the plugin's own stderr passed through.
// Its credential is kept until its expirationTimestamp (for the whole run when it has none). Its
// output is never printed: it holds the credential.

const require = createRequire(import.meta.url);
const childProcess = () => require('node:child_process') as typeof import('node:child_process');

export interface ExecCredential {
  readonly token?: string | undefined;
  /** PEM text (clientCertificateData, clientKeyData). */
  readonly certData?: string | undefined;
  readonly keyData?: string | undefined;
  /** Epoch ms after which the plugin is asked again; undefined: never. */
  readonly expiresAt?: number | undefined;
}

function execError(user: string, exec: ExecConfig, why: string): BranchFollowerError {
  const hint = exec.installHint ? `; ${exec.installHint.trim()}` : '';
  return new BranchFollowerError(`the exec credential plugin "${exec.command}" of user "${user}" ${why}${hint}`, {
    reason: 'KubeRoute',
    retryable: false,
  });
}

/** What the plugin's stdout says, or why it says nothing usable (never quoting it). */
export function parseExecCredential(stdout: string): ExecCredential | string {
  let out: unknown;
  try {
    out = JSON.parse(stdout);
  } catch {
    return 'printed no ExecCredential JSON';
  }
  const status = (out as { status?: Record<string, unknown> } | null)?.status;
  if (typeof status !== 'object' || status === null) return 'printed an ExecCredential without a status';
  const text = (k: string) => (typeof status[k] === 'string' && status[k] !== '' ? (status[k] as string) : undefined);
  const token = text('token');
  const certData = text('clientCertificateData');
  const keyData = text('clientKeyData');
  if (!token && !(certData && keyData))
    return 'printed an ExecCredential with neither a token nor a client certificate and key';
  const expiry = text('expirationTimestamp');
  const expiresAt = expiry === undefined ? undefined : Date.parse(expiry);
  if (expiresAt !== undefined && Number.isNaN(expiresAt)) return 'printed an expirationTimestamp that is not a time';
  return { token, certData, keyData, expiresAt };
}

/** The plugin of one user, run again only once its credential has expired. */
export class ExecCredentials {
  private cached: ExecCredential | undefined;
  private running: Promise<ExecCredential> | undefined;

  private readonly user: string;
  private readonly exec: ExecConfig;
  private readonly cluster: KubeconfigCluster;
  /** The plugin is killed when it has not answered within this (the route's retry budget). */
  private readonly timeoutMs: number;
  private readonly env: NodeJS.ProcessEnv;

  constructor(user: string, exec: ExecConfig, cluster: KubeconfigCluster, timeoutMs: number, env: NodeJS.ProcessEnv) {
    this.user = user;
    this.exec = exec;
    this.cluster = cluster;
    this.timeoutMs = timeoutMs;
    this.env = env;
  }

  async get(now = Date.now()): Promise<ExecCredential> {
    const c = this.cached;
    if (c && (c.expiresAt === undefined || c.expiresAt > now)) return c;
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    this.cached = await this.running;
    return this.cached;
  }

  private info(): string {
    const spec: Record<string, unknown> = { interactive: false };
    if (this.exec.provideClusterInfo)
      spec.cluster = {
        server: this.cluster.server,
        'certificate-authority-data': this.cluster.caData,
        'insecure-skip-tls-verify': this.cluster.insecureSkipTlsVerify,
        'tls-server-name': this.cluster.tlsServerName,
      };
    return JSON.stringify({ apiVersion: this.exec.apiVersion, kind: 'ExecCredential', spec });
  }

  private run(): Promise<ExecCredential> {
    const env: NodeJS.ProcessEnv = { ...this.env, KUBERNETES_EXEC_INFO: this.info() };
    for (const { name, value } of this.exec.env) env[name] = value;
    return new Promise((resolvePromise, reject) => {
      const child = childProcess().spawn(this.exec.command, [...this.exec.args], {
        env,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, this.timeoutMs);
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
      });
      const fail = (why: string) => {
        clearTimeout(timer);
        reject(execError(this.user, this.exec, why));
      };
      child.on('error', (err: NodeJS.ErrnoException) =>
        fail(err.code === 'ENOENT' ? 'is not installed (not found on PATH)' : `could not start: ${err.message}`),
      );
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (timedOut)
          return fail(`did not answer within ${this.timeoutMs / 1000}s (controller.kubeRoute.retry.budgetSeconds)`);
        if (code !== 0) return fail(`failed (${code === null ? `signal ${signal}` : `exit ${code}`})`);
        const got = parseExecCredential(stdout);
        if (typeof got === 'string') fail(got);
        else resolvePromise(got);
      });
    });
  }
}
