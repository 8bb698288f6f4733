import { describe, expect, it } from 'vitest';
import { GitMirrorError, GitMirrorReason } from '../../runner/git-mirror/errors.ts';
import {
  confirmedRefs,
  flushTargets,
  needsPush,
  parsePushPorcelain,
  pushedResult,
  pushVerdict,
  recordTransaction,
  refPlans,
  unpushedResult,
  type FlushResult,
  type RefFlush,
  type RefPlan,
} from '../../runner/git-mirror/flush-plan.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const URL = 'ssh://git@example.invalid/o/r.git';

const plan = (name: string, localSha: string, upstreamBefore: string | null): RefPlan => ({
  ref: `refs/heads/gitops/${name}`,
  branch: `gitops/${name}`,
  localSha,
  upstreamBefore,
});

function asError(r: unknown): GitMirrorError {
  expect(r).toBeInstanceOf(GitMirrorError);
  return r as GitMirrorError;
}

function asResult(r: RefFlush | 'pushed'): FlushResult {
  expect(r).not.toBeInstanceOf(GitMirrorError);
  expect(r).not.toBe('pushed');
  return r as FlushResult;
}

describe('flushTargets', () => {
  it('keeps each ref once, in order, and refuses one that is not refs/heads/<safe branch> alone', () => {
    const t = flushTargets([
      'refs/heads/gitops/a',
      'refs/tags/v1',
      'refs/heads/gitops/b',
      'refs/heads/gitops/a',
      'refs/heads/-x',
    ]);
    expect(t.targets).toEqual([
      { ref: 'refs/heads/gitops/a', branch: 'gitops/a' },
      { ref: 'refs/heads/gitops/b', branch: 'gitops/b' },
    ]);
    expect([...t.refused.keys()]).toEqual(['refs/tags/v1', 'refs/heads/-x']);
    for (const e of t.refused.values()) expect(e.reason).toBe(GitMirrorReason.InvalidName);
  });
});

describe('refPlans', () => {
  it('plans each ref the cache holds with what the upstream holds, and refuses one the cache does not hold', () => {
    const targets = ['a', 'b', 'c'].map((n) => ({ ref: `refs/heads/gitops/${n}`, branch: `gitops/${n}` }));
    const plans = refPlans(
      targets,
      {
        mirrorRefs: new Map([
          ['refs/heads/gitops/a', A],
          ['refs/heads/gitops/c', C],
        ]),
        upstreamRefs: new Map([['refs/heads/gitops/a', B]]),
      },
      '/cache/r.git',
    );
    expect(plans[0]).toEqual(plan('a', A, B));
    const missing = asError(plans[1]);
    expect(missing).toMatchObject({ reason: GitMirrorReason.Cache, ref: 'refs/heads/gitops/b' });
    expect(missing.message).toContain('the mirror cache /cache/r.git has no refs/heads/gitops/b');
    expect(plans[2]).toEqual(plan('c', C, null));
  });

  it('needsPush: only a ref whose upstream is absent or holds another commit', () => {
    expect(needsPush(plan('a', A, A))).toBe(false);
    expect(needsPush(plan('a', A, B))).toBe(true);
    expect(needsPush(plan('a', A, null))).toBe(true);
  });
});

describe('unpushedResult', () => {
  it('an equal upstream is up to date and in sync, in a dry run or not', () => {
    for (const dryRun of [true, false]) {
      expect(asResult(unpushedResult(plan('a', A, A), dryRun, false))).toEqual({
        dryRun,
        ref: 'refs/heads/gitops/a',
        action: 'up-to-date',
        localSha: A,
        upstreamBefore: A,
        partialSuccess: null,
        partialSuccessRecovered: null,
        postPushRecovery: null,
        ok: true,
        pushed: false,
        upstreamSha: A,
        githubInSync: true,
        pendingFlush: false,
        message: `refs/heads/gitops/a is up to date upstream at ${A}`,
      });
    }
  });

  it.each([
    // upstream, ancestor, message
    [null, false, `would fast-forward refs/heads/gitops/a upstream (absent) -> ${A}`],
    [B, true, `would fast-forward refs/heads/gitops/a upstream ${B} -> ${A}`],
  ])('a dry run of a fast-forward from %s says it would, and is pending', (upstream, ancestor, message) => {
    expect(asResult(unpushedResult(plan('a', A, upstream), true, ancestor))).toMatchObject({
      dryRun: true,
      action: 'fast-forward',
      ok: false,
      pushed: false,
      upstreamSha: upstream,
      githubInSync: false,
      pendingFlush: true,
      message,
    });
  });

  it('a dry run of a non-fast-forward is the refusal itself', () => {
    const e = asError(unpushedResult(plan('a', A, B), true, false));
    expect(e).toMatchObject({ reason: GitMirrorReason.NonFastForward, existingSha: B, newSha: A, retryable: false });
    expect(e.message).toMatch(/never forced; nothing was pushed/);
  });
});

