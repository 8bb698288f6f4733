import { join } from 'node:path';
import { cacheRows, servedRows, type FollowerMirrorRow, type StageMounts, transportOf } from '../../runner/index.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { BranchFollowerError } from '../../core/errors.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { keyPresence, readSecret, type SecretView } from '../../core/kube/secret-keys.ts';
import { ageOf } from '../../core/output/age.ts';
import { shortSha } from '../../core/output/sha.ts';
import type { Tone } from '../../core/output/table.ts';
import type { Block, View } from '../../core/output/view.ts';
import type { StageSelection } from './git-mirror-select.ts';
import { exitCodeOf } from './exit-codes.ts';

/** One githubSsh Secret key as status may show it: names, presence and a fingerprint, never the value. */
export interface KeyDisclosure {
  readonly secret: string;
  readonly key: string;
  readonly present: boolean;
  readonly fingerprint: string | null;
  /** Where it was looked for, or why it could not be read. */
  readonly detail: string;
}

export interface TransportView {
  readonly source: 'yaml';
  readonly sourceRef: string;
  readonly transport: 'ssh';
  readonly proxyMode: 'connect' | 'none';
  readonly identity: KeyDisclosure;
  readonly knownHosts: KeyDisclosure;
}

/** A stage that failed for one mirror or follower, as output shows it. */
export interface StageFailure {
  readonly mirror: string;
  readonly follower: string | null;
  readonly reason: string;
  readonly message: string;
  /** The exit code the error carries (GitMirrorError, MirrorError: 5). */
  readonly exitCode: number;
}

/** A stage error as a failure of one mirror or follower; anything not ours is a bug and rethrown. */
export function failureOf(err: unknown, mirror: string, follower: string | null): StageFailure {
  if (!(err instanceof BranchFollowerError)) throw err;
  return { mirror, follower, reason: err.reason, message: err.message, exitCode: exitCodeOf(err) };
}

/** The failures under a stage's table, one line each. */
export function failureLines(failures: readonly StageFailure[]): Block[] {
  return failures.map((f) => ({
    line: `failed: ${f.follower ? `follower ${f.follower}` : `mirror ${f.mirror}`} (${f.reason}); the error is on stderr`,
  }));
}

const yesNo = (b: boolean) => (b ? 'true' : 'false');
const syncTone = (v: string): Tone | undefined => (v === 'true' ? 'good' : v === 'false' ? 'bad' : undefined);

/** One row of the status table; pure. */
function toMirrorStatusRow(r: FollowerMirrorRow, now: number): string[] {
  const fetched =
    r.fetchedAt === 'unknown' ? 'unknown' : r.fetchedAt === null ? 'never' : `${ageOf(r.fetchedAt, now)} ago`;
  const snapshot = r.snapshot === null ? '-' : r.snapshot.present ? 'present' : 'missing';
  return [
    r.follower,
    r.mirror,
    r.branch,
    shortSha(r.cacheSha),
    fetched,
    snapshot,
    r.gitopsRef,
    shortSha(r.gitopsSha),
    yesNo(r.pendingFlush),
    yesNo(r.githubInSync),
  ];
}

function transportRows(t: TransportView): string[][] {
  const key = (k: KeyDisclosure, what: string) => [
    `Secret ${k.secret}`,
    `key ${k.key} ${k.present ? 'present' : 'absent'}${k.fingerprint ? ` ${k.fingerprint}` : ''} (sourceRef=${t.sourceRef}.${what}; ${k.detail})`,
  ];
  return [
    ['transport', `source=${t.source}, sourceRef=${t.sourceRef}, transport=${t.transport}, proxy=${t.proxyMode}`],
    key(t.identity, 'identity'),
    key(t.knownHosts, 'knownHosts'),
  ];
}

