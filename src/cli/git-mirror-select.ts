import { resolve } from 'node:path';
import type { StageMounts } from '../../runner/index.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import type { FollowerConfig, MirrorConfig } from '../../core/config/schema.ts';
import { UsageError, type BranchFollowerError } from '../../core/errors.ts';
import { namedFollower } from './follower-flag.ts';

/** Every flag a git-mirror stage verb may get (status has no --dry-run, --confirm or --wait). */
export interface StageFlags {
  mirror?: string;
  follower?: string;
  dryRun?: boolean;
  confirm?: boolean;
  wait?: boolean;
  /** With --wait: the Job's budget for this run instead of controller.gitMirror.stageJob.waitSeconds. */
  timeout?: string;
  local?: boolean;
  mirrorDir?: string;
  sshDir?: string;
}

/** What one stage run works on: the mirrors, and the followers (branches, GitOps refs) in them. */
export interface StageSelection {
  readonly mirrors: readonly MirrorConfig[];
  readonly followers: readonly FollowerConfig[];
}

function usage(message: string): BranchFollowerError {
  return new UsageError(message);
}

/** Refuses flag combinations that cannot mean anything, naming the flag and the way out. */
export function checkFlags(flags: StageFlags): void {
  if (flags.mirrorDir !== undefined && !flags.local)
    throw usage('--mirror-dir needs --local: without it the stage runs as a Job on the mounted claim');
  if (flags.sshDir !== undefined && !flags.local)
    throw usage('--ssh-dir needs --local: without it the stage Job mounts the githubSsh Secret itself');
  if (flags.dryRun && flags.confirm) throw usage('choose --dry-run or --confirm, not both');
  if (flags.wait && flags.local)
    throw usage(
      '--wait follows a stage Job; with --local the stage runs in this process and is done when the command ends',
    );
  if (flags.wait && !flags.confirm) throw usage('--wait follows the Job that --confirm creates: add --confirm');
  if (flags.timeout !== undefined && !flags.wait) throw usage('--timeout is the budget of --wait: it needs --wait');
}

// --mirror narrows to one mirror, --follower to one follower (and so its mirror); by default every
// mirror a follower uses, with every follower in it. An unknown id lists the declared ones.
export function selectStage(loaded: LoadedRegistry, flags: Pick<StageFlags, 'mirror' | 'follower'>): StageSelection {
  const { mirrors, followers } = loaded.registry;
  const used = new Set(followers.map((f) => f.source.mirror));
  let mirror: MirrorConfig | undefined;
  if (flags.mirror !== undefined) {
    mirror = mirrors.find((m) => m.id === flags.mirror);
    if (!mirror)
      throw usage(
        `--mirror: no mirror "${flags.mirror}" in ${loaded.file} (mirrors: ${mirrors.map((m) => m.id).join(', ')})`,
      );
    if (!used.has(mirror.id))
      throw usage(
        `--mirror: no follower uses mirror "${mirror.id}", so it has no branch to work on (mirrors with followers: ` +
          `${[...used].join(', ')})`,
      );
  }
  if (flags.follower !== undefined) {
    const f = namedFollower(loaded, flags.follower);
    if (mirror && f.source.mirror !== mirror.id)
      throw usage(`--follower ${f.id} is followed through mirror "${f.source.mirror}", not --mirror ${mirror.id}`);
    return { mirrors: mirrors.filter((m) => m.id === f.source.mirror), followers: [f] };
  }
  const chosen = mirrors.filter((m) => (mirror ? m.id === mirror.id : used.has(m.id)));
  const ids = new Set(chosen.map((m) => m.id));
  return { mirrors: chosen, followers: followers.filter((f) => ids.has(f.source.mirror)) };
}

/** The directories a --local stage uses: the flags, else the paths the pod mounts them at. */
export function localMounts(
  loaded: LoadedRegistry,
  flags: Pick<StageFlags, 'mirrorDir' | 'sshDir'>,
  cwd: string,
): StageMounts {
  const g = loaded.registry.controller.gitMirror;
  return {
    mirrorRoot: resolve(cwd, flags.mirrorDir ?? g.mountPath),
    sshRoot: resolve(cwd, flags.sshDir ?? g.sshMountPath),
  };
}