// What `git push --porcelain` printed for five refs of one mirror (git 2.39), refused ones last.
const PORCELAIN = [
  'To file:///srv/up.git',
  '=\trefs/heads/gitops/a:refs/heads/gitops/a\t[up to date]',
  ' \trefs/heads/gitops/b:refs/heads/gitops/b\t2a95cba..214f273',
  '*\trefs/heads/gitops/e:refs/heads/gitops/e\t[new branch]',
  '!\trefs/heads/gitops/c:refs/heads/gitops/c\t[rejected] (non-fast-forward)',
  '!\trefs/heads/gitops/d:refs/heads/gitops/d\t[rejected] (fetch first)',
  'Done',
].join('\n');

describe('parsePushPorcelain and pushVerdict', () => {
  const lines = parsePushPorcelain(PORCELAIN);
  const failure = { detail: 'failed to push some refs', cause: new Error('exit 1') };

  it('reads one status line per destination ref and nothing else', () => {
    expect([...lines.keys()].sort()).toEqual(['a', 'b', 'c', 'd', 'e'].map((n) => `refs/heads/gitops/${n}`));
    expect(lines.get('refs/heads/gitops/b')).toEqual({
      flag: ' ',
      line: ' \trefs/heads/gitops/b:refs/heads/gitops/b\t2a95cba..214f273',
    });
  });

  it.each(['a', 'b', 'e'])('ref %s, taken by the upstream, is pushed even though the push as a whole failed', (n) => {
    expect(pushVerdict(plan(n, A, B), lines, failure, URL)).toBe('pushed');
  });

  it.each(['c', 'd'])('ref %s, refused as not a fast-forward, fails alone as a non-fast-forward', (n) => {
    const e = asError(pushVerdict(plan(n, A, B), lines, failure, URL));
    expect(e).toMatchObject({ reason: GitMirrorReason.NonFastForward, ref: `refs/heads/gitops/${n}`, existingSha: B });
  });

  it('an upstream that moved under the push (stale info) is a non-fast-forward too', () => {
    const stale = parsePushPorcelain('!\trefs/heads/gitops/a:refs/heads/gitops/a\t[rejected] (stale info)');
    const e = asError(pushVerdict(plan('a', A, null), stale, failure, URL));
    expect(e).toMatchObject({ reason: GitMirrorReason.NonFastForward, existingSha: '(moved since it was read)' });
  });

  it('a ref the upstream rejected for another reason is an upstream failure naming its line', () => {
    const hook = '!\trefs/heads/gitops/a:refs/heads/gitops/a\t[remote rejected] (hook declined)';
    const e = asError(pushVerdict(plan('a', A, B), parsePushPorcelain(hook), failure, URL));
    expect(e).toMatchObject({ reason: GitMirrorReason.Upstream, retryable: true, detail: failure.detail });
    expect(e.message).toContain(`git-mirror push of refs/heads/gitops/a to ${URL} failed: ${hook}.`);
    expect(e.cause).toBe(failure.cause);
  });

  it('a ref without a status line (the push never got that far) is an upstream failure with git’s reason', () => {
    const e = asError(pushVerdict(plan('f', A, B), new Map(), { detail: 'Connection refused', cause: null }, URL));
    expect(e).toMatchObject({ reason: GitMirrorReason.Upstream, detail: 'Connection refused' });
    expect(e.message).toContain('failed: Connection refused. Check the declared upstream transport');
    const silent = asError(pushVerdict(plan('f', A, B), new Map(), null, URL));
    expect(silent.detail).toBe('git push printed no status for this ref');
  });
});

