import { scriptBeside } from '../../core/process/script-path.ts';
import { join } from 'node:path';
import { gitopsRefOf, type LoadedRegistry } from '../../core/config/load.ts';
import type { MirrorConfig } from '../../core/config/schema.ts';
import { flush, flushMany, type FlushResult, type RefFlush } from './flush.ts';
import { sshTransportEnv, transportDisclosure, type SshTransport } from './ssh-transport.ts';
import type { SnapshotTarget } from './stage-plan.ts';
import { mirrorStatus, type MirrorStatus } from './status.ts';
import { sync, type SyncOptions, type SyncResult } from './sync.ts';

// The registry's side of the git-mirror stages: which branches, snapshots and GitOps refs one mirror
// holds, where its cache is, and the SSH transport as controller.source.githubSsh + gitMirror declare
// it. Everything comes from the loaded registry and the two mounted directories; nothing from the
// environment except PATH (to find git and ssh).

const TUNNEL_SCRIPT = scriptBeside(import.meta.url, 'connect-tunnel');

/** Where the stages find the mirror cache and the mounted Secret keys (in the pod: the declared mount paths). */
export interface StageMounts {
  /** Holds every mirror's cachePath (gitMirror.mountPath in the pod, --mirror-dir on the command line). */
  readonly mirrorRoot: string;
  /** Holds identity/<key> and known-hosts/<key> (gitMirror.sshMountPath). */
  readonly sshRoot: string;
}

/** The mounts as the registry declares them: what the pass pod and the stage Job see. */
export function declaredMounts(loaded: LoadedRegistry): StageMounts {
  const g = loaded.registry.controller.gitMirror;
  return { mirrorRoot: g.mountPath, sshRoot: g.sshMountPath };
}

/** What one mirror's stages work on. */
export interface MirrorStageInputs {
  readonly mirror: MirrorConfig;
  readonly mirrorDir: string;
  readonly upstreamUrl: string;
  readonly branches: readonly string[];
  readonly snapshots: readonly SnapshotTarget[];
  /** Each follower of this mirror with its GitOps ref. */
  readonly followers: readonly { id: string; branch: string; adapter: string; gitopsRef: string }[];
}

export function stageInputs(loaded: LoadedRegistry, mirrorId: string, mounts: StageMounts): MirrorStageInputs {
  const mirror = loaded.registry.mirrors.find((m) => m.id === mirrorId);
  if (!mirror) throw new Error(`no mirror with id ${mirrorId}`);
  const followers = loaded.registry.followers
    .filter((f) => f.source.mirror === mirrorId)
    .map((f) => ({ id: f.id, branch: f.source.branch, adapter: f.adapter, gitopsRef: gitopsRefOf(loaded, f.id) }));
  return {
    mirror,
    mirrorDir: join(mounts.mirrorRoot, mirror.cachePath),
    upstreamUrl: mirror.upstream,
    branches: [...new Set(followers.map((f) => f.branch))],
    snapshots: followers.map(({ adapter, branch }) => ({ adapter, branch })),
    followers,
  };
}

/** Where the githubSsh Secret keys are mounted: `<sshRoot>/identity/<key>`, `<sshRoot>/known-hosts/<key>`. */
export function sshKeyFiles(loaded: LoadedRegistry, mounts: StageMounts) {
  const s = loaded.registry.controller.source.githubSsh;
  return {
    identityFile: join(mounts.sshRoot, 'identity', s.identity.key),
    knownHostsFile: join(mounts.sshRoot, 'known-hosts', s.knownHosts.key),
  };
}

function sshTransport(loaded: LoadedRegistry, mounts: StageMounts): SshTransport {
  const s = loaded.registry.controller.source.githubSsh;
  return {
    ...sshKeyFiles(loaded, mounts),
    proxy: s.proxy,
    node: process.execPath,
    tunnelScript: TUNNEL_SCRIPT,
  };
}

/** Status's account of the transport: source=yaml, proxy mode, Secret object/key/sourceRef, fingerprints. */
export function transportOf(loaded: LoadedRegistry, mounts: StageMounts) {
  const s = loaded.registry.controller.source.githubSsh;
  return transportDisclosure(sshTransport(loaded, mounts), {
    identity: { secret: s.identity.name, key: s.identity.key },
    knownHosts: { secret: s.knownHosts.name, key: s.knownHosts.key },
  });
}

interface RunOpts {
  readonly pathEnv: string;
  /** A transport made by `sharedTransport` for many stages; absent: this stage makes its own and removes it. */
  readonly transport?: SharedTransport;
  /** Told before each git ls-remote of this mirror's upstream (GitRunOptions.onUpstreamRead). */
  readonly onUpstreamRead?: () => void;
}

/** One SSH transport for many stages of one process (see sharedTransport). */
export interface SharedTransport {
  readonly env: Record<string, string>;
  dispose(): void;
}

