import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gitopsRefOf, type LoadedRegistry } from '../core/config/load.ts';
import { BranchFollowerError } from '../core/errors.ts';
import type { FollowerConfig } from '../core/config/schema.ts';
import { staticValues } from '../core/config/template-values.ts';
import { AdapterError, readStatus, trigger } from './adapters/run-adapter.ts';
import { redactSecrets, tail, type SecretLiterals } from './adapters/redact.ts';
import { GitMirrorError } from './git-mirror/errors.ts';
import { cacheHasAncestor } from './git-mirror/git.ts';
import type { FlushResult } from './git-mirror/flush.ts';
import { declaredMounts, flushRefs, sharedTransport, syncMirror, type SharedTransport } from './git-mirror/stages.ts';
import type { SyncResult } from './git-mirror/sync.ts';
import { mapLimit } from './limit.ts';
import { MirrorError } from './observe/mirror-error.ts';
import { mirrorReads } from './observe/observation.ts';
import { observe } from './observe/observe.ts';
import { readMirror } from './observe/read-mirror.ts';
import { byMirror, type AdapterPort, type MirrorPort } from './ports.ts';
import type { MirrorView } from './state-machine.ts';

const short = (sha: string | null) => (sha === null ? '(none)' : sha.slice(0, 12));

/** One line of what a sync did: moved branches and created snapshots, or that nothing changed. */
function syncSummary(r: SyncResult): string {
  const moved = r.fetched.filter((b) => b.from !== b.to).map((b) => `${b.branch} ${short(b.from)} -> ${short(b.to)}`);
  const created = r.snapshots.filter((x) => x.action === 'created').length;
  const parts = [
    moved.length > 0 ? `fetched ${moved.join(', ')}` : `${r.fetched.length} branch(es) unchanged`,
    `${created} snapshot(s) created`,
  ];
  return parts.join('; ');
}

/** One line of what a flush did, with partialSuccess and its recovery when there was one. */
function flushSummary(r: FlushResult): string {
  const partial =
    r.partialSuccess === null
      ? ''
      : ` partialSuccess=${r.partialSuccess} ` +
        `partialSuccessRecovered=${r.partialSuccessRecovered}${r.postPushRecovery ? ' postPushRecovery' : ''}`;
  return `${r.message} (ok=${r.ok} pendingFlush=${r.pendingFlush} githubInSync=${r.githubInSync}${partial})`;
}

// The mirror and adapter ports as processes: git-mirror sync and flush of the mirror cache (over
// the declared SSH transport), `git ls-remote` of the mirrors, and the adapter commands. PATH is the
// one variable handed on (to find git and the adapter CLIs); nothing else of the caller's
// environment, working directory or checkout reaches a decision. Every line they answer is
// redacted, with `literals` (the mounted Secret values) added, before it is cut to a tail.

/** One mirror's sync: what it did (or why it failed), and the mirror as served when the sync read it. */
interface OneSync {
  readonly outcome: { summary: string } | { error: string };
  readonly served: ReadonlyMap<string, string> | undefined;
}

/** The mirror port of processes; `close` ends the SSH connection its stages shared (call it once the passes end). */
export interface ProcessMirrorPort extends MirrorPort {
  close(): void;
}

