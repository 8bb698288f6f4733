import type { Clock } from '../core/clock.ts';
import type { FollowerConfig } from '../core/config/schema.ts';
import { WaitTimeoutError } from '../core/errors.ts';
import { elapsedOf, Heartbeat } from '../core/heartbeat.ts';
import { shortSha } from '../core/output/sha.ts';
import type { MirrorPort } from './ports.ts';
import type { MirrorView } from './state-machine.ts';

// `--expect-sha <sha>`: a pipeline that just pushed waits until the mirror serves that commit on the
// follower's branch, at its tip or under a descendant of it, within controller.expectSha. The
// decision (what one look found) is pure; the wait around it looks through the mirror port, so that
// it runs on git and in memory alike.

/** What one look of the follower's branch found about the expected sha. */
export type ShaSeen =
  | { readonly kind: 'served'; readonly tip: string; readonly how: 'tip' | 'ancestor' }
  /** The branch does not hold it (yet); `checked` says whether its descendants could be asked about. */
  | { readonly kind: 'behind'; readonly tip: string | null; readonly checked: boolean }
  | { readonly kind: 'unreadable'; readonly error: string };

/**
 * The look's answer: the mirror's view of the branch, and (when the tip is another commit) whether the mirror cache
 * holds the sha under it (undefined: no cache here to ask).
 */
export function shaSeen(sha: string, view: MirrorView, ancestor: boolean | undefined): ShaSeen {
  if ('error' in view) return { kind: 'unreadable', error: view.error };
  if (view.tip === sha) return { kind: 'served', tip: view.tip, how: 'tip' };
  if (view.tip !== null && ancestor === true) return { kind: 'served', tip: view.tip, how: 'ancestor' };
  return { kind: 'behind', tip: view.tip, checked: ancestor !== undefined };
}

/** `mirror m serves <branch> at <tip>`, and what that means for the sha: one line of the wait. */
export function seenLine(f: FollowerConfig, sha: string, seen: ShaSeen): string {
  const where = `mirror ${f.source.mirror}, branch ${f.source.branch}`;
  if (seen.kind === 'unreadable') return `${where}: could not be read: ${seen.error}`;
  if (seen.kind === 'served')
    return seen.how === 'tip'
      ? `${where}: serves ${shortSha(sha)} at its tip`
      : `${where}: serves ${shortSha(sha)} under its tip ${shortSha(seen.tip)}, a descendant`;
  const tip = seen.tip === null ? 'has no such branch' : `is at ${shortSha(seen.tip)}`;
  const unchecked = seen.checked
    ? ''
    : ' (descendants not checked: no mirror cache here, so only the sha itself at the tip counts)';
  return `${where}: ${tip}, not ${shortSha(sha)} nor a descendant of it yet${unchecked}`;
}

/** How one look is made: a sync from the upstream then a look (a pass that acts), or a look only (reads only). */
export type ExpectShaLook = 'sync' | 'read';

export interface ExpectShaOptions {
  readonly follower: FollowerConfig;
  /** The full sha the caller expects. */
  readonly sha: string;
  readonly mirror: MirrorPort;
  readonly look: ExpectShaLook;
  readonly clock: Clock;
  /** How long, and the setting that said so (controller.expectSha.waitSeconds). */
  readonly budget: { readonly ms: number; readonly path: string };
  readonly pollMs: number;
  /** controller.progress.heartbeatSeconds, in ms. */
  readonly heartbeatMs: number;
  readonly progress: (line: string) => void;
}

export interface ShaServed {
  readonly tip: string;
  readonly how: 'tip' | 'ancestor';
  /** How long the wait took: the lag the caller saw, at most. */
  readonly waitedMs: number;
}

async function lookOnce(o: ExpectShaOptions): Promise<ShaSeen> {
  const f = o.follower;
  let view: MirrorView;
  if (o.look === 'sync') {
    const r = await o.mirror.syncThenObserve([f.source.mirror], [f]);
    const synced = r.synced.get(f.source.mirror);
    view = synced && 'error' in synced ? { error: `sync: ${synced.error}` } : r.views.get(f.id)!;
  } else {
    view = (await o.mirror.observe([f])).get(f.id)!;
  }
  const ancestor =
    'error' in view || view.tip === null || view.tip === o.sha
      ? false
      : await o.mirror.isAncestor(f.source.mirror, o.sha, view.tip);
  return shaSeen(o.sha, view, ancestor);
}

/**
 * Looks every `pollMs` until the mirror serves the sha on the follower's branch; a line whenever what it sees changes,
 * a heartbeat while nothing does. Rejects with WaitTimeoutError naming the lag when the budget ends first.
 */
export async function waitForSha(o: ExpectShaOptions): Promise<ShaServed> {
  const { clock, budget } = o;
  const start = clock.now();
  const heartbeat = new Heartbeat(clock, o.heartbeatMs, o.progress);
  let said = '';
  for (;;) {
    const seen = await lookOnce(o);
    const waited = clock.now() - start;
    const line = seenLine(o.follower, o.sha, seen);
    if (seen.kind === 'served') {
      o.progress(`expect-sha: ${line} (after ${Math.round(waited / 1000)}s)`);
      return { tip: seen.tip, how: seen.how, waitedMs: waited };
    }
    if (line !== said) {
      o.progress(`expect-sha: ${line}; waiting ${elapsedOf(waited, budget)}`);
      heartbeat.beat();
      said = line;
    }
    if (waited >= budget.ms)
      throw new WaitTimeoutError(
        `--expect-sha ${o.sha}: the mirror lags by more than ${Math.round(waited / 1000)}s (${budget.path}): ` +
          `${line}. Check that the push reached the upstream, then \`branch-follower git-mirror status\``,
      );
    await heartbeat.sleep(
      Math.min(o.pollMs, budget.ms - waited),
      () => `still waiting: ${elapsedOf(clock.now() - start, budget)} for ${shortSha(o.sha)}; ${line}`,
    );
  }
}
