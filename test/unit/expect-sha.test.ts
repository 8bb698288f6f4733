import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../core/config/load.ts';
import { WaitTimeoutError } from '../../core/errors.ts';
import { seenLine, shaSeen, waitForSha, type ExpectShaLook } from '../../runner/expect-sha.ts';
import type { CallHook, PortCall } from '../../runner/memory/hook.ts';
import { MemoryWorld, shaOf } from '../../runner/memory/world.ts';
import { expectedSha } from '../../src/cli/expect-sha.ts';

// --expect-sha: what one look decides, and the wait around it on the in-memory mirror with a fake clock.

const ROOT = join(import.meta.dirname, '../..');
const loaded = loadRegistry(join(ROOT, 'config/cicd-branch-followers.yaml'), ROOT);
const f = loaded.registry.followers[0]!;
const gitops = { ref: 'refs/heads/gitops/x', pendingFlush: false, githubInSync: true };
const view = (tip: string | null) => ({ tip, snapshotRef: '', snapshotPresent: false, gitops });

describe('what one look decides', () => {
  const sha = shaOf('expected');
  it('the tip itself, or a descendant the cache says holds it, is served', () => {
    expect(shaSeen(sha, view(sha), false)).toEqual({ kind: 'served', tip: sha, how: 'tip' });
    expect(shaSeen(sha, view(shaOf('child')), true)).toEqual({ kind: 'served', tip: shaOf('child'), how: 'ancestor' });
  });
  it('another tip is behind, and says whether descendants could be asked; an unreadable mirror is its error', () => {
    expect(shaSeen(sha, view(shaOf('old')), false)).toEqual({ kind: 'behind', tip: shaOf('old'), checked: true });
    expect(shaSeen(sha, view(shaOf('old')), undefined)).toEqual({ kind: 'behind', tip: shaOf('old'), checked: false });
    expect(shaSeen(sha, view(null), false)).toEqual({ kind: 'behind', tip: null, checked: true });
    expect(shaSeen(sha, { error: 'unreachable' }, undefined)).toEqual({ kind: 'unreadable', error: 'unreachable' });
  });
  it('the line names the mirror, the branch, the tip and the sha, and says when descendants were not checked', () => {
    const behind = seenLine(f, sha, { kind: 'behind', tip: shaOf('old'), checked: false });
    expect(behind).toContain(`mirror ${f.source.mirror}, branch ${f.source.branch}`);
    expect(behind).toContain(`is at ${shaOf('old').slice(0, 12)}, not ${sha.slice(0, 12)}`);
    expect(behind).toContain('descendants not checked');
    expect(seenLine(f, sha, { kind: 'behind', tip: null, checked: true })).toContain('has no such branch');
  });
  it('only a full sha is taken, in lower case', () => {
    expect(expectedSha('A'.repeat(40))).toBe('a'.repeat(40));
    expect(expectedSha('b'.repeat(64))).toBe('b'.repeat(64));
    for (const bad of ['abc1234', 'g'.repeat(40), `${'a'.repeat(40)} `, '-'.repeat(40)])
      expect(() => expectedSha(bad)).toThrow(/--expect-sha .*full commit sha, 40 hex/);
  });
});

/** A memory world with a fake clock; `at(ms, fn)` runs fn once the clock passes ms. */
function world() {
  let t = Date.parse('2026-01-01T00:00:00.000Z');
  const start = t;
  const due: { at: number; fn: () => void }[] = [];
  const clock = {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
      for (const d of due.splice(0).sort((a, b) => a.at - b.at))
        if (t - start >= d.at) d.fn();
        else due.push(d);
    },
  };
  const w = new MemoryWorld(loaded, clock.now);
  const calls: PortCall[] = [];
  const hook: CallHook = {
    async around<T>(call: PortCall, effect: () => T) {
      calls.push(call);
      return effect();
    },
  };
  const lines: string[] = [];
  const wait = (sha: string, look: ExpectShaLook) =>
    waitForSha({
      follower: f,
      sha,
      mirror: w.ports(clock, hook).mirror,
      look,
      clock,
      budget: { ms: 60_000, path: 'controller.expectSha.waitSeconds' },
      pollMs: 5_000,
      heartbeatMs: 10_000,
      progress: (line) => lines.push(`${Math.round((t - start) / 1000)}s ${line}`),
    });
  return { w, calls, lines, wait, at: (ms: number, fn: () => void) => due.push({ at: ms, fn }) };
}

describe('waiting for a sha', () => {
  it('a push the upstream gets 12 s later is served at the next sync, about 15 s in, and said so', async () => {
    const x = world();
    x.w.mirror.push(f.source.mirror, f.source.branch, shaOf('before'));
    x.at(12_000, () => x.w.mirror.push(f.source.mirror, f.source.branch, shaOf('pushed')));
    const served = await x.wait(shaOf('pushed'), 'sync');
    expect(served).toEqual({ tip: shaOf('pushed'), how: 'tip', waitedMs: 15_000 });
    expect(x.lines[0]).toMatch(/^0s expect-sha: .* is at [0-9a-f]{12}, not [0-9a-f]{12} .*waiting 0s of 60s/);
    expect(x.lines.at(-1)).toMatch(/^15s expect-sha: .*serves [0-9a-f]{12} at its tip \(after 15s\)/);
    // A heartbeat in between: nothing else was said for 10 s.
    expect(x.lines.some((l) => l.startsWith('10s still waiting: 10s of 60s'))).toBe(true);
    // Each look synced: one sync, one look of the mirror, every 5 s.
    expect(x.calls.filter((c) => c.method === 'sync')).toHaveLength(4);
  });

  it('a descendant of the sha at the tip counts, once the cache holds it', async () => {
    const x = world();
    x.w.mirror.push(f.source.mirror, f.source.branch, shaOf('pushed'));
    x.w.mirror.push(f.source.mirror, f.source.branch, shaOf('next'));
    const served = await x.wait(shaOf('pushed'), 'sync');
    expect(served).toMatchObject({ tip: shaOf('next'), how: 'ancestor', waitedMs: 0 });
  });

  it('reading only never syncs: the upstream moved, the mirror did not, and the wait ends naming the lag', async () => {
    const x = world();
    x.w.mirror.push(f.source.mirror, f.source.branch, shaOf('pushed'));
    const err = await x.wait(shaOf('pushed'), 'read').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WaitTimeoutError);
    expect((err as Error).message).toMatch(
      /^--expect-sha [0-9a-f]{40}: the mirror lags by more than 60s \(controller\.expectSha\.waitSeconds\): mirror .* has no such branch/,
    );
    expect(x.calls.some((c) => c.writes)).toBe(false);
    // 60 s at 5 s: 13 looks, no more.
    expect(x.calls.filter((c) => c.method === 'observe')).toHaveLength(13);
  });

  it('a sibling commit (not under the tip) is never served', async () => {
    const x = world();
    x.w.mirror.push(f.source.mirror, f.source.branch, shaOf('base'));
    x.w.mirror.syncOne(f.source.mirror);
    // Another branch of the same mirror holds the sibling; the follower's branch never gets it.
    x.w.mirror.push(f.source.mirror, 'elsewhere', shaOf('sibling'));
    x.w.mirror.syncOne(f.source.mirror);
    await expect(x.wait(shaOf('sibling'), 'sync')).rejects.toThrow(/lags by more than 60s/);
  });
});