export function mirrorPort(
  loaded: LoadedRegistry,
  env: NodeJS.ProcessEnv,
  literals: SecretLiterals,
): ProcessMirrorPort {
  const registry = loaded.registry;
  const redact = (text: string) => redactSecrets(text, literals);
  const stageFailure = (err: unknown) => {
    if (err instanceof BranchFollowerError) return { error: redact(err.message) };
    throw err;
  };
  const path = env.PATH ?? '';
  const mounts = declaredMounts(loaded);
  const gitCalls = registry.controller.pass.concurrency.gitCalls;
  const gitopsRefs = new Map(registry.followers.map((f) => [f.id, gitopsRefOf(loaded, f.id)]));
  const observeTimeoutMs = registry.controller.pass.observeTimeoutSeconds * 1000;
  const urlOf = new Map(registry.mirrors.map((m) => [m.id, m.url]));
  // The mirror as the look reads it (its URL); undefined when it cannot be read, which the look that
  // follows then finds and reports by reading it itself.
  const servedRead = (id: string) => async () => {
    try {
      return await readMirror(urlOf.get(id)!, { timeoutMs: observeTimeoutMs, pathEnv: path, mirror: id });
    } catch (err) {
      if (err instanceof MirrorError) return undefined;
      throw err;
    }
  };
  // Every git ls-remote of each mirror's upstream this port made (MirrorPort.upstreamReads).
  const upstreamReads = new Map<string, number>();
  const counted = (id: string) => () => upstreamReads.set(id, (upstreamReads.get(id) ?? 0) + 1);
  // The stages' git calls share one SSH connection to the upstream host, made at the first and
  // ended by close().
  let shared: SharedTransport | undefined;
  const transport = () => {
    shared ??= sharedTransport(loaded, mounts, path);
    return shared;
  };
  // Each mirror is its own repository and upstream: their syncs run side by side (gitCalls at
  // once). Another shard's pass may sync the same mirror at the same moment, and one of two
  // racing ref updates then fails: a failed sync is tried once more, and plans again from what
  // the other one stored.
  const syncOnce = async (id: string, withServed: boolean): Promise<OneSync> => {
    for (let attempt = 1; ; attempt++) {
      try {
        const r = await syncMirror(loaded, id, mounts, {
          pathEnv: path,
          dryRun: false,
          transport: transport(),
          onUpstreamRead: counted(id),
          ...(withServed ? { served: servedRead(id) } : {}),
        });
        return { outcome: { summary: redact(syncSummary(r)) }, served: r.served };
      } catch (err) {
        if (attempt < 2 && err instanceof BranchFollowerError) continue;
        return { outcome: stageFailure(err), served: undefined };
      }
    }
  };
  // The latest sync of each mirror that read it as served, and when it started. The shards of one
  // run-once share a port: without this, each shard's first look would sync every mirror its
  // followers use (nearly every mirror), one after another shard's. A look that says `notBefore`
  // takes a sync that started at or after it, in flight or done: it read the mirror no earlier
  // than a sync of its own would have.
  const latest = new Map<string, { readonly startedAt: number; readonly sync: Promise<OneSync> }>();
  const syncAll = async (
    mirrorIds: readonly string[],
    withServed: boolean,
    onServed?: (id: string, read: ReadonlyMap<string, string>) => Promise<void>,
    notBefore?: number,
  ) => {
    const served = new Map<string, ReadonlyMap<string, string>>();
    const one = async (id: string): Promise<[string, { summary: string } | { error: string }]> => {
      const prior = withServed && notBefore !== undefined ? latest.get(id) : undefined;
      let sync: Promise<OneSync>;
      if (prior && prior.startedAt >= notBefore!) {
        sync = prior.sync;
      } else {
        const startedAt = Date.now();
        sync = syncOnce(id, withServed);
        if (withServed) latest.set(id, { startedAt, sync });
      }
      const r = await sync;
      if (r.served) {
        served.set(id, r.served);
        await onServed?.(id, r.served);
      }
      return [id, r.outcome];
    };
    // The first sync runs alone, so that its connection is the one the others share rather than one
    // of gitCalls connections made at once.
    const [first, ...rest] = mirrorIds;
    const synced = first === undefined ? [] : [await one(first), ...(await mapLimit(rest, gitCalls, one))];
    return { synced: new Map(synced), served };
  };
  const look = async (
    followers: readonly FollowerConfig[],
    read?: ReadonlyMap<string, ReadonlyMap<string, string>>,
  ): Promise<Map<string, MirrorView>> => {
    const seen = await observe({ ...registry, followers: [...followers] }, gitopsRefs, {
      timeoutMs: observeTimeoutMs,
      pathEnv: path,
      concurrency: gitCalls,
      ...(read ? { read } : {}),
    });
    const views = new Map<string, MirrorView>();
    for (const [id, o] of seen) {
      if ('error' in o) views.set(id, { error: redact(o.error.message) });
      else if (o.tip === null)
        views.set(id, {
          tip: null,
          snapshotRef: '',
          snapshotPresent: false,
          gitops: { ref: gitopsRefs.get(id)!, pendingFlush: false, githubInSync: false },
        });
      else
        views.set(id, {
          tip: o.tip,
          snapshotRef: o.snapshotRef,
          snapshotPresent: o.snapshotPresent,
          gitops: o.gitops,
        });
    }
    return views;
  };
  return {
    close() {
      shared?.dispose();
      shared = undefined;
    },
    sync: async (mirrorIds) => (await syncAll(mirrorIds, false)).synced,
    observe: (followers) => look(followers),
    async syncThenObserve(mirrorIds, followers, early, notBefore) {
      // A mirror served alone at its URL whose sync ended on its served read is looked at right then,
      // from that read (no git): `early` hears its followers' views while the other syncs go on.
      const reads = mirrorReads({ ...registry, followers: [...followers] });
      const ofMirror = new Map<string, FollowerConfig[]>();
      for (const f of followers) {
        const mine = ofMirror.get(f.source.mirror);
        if (mine) mine.push(f);
        else ofMirror.set(f.source.mirror, [f]);
      }
      const onServed = early
        ? async (id: string, read: ReadonlyMap<string, string>) => {
            const url = urlOf.get(id)!;
            if (reads.get(url)?.length !== 1) return;
            early(await look(ofMirror.get(id) ?? [], new Map([[url, read]])));
          }
        : undefined;
      const { synced, served } = await syncAll(mirrorIds, true, onServed, notBefore);
      // A URL is taken as read only when every mirror served there ended its sync on that read (none
      // of them moved anything since).
      const read = new Map<string, ReadonlyMap<string, string>>();
      for (const [url, ids] of reads) {
        const theirs = ids.map((id) => served.get(id));
        if (theirs.every((r) => r !== undefined)) read.set(url, theirs[0]!);
      }
      return { synced, views: await look(followers, read) };
    },
    upstreamReads: (mirrorId) => upstreamReads.get(mirrorId) ?? 0,
    async isAncestor(mirrorId, ancestor, descendant) {
      const dir = join(mounts.mirrorRoot, loaded.registry.mirrors.find((m) => m.id === mirrorId)!.cachePath);
      if (!existsSync(dir)) return undefined;
      return cacheHasAncestor(dir, ancestor, descendant, {
        transportEnv: {},
        timeoutMs: observeTimeoutMs,
        pathEnv: path,
      });
    },
    async flush(wanted) {
      // One flush per mirror for all its refs (a fixed number of git processes, whatever their
      // number), the mirrors side by side (gitCalls at once). A follower gets its ref's result; a
      // mirror that fails as a whole fails each of its followers.
      const out = new Map<string, { ok: boolean; summary: string } | { error: string }>();
      await mapLimit([...byMirror(wanted)], gitCalls, async ([mirror, ws]) => {
        try {
          const refs = await flushRefs(
            loaded,
            mirror,
            ws.map((w) => w.ref),
            mounts,
            { pathEnv: path, dryRun: false, transport: transport(), onUpstreamRead: counted(mirror) },
          );
          for (const w of ws) {
            const r = refs.get(w.ref)!;
            out.set(
              w.follower.id,
              r instanceof GitMirrorError ? stageFailure(r) : { ok: r.ok, summary: redact(flushSummary(r)) },
            );
          }
        } catch (err) {
          const failed = stageFailure(err);
          for (const w of ws) out.set(w.follower.id, failed);
        }
      });
      return out;
    },
  };
}

