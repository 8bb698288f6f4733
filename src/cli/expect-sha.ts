import { realClock } from '../../core/clock.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import type { FollowerConfig } from '../../core/config/schema.ts';
import { UsageError } from '../../core/errors.ts';
import type { MirrorPort, ShaServed } from '../../runner/index.ts';
import { namedFollower } from './follower-flag.ts';
import type { VerbContext } from './verb.ts';

// `--expect-sha <sha>` of run-once and status: the flag, its value, and the wait it runs before the verb
// does its own work (runner/expect-sha.ts), with the budget controller.expectSha declares.

/** The option run-once and status take. */
export const EXPECT_SHA_FLAG = [
  '--expect-sha <sha>',
  "first wait until the mirror serves this commit on the follower's branch, at its tip or under a descendant, " +
    'within controller.expectSha.waitSeconds (exit 5 naming the lag if it never does); needs --follower',
] as const;

const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** The --expect-sha value: a full commit sha (a prefix could name another commit), in lower case. */
export function expectedSha(text: string): string {
  const sha = text.toLowerCase();
  if (!FULL_SHA.test(sha))
    throw new UsageError(
      `--expect-sha "${text.slice(0, 80)}": must be a full commit sha, 40 hex characters (64 in a SHA-256 ` +
        'repository), as `git rev-parse HEAD` prints it',
    );
  return sha;
}

/** The one follower --expect-sha waits on: --follower, which must exist. */
export function expectedFollower(loaded: LoadedRegistry, id: string | undefined): FollowerConfig {
  if (id === undefined)
    throw new UsageError("--expect-sha waits on one follower's branch: name it with --follower <id>");
  return namedFollower(loaded, id);
}

/** Waits for the sha through `mirror`: syncing it from the upstream each time (`sync`), or reading it only (`read`). */
export async function awaitExpectedSha(
  ctx: VerbContext,
  loaded: LoadedRegistry,
  follower: FollowerConfig,
  sha: string,
  mirror: MirrorPort,
  look: 'sync' | 'read',
): Promise<ShaServed> {
  const { waitForSha } = await import('../../runner/index.ts');
  const c = loaded.registry.controller;
  return waitForSha({
    follower,
    sha,
    mirror,
    look,
    clock: realClock,
    budget: { ms: c.expectSha.waitSeconds * 1000, path: 'controller.expectSha.waitSeconds' },
    pollMs: c.expectSha.pollIntervalSeconds * 1000,
    heartbeatMs: c.progress.heartbeatSeconds * 1000,
    progress: (line) => ctx.progress(line),
  });
}

/** What -o json|yaml says of the wait. */
export function expectShaData(sha: string, served: ShaServed) {
  return { sha, tip: served.tip, servedAt: served.how, waitedSeconds: Math.round(served.waitedMs / 100) / 10 };
}
