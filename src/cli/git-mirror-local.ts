import {
  flushRef,
  type FlushResult,
  snapshotRefName,
  stageInputs,
  type StageMounts,
  syncMirror,
  type SyncResult,
} from '../../runner/index.ts';
import { gitopsRefOf, type LoadedRegistry } from '../../core/config/load.ts';
import { shortSha } from '../../core/output/sha.ts';
import type { View } from '../../core/output/view.ts';
import type { StageSelection } from './git-mirror-select.ts';
import { failureLines, failureOf, type StageFailure } from './git-mirror-status.ts';

// The sync and flush stages run in this process (`--local`): what the stage Job's pod runs, and what an
// operator runs against a copy of the cache. One mirror (sync) or GitOps ref (flush) failing does not
// stop the others; every failure is reported with its reason.

export interface LocalRun {
  readonly mounts: StageMounts;
  readonly pathEnv: string;
  readonly dryRun: boolean;
  readonly progress: (line: string) => void;
}

interface MirrorSync {
  readonly mirror: string;
  /** Each follower's (adapter, branch) of this mirror, to tell which snapshot belongs to which branch. */
  readonly followers: readonly { adapter: string; branch: string }[];
  readonly result: SyncResult;
}

export async function localSync(loaded: LoadedRegistry, sel: StageSelection, run: LocalRun) {
  const synced: MirrorSync[] = [];
  const failures: StageFailure[] = [];
  for (const m of sel.mirrors) {
    const inputs = stageInputs(loaded, m.id, run.mounts);
    run.progress(
      `${run.dryRun ? 'dry run: ' : ''}sync of mirror ${m.id} (${inputs.mirrorDir}) from ${inputs.upstreamUrl} ...`,
    );
    try {
      const result = await syncMirror(loaded, m.id, run.mounts, { pathEnv: run.pathEnv, dryRun: run.dryRun });
      synced.push({ mirror: m.id, followers: inputs.followers, result });
    } catch (err) {
      failures.push(failureOf(err, m.id, null));
    }
  }
  return { synced, failures };
}

/** One row per declared branch: the mirror-stage ref from → to, and each follower's snapshot of the tip. */
function toSyncRows(s: MirrorSync): string[][] {
  const dry = s.result.dryRun;
  return s.result.fetched.map(({ branch, from, to }) => {
    const fetch = from === to ? 'unchanged' : dry ? 'would fetch' : 'fetched';
    const snapshots = s.followers
      .filter((f) => f.branch === branch)
      .map(({ adapter }) => {
        const snap = s.result.snapshots.find((x) => x.ref === snapshotRefName(adapter, branch, to));
        const action = snap === undefined ? 'missing' : snap.action === 'created' && dry ? 'would create' : snap.action;
        return `${adapter} ${action}`;
      });
    return [s.mirror, branch, shortSha(from), shortSha(to), fetch, [...new Set(snapshots)].join(', ')];
  });
}

export function syncView(where: string, dryRun: boolean, out: Awaited<ReturnType<typeof localSync>>): View {
  return {
    data: {
      stage: 'sync',
      local: true,
      dryRun,
      where,
      mirrors: out.synced.map((s) => ({ mirror: s.mirror, ...s.result })),
      failures: out.failures,
    },
    human: [
      { line: `git-mirror sync --local: ${where}${dryRun ? ' (dry run: nothing was fetched or written)' : ''}` },
      {
        table: {
          headers: ['mirror', 'branch', 'from', 'to', 'fetch', 'snapshot'],
          rows: out.synced.flatMap(toSyncRows),
        },
      },
      ...failureLines(out.failures),
      {
        next: dryRun
          ? ['branch-follower git-mirror sync --local --confirm', 'branch-follower git-mirror status --local']
          : ['branch-follower git-mirror status --local'],
      },
    ],
  };
}

interface RefFlush {
  readonly follower: string;
  readonly mirror: string;
  readonly result: FlushResult;
}

export async function localFlush(loaded: LoadedRegistry, sel: StageSelection, run: LocalRun) {
  const flushed: RefFlush[] = [];
  const failures: StageFailure[] = [];
  const seen = new Set<string>();
  for (const f of sel.followers) {
    const ref = gitopsRefOf(loaded, f.id);
    // Two followers publishing into one GitOps ref flush it once.
    if (seen.has(`${f.source.mirror} ${ref}`)) continue;
    seen.add(`${f.source.mirror} ${ref}`);
    run.progress(`${run.dryRun ? 'dry run: ' : ''}flush of ${ref} (follower ${f.id}) in mirror ${f.source.mirror} ...`);
    try {
      flushed.push({
        follower: f.id,
        mirror: f.source.mirror,
        result: await flushRef(loaded, f.source.mirror, ref, run.mounts, { pathEnv: run.pathEnv, dryRun: run.dryRun }),
      });
    } catch (err) {
      failures.push(failureOf(err, f.source.mirror, f.id));
    }
  }
  return { flushed, failures };
}

const opt = (v: string | boolean | null) => (v === null ? '-' : String(v));

/** One row per GitOps ref; pure. */
function toFlushRow(f: RefFlush): string[] {
  const r = f.result;
  return [
    f.follower,
    f.mirror,
    r.ref,
    r.action,
    shortSha(r.localSha),
    shortSha(r.upstreamSha),
    String(r.pushed),
    String(r.githubInSync),
    String(r.pendingFlush),
    opt(r.partialSuccess),
    opt(r.partialSuccessRecovered),
    r.postPushRecovery ? r.postPushRecovery.at : '-',
    r.message,
  ];
}

export function flushView(where: string, dryRun: boolean, out: Awaited<ReturnType<typeof localFlush>>): View {
  return {
    data: {
      stage: 'flush',
      local: true,
      dryRun,
      where,
      refs: out.flushed.map((f) => ({ follower: f.follower, mirror: f.mirror, ...f.result })),
      failures: out.failures,
    },
    human: [
      { line: `git-mirror flush --local: ${where}${dryRun ? ' (dry run: nothing was pushed or written)' : ''}` },
      {
        table: {
          headers: [
            'follower',
            'mirror',
            'ref',
            'action',
            'local',
            'upstream',
            'pushed',
            'github in sync',
            'pending flush',
            'partial success',
            'recovered',
            'post-push recovery',
            'message',
          ],
          rows: out.flushed.map(toFlushRow),
        },
      },
      ...failureLines(out.failures),
      {
        next: dryRun
          ? ['branch-follower git-mirror flush --local --confirm', 'branch-follower git-mirror status --local']
          : ['branch-follower git-mirror status --local'],
      },
    ],
  };
}