export function adapterPort(loaded: LoadedRegistry, env: NodeJS.ProcessEnv, literals: SecretLiterals): AdapterPort {
  const registry = loaded.registry;
  const path = env.PATH ?? '';
  const tailBytes = registry.controller.state.outputTailBytes;
  const adapterOf = (f: FollowerConfig) => registry.adapters.find((a) => a.id === f.adapter)!;
  const values = (f: FollowerConfig, sha: string, snapshotRef: string) => {
    const v = staticValues(f, loaded.targets.get(f.id)!);
    v.set('sha', sha);
    v.set('snapshotRef', snapshotRef);
    return v;
  };
  const failure = (err: unknown) => {
    if (err instanceof AdapterError) return { error: err.message, tail: tail(err.stderrTail, tailBytes) };
    throw err;
  };
  return {
    async status(f, sha, snapshotRef) {
      try {
        const status = await readStatus({
          adapter: adapterOf(f),
          followerId: f.id,
          values: values(f, sha, snapshotRef),
          env: { PATH: path },
          literals,
        });
        return { status, tail: tail(JSON.stringify(status), tailBytes) };
      } catch (err) {
        return failure(err);
      }
    },
    async trigger(f, sha, snapshotRef) {
      try {
        const t = await trigger({
          adapter: adapterOf(f),
          followerId: f.id,
          values: values(f, sha, snapshotRef),
          env: { PATH: path },
          literals,
        });
        return { runName: t.run.name, tail: tail(JSON.stringify(t), tailBytes) };
      } catch (err) {
        return failure(err);
      }
    },
  };
}