// One transport for every stage a pass runs: the stages' git calls share one SSH connection to the
// upstream host (controller.source.githubSsh declares one), so only the first connects and
// authenticates. The connection is kept at most gitMirror.gitTimeoutSeconds after its last use — as
// long as one git call may take — and ended by `dispose`.
export function sharedTransport(loaded: LoadedRegistry, mounts: StageMounts, pathEnv: string): SharedTransport {
  const idleSeconds = loaded.registry.controller.gitMirror.gitTimeoutSeconds;
  return sshTransportEnv({ ...sshTransport(loaded, mounts), share: { controlPath: 'mux', idleSeconds, pathEnv } });
}

async function withTransport<T>(
  loaded: LoadedRegistry,
  mounts: StageMounts,
  shared: SharedTransport | undefined,
  use: (env: Record<string, string>) => Promise<T>,
): Promise<T> {
  if (shared) return use(shared.env);
  const t = sshTransportEnv(sshTransport(loaded, mounts));
  try {
    return await use(t.env);
  } finally {
    t.dispose();
  }
}

/** sync of one mirror: its followers' branches into the cache, one snapshot per follower tip. */
export function syncMirror(
  loaded: LoadedRegistry,
  mirrorId: string,
  mounts: StageMounts,
  opts: RunOpts & { dryRun: boolean; served?: SyncOptions['served'] },
): Promise<SyncResult> {
  const i = stageInputs(loaded, mirrorId, mounts);
  const timeoutMs = loaded.registry.controller.gitMirror.gitTimeoutSeconds * 1000;
  return withTransport(loaded, mounts, opts.transport, (transportEnv) =>
    sync({
      mirrorDir: i.mirrorDir,
      upstreamUrl: i.upstreamUrl,
      branches: i.branches,
      snapshots: i.snapshots,
      transportEnv,
      timeoutMs,
      pathEnv: opts.pathEnv,
      dryRun: opts.dryRun,
      ...(opts.served ? { served: opts.served } : {}),
      ...(opts.onUpstreamRead ? { onUpstreamRead: opts.onUpstreamRead } : {}),
    }),
  );
}

/** flush of one GitOps ref of one mirror. */
export function flushRef(
  loaded: LoadedRegistry,
  mirrorId: string,
  gitopsRef: string,
  mounts: StageMounts,
  opts: RunOpts & { dryRun: boolean },
): Promise<FlushResult> {
  return withTransport(loaded, mounts, opts.transport, (transportEnv) =>
    flush({ ...flushOptions(loaded, mirrorId, mounts, transportEnv, opts), gitopsRef }),
  );
}

/** flush of many GitOps refs of one mirror, in a fixed number of git processes: per ref a result or its error. */
export function flushRefs(
  loaded: LoadedRegistry,
  mirrorId: string,
  gitopsRefs: readonly string[],
  mounts: StageMounts,
  opts: RunOpts & { dryRun: boolean },
): Promise<Map<string, RefFlush>> {
  return withTransport(loaded, mounts, opts.transport, (transportEnv) =>
    flushMany({ ...flushOptions(loaded, mirrorId, mounts, transportEnv, opts), gitopsRefs }),
  );
}

/** What every flush of one mirror is given: its cache and upstream, the transport, the declared budgets. */
function flushOptions(
  loaded: LoadedRegistry,
  mirrorId: string,
  mounts: StageMounts,
  transportEnv: Record<string, string>,
  opts: RunOpts & { dryRun: boolean },
) {
  const i = stageInputs(loaded, mirrorId, mounts);
  const g = loaded.registry.controller.gitMirror;
  return {
    mirrorDir: i.mirrorDir,
    upstreamUrl: i.upstreamUrl,
    transportEnv,
    timeoutMs: g.gitTimeoutSeconds * 1000,
    pathEnv: opts.pathEnv,
    dryRun: opts.dryRun,
    recheck: { delayMs: g.flushRecheckDelaySeconds * 1000 },
    ...(opts.onUpstreamRead ? { onUpstreamRead: opts.onUpstreamRead } : {}),
  };
}

/** status of one follower's branch and GitOps ref, read from the mirror cache only. */
export function followerMirrorStatus(
  loaded: LoadedRegistry,
  followerId: string,
  mounts: StageMounts,
  opts: RunOpts,
): Promise<MirrorStatus> {
  const f = loaded.registry.followers.find((x) => x.id === followerId)!;
  const i = stageInputs(loaded, f.source.mirror, mounts);
  return mirrorStatus({
    mirrorDir: i.mirrorDir,
    branches: [f.source.branch],
    snapshots: [{ adapter: f.adapter, branch: f.source.branch }],
    gitopsRef: gitopsRefOf(loaded, f.id),
    timeoutMs: loaded.registry.controller.gitMirror.gitTimeoutSeconds * 1000,
    pathEnv: opts.pathEnv,
  });
}
