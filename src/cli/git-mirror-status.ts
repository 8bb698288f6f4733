import { join } from 'node:path';
import { mirrorStageRef } from '../../runner/git-mirror/stage-plan.ts';
import { followerMirrorStatus, transportOf, type StageMounts } from '../../runner/git-mirror/stages.ts';
import { MirrorError } from '../../runner/observe/mirror-error.ts';
import { readMirror } from '../../runner/observe/read-mirror.ts';
import { gitopsObserved } from '../../runner/observe/observation.ts';
import { snapshotRefName } from '../../runner/observe/snapshot-ref.ts';
import { gitopsRefOf, type LoadedRegistry } from '../../core/config/load.ts';
import type { FollowerConfig } from '../../core/config/schema.ts';
import { BranchFollowerError } from '../../core/errors.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { keyPresence, readSecret, type SecretView } from '../../core/kube/secret-keys.ts';
import { ageOf } from '../../core/output/age.ts';
import { shortSha } from '../../core/output/sha.ts';
import type { Block, View } from '../../core/output/view.ts';
import type { StageSelection } from './git-mirror-select.ts';
import { exitCodeOf } from './exit-codes.ts';

/** One follower's branch and GitOps ref as the mirror holds them. */
export interface FollowerMirrorRow {
  readonly follower: string;
  readonly mirror: string;
  readonly branch: string;
  /** refs/mirror-stage/<branch>: the mirror's copy of the upstream branch (null: never synced). */
  readonly cacheSha: string | null;
  /** When a sync last moved it (the cache's reflog); `unknown` when read from the served mirror. */
  readonly fetchedAt: string | null | 'unknown';
  /** The follower's snapshot ref of the cached tip; null when there is no cached tip. */
  readonly snapshot: { readonly ref: string; readonly present: boolean } | null;
  readonly gitopsRef: string;
  readonly gitopsSha: string | null;
  readonly pendingFlush: boolean;
  readonly githubInSync: boolean;
}

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
  return failures.map((f) => ({ line: `failed: ${f.follower ? `follower ${f.follower}` : `mirror ${f.mirror}`} (${f.reason}); the error is on stderr` }));
}

const yesNo = (b: boolean) => (b ? 'true' : 'false');

/** One row of the status table; pure. */
export function toMirrorStatusRow(r: FollowerMirrorRow, now: number): string[] {
  const fetched = r.fetchedAt === 'unknown' ? 'unknown' : r.fetchedAt === null ? 'never' : `${ageOf(r.fetchedAt, now)} ago`;
  const snapshot = r.snapshot === null ? '-' : r.snapshot.present ? 'present' : 'missing';
  return [r.follower, r.mirror, r.branch, shortSha(r.cacheSha), fetched, snapshot, r.gitopsRef, shortSha(r.gitopsSha), yesNo(r.pendingFlush), yesNo(r.githubInSync)];
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
      ? [{ line: 'fetched-at is unknown here: only the mirror cache reflog knows it; `branch-follower git-mirror status --local` in the pod shows it' }]
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
    human: [
      { line: `git-mirror status: ${input.where}` },
      {
        table: {
          headers: ['follower', 'mirror', 'branch', 'cache', 'fetched', 'snapshot', 'gitops ref', 'gitops', 'pending flush', 'github in sync'],
          rows: input.rows.map((r) => toMirrorStatusRow(r, input.now)),
        },
      },
      ...failureLines(input.failures),
      ...fetchedNote,
      { line: '' },
      { table: { headers: ['object', 'state'], rows: transportRows(input.transport) } },
      { line: 'refSources.githubFieldsAreMirrorStageCache=true (pendingFlush and githubInSync come from refs/mirror-stage/*, never from the upstream)' },
      { next: input.next },
    ],
  };
}

