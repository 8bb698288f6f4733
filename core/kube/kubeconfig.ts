import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { NOT_PLAIN, parsePlainYaml } from '../config/plain-yaml.ts';
import { BranchFollowerError } from '../errors.ts';

// The kubeconfig files kubectl reads, read the way kubectl reads them: a list of files merged in
// order, the first file that names a cluster, user or context wins it, and every relative path a
// file holds is relative to that file's directory. Only what a request needs is kept: where the
// server is and how to trust it, and how the user proves who it is.

const require = createRequire(import.meta.url);
const yaml = () => require('yaml') as typeof import('yaml');

export interface KubeconfigCluster {
  readonly name: string;
  readonly server: string;
  readonly caFile?: string | undefined;
  /** Base64, as the file holds it. */
  readonly caData?: string | undefined;
  readonly insecureSkipTlsVerify: boolean;
  readonly tlsServerName?: string | undefined;
  readonly proxyUrl?: string | undefined;
  /** The file that declared it. */
  readonly file: string;
}

export interface ExecConfig {
  readonly apiVersion: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: readonly { readonly name: string; readonly value: string }[];
  readonly provideClusterInfo: boolean;
  readonly installHint?: string | undefined;
}

export interface KubeconfigUser {
  readonly name: string;
  readonly certFile?: string | undefined;
  readonly certData?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly keyData?: string | undefined;
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** `as`: the user to impersonate. */
  readonly impersonate?: string | undefined;
  readonly exec?: ExecConfig | undefined;
  /** The name of a legacy auth-provider (oidc, gcp, azure, ...), read by @kubernetes/client-node. */
  readonly authProvider?: string | undefined;
  readonly file: string;
}

interface KubeconfigContext {
  readonly name: string;
  readonly cluster: string;
  readonly user: string;
  readonly file: string;
}

export interface Kubeconfig {
  readonly files: readonly string[];
  readonly clusters: ReadonlyMap<string, KubeconfigCluster>;
  readonly users: ReadonlyMap<string, KubeconfigUser>;
  readonly contexts: ReadonlyMap<string, KubeconfigContext>;
}

function unreadable(file: string, why: string): BranchFollowerError {
  return new BranchFollowerError(`cannot read kubeconfig ${file}: ${why}`, { reason: 'KubeRoute', retryable: false });
}

type Raw = Record<string, unknown>;
const isMap = (v: unknown): v is Raw => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A field that must be a string when present; `where` is its path in the file. */
function str(file: string, m: Raw, key: string, where: string): string | undefined {
  const v = m[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw unreadable(file, `${where}.${key} must be a string, not ${JSON.stringify(v)}`);
  return v;
}

function entries(file: string, doc: Raw, list: string, body: string): { name: string; at: string; body: Raw }[] {
  const v = doc[list];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw unreadable(file, `${list} must be a list`);
  return v.map((e, i) => {
    const at = `${list}[${i}]`;
    if (!isMap(e)) throw unreadable(file, `${at} must be a mapping`);
    const name = str(file, e, 'name', at);
    if (!name) throw unreadable(file, `${at} has no name`);
    const b = e[body] ?? {};
    if (!isMap(b)) throw unreadable(file, `${at}.${body} must be a mapping`);
    return { name, at: `${at}.${body}`, body: b };
  });
}

function parse(file: string, text: string): Raw {
  let doc = parsePlainYaml(text);
  if (doc === NOT_PLAIN) {
    try {
      doc = yaml().parse(text);
    } catch (err) {
      throw unreadable(file, (err as Error).message.split('\n')[0]!);
    }
  }
  if (doc === null || doc === undefined) return {};
  if (!isMap(doc)) throw unreadable(file, 'it is not a mapping');
  return doc;
}

function execConfig(file: string, m: unknown, at: string): ExecConfig | undefined {
  if (m === undefined || m === null) return undefined;
  if (!isMap(m)) throw unreadable(file, `${at} must be a mapping`);
  const command = str(file, m, 'command', at);
  if (!command) throw unreadable(file, `${at} has no command`);
  const args = m.args ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string'))
    throw unreadable(file, `${at}.args must be a list of strings`);
  const env = m.env ?? [];
  if (!Array.isArray(env)) throw unreadable(file, `${at}.env must be a list`);
  const pairs = env.map((e, i) => {
    const name = isMap(e) ? str(file, e, 'name', `${at}.env[${i}]`) : undefined;
    const value = isMap(e) ? str(file, e, 'value', `${at}.env[${i}]`) : undefined;
    if (name === undefined || value === undefined) throw unreadable(file, `${at}.env[${i}] needs a name and a value`);
    return { name, value };
  });
  // A command with a directory in it is relative to the kubeconfig, a bare name is looked up on PATH.
  const located = command.includes('/') && !isAbsolute(command) ? resolve(dirname(file), command) : command;
  return {
    apiVersion: str(file, m, 'apiVersion', at) ?? 'client.authentication.k8s.io/v1',
    command: located,
    args: args as string[],
    env: pairs,
    provideClusterInfo: m.provideClusterInfo === true,
    installHint: str(file, m, 'installHint', at),
  };
}

/** Reads and merges kubeconfig files in order (kubectl's rule: the first file to name an entry wins). */
export function readKubeconfig(files: readonly string[]): Kubeconfig {
  const clusters = new Map<string, KubeconfigCluster>();
  const users = new Map<string, KubeconfigUser>();
  const contexts = new Map<string, KubeconfigContext>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw unreadable(file, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
    }
    const doc = parse(file, text);
    const path = (p: string | undefined) => (p && !isAbsolute(p) ? resolve(dirname(file), p) : p);
    for (const { name, at, body } of entries(file, doc, 'clusters', 'cluster')) {
      if (clusters.has(name)) continue;
      const server = str(file, body, 'server', at);
      if (!server) throw unreadable(file, `${at} (cluster "${name}") has no server`);
      clusters.set(name, {
        name,
        server,
        caFile: path(str(file, body, 'certificate-authority', at)),
        caData: str(file, body, 'certificate-authority-data', at),
        insecureSkipTlsVerify: body['insecure-skip-tls-verify'] === true,
        tlsServerName: str(file, body, 'tls-server-name', at),
        proxyUrl: str(file, body, 'proxy-url', at),
        file,
      });
    }
    for (const { name, at, body } of entries(file, doc, 'users', 'user')) {
      if (users.has(name)) continue;
      const provider = body['auth-provider'];
      users.set(name, {
        name,
        certFile: path(str(file, body, 'client-certificate', at)),
        certData: str(file, body, 'client-certificate-data', at),
        keyFile: path(str(file, body, 'client-key', at)),
        keyData: str(file, body, 'client-key-data', at),
        token: str(file, body, 'token', at),
        tokenFile: path(str(file, body, 'tokenFile', at)),
        username: str(file, body, 'username', at),
        password: str(file, body, 'password', at),
        impersonate: str(file, body, 'as', at),
        exec: execConfig(file, body.exec, `${at}.exec`),
        authProvider: isMap(provider) ? (str(file, provider, 'name', `${at}.auth-provider`) ?? '') : undefined,
        file,
      });
    }
    for (const { name, at, body } of entries(file, doc, 'contexts', 'context')) {
      if (contexts.has(name)) continue;
      contexts.set(name, {
        name,
        cluster: str(file, body, 'cluster', at) ?? '',
        user: str(file, body, 'user', at) ?? '',
        file,
      });
    }
  }
  return { files, clusters, users, contexts };
}