/** The status view, the same for --local (the cache itself) and the cluster (the served mirror). */
export function mirrorStatusView(input: {
  readonly where: string;
  readonly rows: readonly FollowerMirrorRow[];
  readonly failures: readonly StageFailure[];
  readonly transport: TransportView;
  readonly fetchedAtSource: 'reflog' | 'unknown';
  readonly now: number;
  readonly next: readonly string[];
}): View {
  const fetchedNote: Block[] =
    input.fetchedAtSource === 'unknown'
      ? [
          {
            line:
              'fetched-at is unknown here: only the mirror cache reflog knows it; `branch-follower git-mirror ' +
              'status --local` in the pod shows it',
          },
        ]
      : [];
  return {
    data: {
      stage: 'status',
      where: input.where,
      followers: input.rows,
      failures: input.failures,
      transport: input.transport,
      refSources: { githubFieldsAreMirrorStageCache: true, fetchedAt: input.fetchedAtSource },
    },
    names: input.rows.map((r) => `follower/${r.follower}`),
    human: [
      { line: `git-mirror status: ${input.where}` },
      {
        table: {
          headers: [
            'follower',
            'mirror',
            'branch',
            'cache',
            'fetched',
            'snapshot',
            'gitops ref',
            'gitops',
            'pending flush',
            'github in sync',
          ],
          wideOnly: ['mirror', 'gitops ref', 'gitops'],
          tones: { 'pending flush': (v) => (v === 'true' ? 'busy' : undefined), 'github in sync': syncTone },
          rows: input.rows.map((r) => toMirrorStatusRow(r, input.now)),
        },
      },
      ...failureLines(input.failures),
      ...fetchedNote,
      { line: '' },
      { table: { headers: ['object', 'state'], rows: transportRows(input.transport), shrink: 'state' } },
      {
        line:
          'refSources.githubFieldsAreMirrorStageCache=true\n(pendingFlush and githubInSync come from ' +
          'refs/mirror-stage/*, never from the upstream)',
      },
      { next: input.next },
    ],
  };
}

// --local: the mirror cache on disk, one follower at a time (reads refs and reflogs only).
export async function localStatus(loaded: LoadedRegistry, sel: StageSelection, mounts: StageMounts, pathEnv: string) {
  const read = await cacheRows(loaded, sel.followers, mounts, pathEnv);
  const rows = read.rows;
  const failures = read.failures.map((x) => failureOf(x.error, x.mirror, x.follower));
  const t = transportOf(loaded, mounts);
  const disclose = (k: (typeof t)['identity'], dir: string): KeyDisclosure => ({
    ...k,
    detail: `file ${join(mounts.sshRoot, dir, k.key)}`,
  });
  const transport: TransportView = {
    ...t,
    identity: disclose(t.identity, 'identity'),
    knownHosts: disclose(t.knownHosts, 'known-hosts'),
  };
  return { rows, failures, transport };
}

/** One Secret key's disclosure: presence and fingerprint from the shared reader, never the value. */
function disclose(
  secret: SecretView,
  namespace: string,
  ref: { name: string; key: string },
  user: string,
): KeyDisclosure {
  const k = keyPresence(secret, { namespace, ...ref }, user);
  return {
    secret: ref.name,
    key: ref.key,
    present: k.present,
    fingerprint: k.fingerprint,
    detail: k.missing ?? `in Secret ${namespace}/${ref.name}`,
  };
}

// Without --local: the mirror as it is served (one ls-remote of mirrors[].url per mirror, for the
// mirror-stage cache, the snapshots and the GitOps refs) and the githubSsh Secret as the cluster holds
// it. Writes nothing anywhere; fetched-at is unknown (only the cache's reflog knows it).
export async function clusterStatus(loaded: LoadedRegistry, sel: StageSelection, client: KubeClient, pathEnv: string) {
  const c = loaded.registry.controller;
  const read = await servedRows(loaded, sel.mirrors, sel.followers, pathEnv);
  const rows = read.rows;
  const failures = read.failures.map((x) => failureOf(x.error, x.mirror, x.follower));
  const ssh = c.source.githubSsh;
  // identity and known_hosts usually live in one Secret: read each Secret once.
  const secrets = new Map<string, SecretView>();
  for (const name of new Set([ssh.identity.name, ssh.knownHosts.name]))
    secrets.set(name, await readSecret(client, c.namespace, name));
  const key = (ref: { name: string; key: string }) =>
    disclose(secrets.get(ref.name)!, c.namespace, ref, client.route.user);
  const transport: TransportView = {
    source: 'yaml',
    sourceRef: 'controller.source.githubSsh',
    transport: ssh.transport,
    proxyMode: ssh.proxy.mode,
    identity: key(ssh.identity),
    knownHosts: key(ssh.knownHosts),
  };
  return { rows, failures, transport };
}
