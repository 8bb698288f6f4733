import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import { KubeClient, type KubeObject } from '../../core/kube/client.ts';
import { resolveRoute } from '../../core/kube/route.ts';
import { cli } from './cli.ts';
import { makeFixture } from './registry-fixture.ts';
import type { Edit } from './registry-fixture.ts';

let counter = 0;

/** A namespace name no other test uses. */
export function uniqueNamespace(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`.slice(0, 63);
}

export function kubeconfig(): string {
  return inject('controlPlane').kubeconfig;
}

/** A registry copy whose controller lives in `namespace`, plus further edits. */
export function clusterFixture(namespace: string, edits: readonly Edit[] = []): string {
  return makeFixture([{ from: 'namespace: unidesk-cicd', to: `namespace: ${namespace}` }, ...edits]).root;
}

/** The kube route budgets of the tests' own clients: the shipped registry's retry, a shorter timeout. */
export const TEST_ROUTE = {
  requestTimeoutSeconds: 10,
  retry: { budgetSeconds: 30, initialBackoffMilliseconds: 200, maxBackoffMilliseconds: 5000 },
} as const;

/**
 * The admin's client, as the tests see the cluster (the shared one, or the kubeconfig given); its
 * retries are told to `progress`, silent by default.
 */
export function adminClient(opts: { kubeconfig?: string; progress?: (line: string) => void } = {}): KubeClient {
  const { auth, route } = resolveRoute(
    { kubeconfig: opts.kubeconfig ?? kubeconfig() },
    { context: 'envtest', ...TEST_ROUTE },
    {},
  );
  return new KubeClient(auth, route, { progress: opts.progress ?? (() => undefined) });
}

/** A kubeconfig whose user is a ServiceAccount (a token from the TokenRequest API). */
export async function serviceAccountKubeconfig(dir: string, namespace: string, sa: string): Promise<string> {
  const admin = adminClient();
  const res = await admin.post<{ status: { token: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${sa}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 600 } },
    'create',
    'token',
  );
  const admin_ = readFileSync(kubeconfig(), 'utf8');
  const ca = /certificate-authority-data: (\S+)/.exec(admin_)![1];
  const server = inject('controlPlane').server;
  const file = join(dir, `kubeconfig-${sa}`);
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: envtest
  cluster: { server: "${server}", certificate-authority-data: ${ca} }
users:
- name: ${sa}
  user: { token: "${res.status.token}" }
contexts:
- name: unidesk-jd01
  context: { cluster: envtest, user: ${sa} }
current-context: unidesk-jd01
`,
  );
  return file;
}

/** Audit log entries (one per request) about one namespace. */
export interface AuditEvent {
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
}

export function auditEvents(filter: (e: AuditEvent) => boolean): AuditEvent[] {
  return readFileSync(inject('controlPlane').auditLog, 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter(filter);
}

export const MUTATING = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** resourceVersion of every object, keyed `Kind/name`. */
export function versions(objs: readonly (KubeObject | undefined)[]): Record<string, string | undefined> {
  return Object.fromEntries(
    objs
      .filter((o): o is KubeObject => o !== undefined)
      .map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.resourceVersion]),
  );
}

/** A namespace with the controller applied from a registry copy (plus `edits`); its name and the copy's root. */
export async function appliedFixture(
  prefix: string,
  edits: readonly Edit[] = [],
): Promise<{ ns: string; root: string }> {
  const ns = uniqueNamespace(prefix);
  const root = clusterFixture(ns, edits);
  const r = await cli(['apply', '--confirm', '--kubeconfig', kubeconfig()], { cwd: root });
  if (r.code !== 0) throw new Error(`apply into ${ns} exited ${r.code}: ${r.stderr}`);
  return { ns, root };
}

/** The etcd under the API server (from the flags it was started with). */
function etcdUrl(): string {
  const flag = inject('controlPlane').apiserverLaunch.args.find((a) => a.startsWith('--etcd-servers='));
  if (!flag) throw new Error('the API server was started without --etcd-servers');
  return flag.slice('--etcd-servers='.length);
}

/**
 * Compacts etcd's history up to now, as the API server's own compaction does every five minutes: a
 * watch from a resourceVersion before it gets 410 Gone. Through etcd's JSON gateway.
 */
export async function compactEtcd(): Promise<number> {
  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${etcdUrl()}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as { header: { revision: string } };
  };
  const { header } = await post('/v3/kv/range', { key: Buffer.from('/').toString('base64') });
  await post('/v3/kv/compaction', { revision: header.revision, physical: true });
  return Number(header.revision);
}