describe('pushedResult', () => {
  const p = plan('a', A, B);
  const at = '2026-01-01T00:00:00.000Z';

  it('a recheck that reads the pushed commit is in sync', () => {
    expect(pushedResult(p, { read: new Map([[p.ref, A]]) })).toEqual({
      dryRun: false,
      ref: p.ref,
      action: 'fast-forward',
      localSha: A,
      upstreamBefore: B,
      partialSuccess: null,
      partialSuccessRecovered: null,
      postPushRecovery: null,
      pushed: true,
      ok: true,
      upstreamSha: A,
      githubInSync: true,
      pendingFlush: false,
      message: `fast-forwarded ${p.ref} upstream to ${A}`,
    });
  });

  it.each([
    [C, C],
    [undefined, null],
  ])('a recheck that reads %s instead stays pending and names the sync command', (read, upstreamSha) => {
    const r = pushedResult(p, { read: new Map(read === undefined ? [] : [[p.ref, read]]) });
    expect(r).toMatchObject({ ok: false, pushed: true, upstreamSha, githubInSync: false, pendingFlush: true });
    expect(r.message).toContain('branch-follower git-mirror sync --confirm --wait');
  });

  it('a failed recheck that the controlled recheck recovers is a recovered partial success', () => {
    const r = pushedResult(p, { failed: 'timeout', recovery: { read: new Map([[p.ref, A]]), at } });
    expect(r).toMatchObject({
      ok: true,
      partialSuccess: 'push-succeeded-fetch-failed',
      partialSuccessRecovered: true,
      postPushRecovery: { at, attempts: 1 },
      githubInSync: true,
      pendingFlush: false,
      upstreamSha: A,
    });
  });

  it('a recovery that reads another commit is a partial success not recovered', () => {
    const r = pushedResult(p, { failed: 'timeout', recovery: { read: new Map([[p.ref, C]]), at } });
    expect(r).toMatchObject({
      ok: false,
      partialSuccessRecovered: false,
      postPushRecovery: { at },
      pendingFlush: true,
    });
  });

  it('two failed rechecks leave the upstream unconfirmed and say both reasons', () => {
    const r = pushedResult(p, { failed: 'first reason', recovery: { failed: 'second reason' } });
    expect(r).toMatchObject({
      ok: false,
      pushed: true,
      partialSuccess: 'push-succeeded-fetch-failed',
      partialSuccessRecovered: false,
      postPushRecovery: null,
      upstreamSha: null,
      githubInSync: false,
      pendingFlush: true,
    });
    expect(r.message).toContain('failed twice (first reason; then second reason)');
  });
});

describe('confirmedRefs and recordTransaction', () => {
  it('records exactly the refs confirmed upstream outside a dry run, all in one transaction', () => {
    const same = plan('same', A, A);
    const pushed = plan('pushed', B, A);
    const pending = plan('pending', C, A);
    const refused = plan('refused', C, B);
    const dry = plan('dry', A, A);
    const results = new Map<string, RefFlush>([
      [same.ref, unpushedResult(same, false, false)],
      [pushed.ref, pushedResult(pushed, { read: new Map([[pushed.ref, B]]) })],
      [pending.ref, pushedResult(pending, { failed: 'x', recovery: { failed: 'y' } })],
      [refused.ref, new GitMirrorError('refused', { reason: GitMirrorReason.NonFastForward })],
      [dry.ref, unpushedResult(dry, true, false)],
    ]);
    const confirmed = confirmedRefs([same, pushed, pending, refused, dry, plan('unknown', A, A)], results);
    expect(confirmed).toEqual([same, pushed]);
    expect(recordTransaction(confirmed)).toBe(
      `start\nupdate refs/mirror-stage/gitops/same ${A}\nupdate refs/mirror-stage/gitops/pushed ${B}\ncommit\n`,
    );
  });
});