// --local: the mirror cache on disk, one follower at a time (stages.ts reads refs and reflogs only).
export async function localStatus(loaded: LoadedRegistry, sel: StageSelection, mounts: StageMounts, pathEnv: string) {
  const rows: FollowerMirrorRow[] = [];
  const failures: StageFailure[] = [];
  for (const f of sel.followers) {
    try {
      const s = await followerMirrorStatus(loaded, f.id, mounts, { pathEnv });
      const b = s.branches[0]!;
      const snap = b.snapshots[0];
      rows.push({
        follower: f.id,
        mirror: f.source.mirror,
        branch: b.branch,
        cacheSha: b.cacheSha,
        fetchedAt: b.fetchedAt,
        snapshot: snap && snap.ref !== null ? { ref: snap.ref, present: snap.present } : null,
        gitopsRef: s.gitops.ref,
        gitopsSha: s.gitops.sha,
        pendingFlush: b.pendingFlush,
        githubInSync: b.githubInSync,
      });
    } catch (err) {
      failures.push(failureOf(err, f.source.mirror, f.id));
    }
  }
  const t = transportOf(loaded, mounts);
  const disclose = (k: (typeof t)['identity'], dir: string): KeyDisclosure => ({ ...k, detail: `file ${join(mounts.sshRoot, dir, k.key)}` });
  const transport: TransportView = { ...t, identity: disclose(t.identity, 'identity'), knownHosts: disclose(t.knownHosts, 'known-hosts') };
  return { rows, failures, transport };
}

/** One follower's row from a listing of the served mirror's refs; pure, same rules as the cache status. */
export function rowFromRefs(f: FollowerConfig, gitopsRef: string, refs: ReadonlyMap<string, string>): FollowerMirrorRow {
  const cacheSha = refs.get(mirrorStageRef(f.source.branch)) ?? null;
  const gitops = gitopsObserved(refs, gitopsRef);
  const snapshot = cacheSha === null ? null : snapshotRefName(f.adapter, f.source.branch, cacheSha);
  return {
    follower: f.id,
    mirror: f.source.mirror,
    branch: f.source.branch,
    cacheSha,
    fetchedAt: 'unknown',
    snapshot: snapshot === null ? null : { ref: snapshot, present: refs.get(snapshot) === cacheSha },
    gitopsRef,
    gitopsSha: gitops.sha,
    pendingFlush: gitops.pendingFlush,
    githubInSync: gitops.githubInSync,
  };
}

/** One Secret key's disclosure: presence and fingerprint from the shared reader, never the value. */
function disclose(secret: SecretView, namespace: string, ref: { name: string; key: string }, user: string): KeyDisclosure {
  const k = keyPresence(secret, { namespace, ...ref }, user);
  return { secret: ref.name, key: ref.key, present: k.present, fingerprint: k.fingerprint, detail: k.missing ?? `in Secret ${namespace}/${ref.name}` };
}

// Without --local: the mirror as it is served (one ls-remote of mirrors[].url per mirror, for the
// mirror-stage cache, the snapshots and the GitOps refs) and the githubSsh Secret as the cluster holds
// it. Writes nothing anywhere; fetched-at is unknown (only the cache's reflog knows it).
export async function clusterStatus(loaded: LoadedRegistry, sel: StageSelection, client: KubeClient, pathEnv: string) {
  const c = loaded.registry.controller;
  const rows: FollowerMirrorRow[] = [];
  const failures: StageFailure[] = [];
  for (const m of sel.mirrors) {
    const followers = sel.followers.filter((f) => f.source.mirror === m.id);
    // The same single ls-remote the pass observes with (branch, mirror-stage and snapshot refs).
    let refs: ReadonlyMap<string, string>;
    try {
      refs = await readMirror(m.url, { timeoutMs: c.gitMirror.gitTimeoutSeconds * 1000, pathEnv, mirror: m.id });
    } catch (err) {
      if (!(err instanceof MirrorError)) throw err;
      failures.push(failureOf(err, m.id, null));
      continue;
    }
    for (const f of followers) rows.push(rowFromRefs(f, gitopsRefOf(loaded, f.id), refs));
  }
  const ssh = c.source.githubSsh;
  // identity and known_hosts usually live in one Secret: read each Secret once.
  const secrets = new Map<string, SecretView>();
  for (const name of new Set([ssh.identity.name, ssh.knownHosts.name])) secrets.set(name, await readSecret(client, c.namespace, name));
  const key = (ref: { name: string; key: string }) => disclose(secrets.get(ref.name)!, c.namespace, ref, client.route.user);
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
