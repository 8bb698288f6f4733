import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AgentOptions, RequestOptions } from 'node:https';
import { BranchFollowerError } from '../errors.ts';
import { ExecCredentials } from './exec-credential.ts';
import type { KubeconfigCluster, KubeconfigUser } from './kubeconfig.ts';

// How one request proves who it is and whom it trusts: the cluster's CA (or insecure-skip-tls-verify)
// and server name, the user's client certificate, bearer token, token file, exec plugin or basic
// auth, and the user it impersonates. Everything is read per try, so a rotated token file, a renewed
// certificate or an expired exec credential is picked up by the next try.

const require = createRequire(import.meta.url);
const https = () => require('node:https') as typeof import('node:https');

export interface KubeAuth {
  /** Sets one try's TLS settings (as an https.Agent) and credentials on its request options. */
  applyTo(opts: RequestOptions): Promise<void>;
  /** The same cluster, authenticated by a bearer token instead (e.g. a ServiceAccount's). */
  withToken(token: string, identity: string): KubeAuth;
}

function credentialError(user: string, what: string, file: string, err: unknown): BranchFollowerError {
  const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  return new BranchFollowerError(`cannot read the ${what} of kubeconfig user "${user}": ${file}: ${why}`, {
    reason: 'KubeRoute',
    retryable: false,
  });
}

/** A file's bytes, else the base64 data the kubeconfig holds inline; neither: undefined. */
function bytes(file: string | undefined, data: string | undefined, onError: (f: string, e: unknown) => never) {
  if (file) {
    try {
      return readFileSync(file);
    } catch (err) {
      return onError(file, err);
    }
  }
  return data ? Buffer.from(data, 'base64') : undefined;
}

interface ExecSettings {
  readonly timeoutMs: number;
  readonly env: NodeJS.ProcessEnv;
}

/** A kubeconfig's cluster and user, as kubectl would send them. */
export class KubeconfigAuth implements KubeAuth {
  readonly cluster: KubeconfigCluster;
  readonly user: KubeconfigUser;
  /** For an exec plugin: how long it may take, and the environment it runs in. */
  private readonly plugin: ExecSettings;
  private readonly exec: ExecCredentials | undefined;

  constructor(cluster: KubeconfigCluster, user: KubeconfigUser, plugin: ExecSettings) {
    this.cluster = cluster;
    this.user = user;
    this.plugin = plugin;
    this.exec = user.exec && new ExecCredentials(user.name, user.exec, cluster, plugin.timeoutMs, plugin.env);
  }

  async applyTo(opts: RequestOptions): Promise<void> {
    const { cluster, user } = this;
    const fail = (what: string) => (file: string, err: unknown) => {
      throw credentialError(user.name, what, file, err);
    };
    const tls: AgentOptions = { timeout: opts.timeout };
    if (cluster.insecureSkipTlsVerify) tls.rejectUnauthorized = false;
    if (cluster.tlsServerName) tls.servername = cluster.tlsServerName;
    const ca = bytes(cluster.caFile, cluster.caData, fail('certificate authority'));
    if (ca) tls.ca = ca;
    const execd = this.exec && (await this.exec.get());
    // An ExecCredential's certificate and key are PEM text, not base64 like the kubeconfig's own.
    const pem = (text: string | undefined) => (text === undefined ? undefined : Buffer.from(text, 'utf8'));
    const cert = bytes(user.certFile, user.certData, fail('client certificate')) ?? pem(execd?.certData);
    const key = bytes(user.keyFile, user.keyData, fail('client key')) ?? pem(execd?.keyData);
    if (cert) tls.cert = cert;
    if (key) tls.key = key;
    opts.headers ??= {};
    const headers = opts.headers as Record<string, string>;
    const token = user.tokenFile
      ? bytes(user.tokenFile, undefined, fail('token file'))!.toString('utf8').trim()
      : (user.token ?? execd?.token);
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (user.username) opts.auth = `${user.username}:${user.password ?? ''}`;
    if (user.impersonate) headers['Impersonate-User'] = user.impersonate;
    // A plain http:// server (no TLS at all) goes through Node's default agent.
    if (cluster.server.startsWith('https:')) opts.agent = new (https().Agent)(tls);
  }

  withToken(token: string, identity: string): KubeAuth {
    return new KubeconfigAuth(this.cluster, { name: identity, token, file: this.user.file }, this.plugin);
  }
}
