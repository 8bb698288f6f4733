import { describe, expect, it } from 'vitest';
import { GitMirrorError, GitMirrorReason } from '../../runner/git-mirror/errors.ts';
import {
  checkName,
  flushPlan,
  mirrorStageRef,
  stagePlan,
  type SnapshotTarget,
} from '../../runner/git-mirror/stage-plan.ts';
import { movedBranches, settled, snapshotTransaction } from '../../runner/git-mirror/ref-transaction.ts';
import { snapshotRefName } from '../../runner/observe/snapshot-ref.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

const up = (entries: Record<string, string>) =>
  new Map(Object.entries(entries).map(([b, s]) => [`refs/heads/${b}`, s]));
const refs = (entries: Record<string, string>) => new Map(Object.entries(entries));

function plan(
  mirror: Record<string, string>,
  upstream: Record<string, string>,
  branches: string[],
  snapshots: SnapshotTarget[] = [],
) {
  return stagePlan({ mirrorRefs: refs(mirror), upstreamRefs: up(upstream), branches, snapshots });
}

function thrown(fn: () => unknown): GitMirrorError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(GitMirrorError);
    return error as GitMirrorError;
  }
  throw new Error('expected a GitMirrorError');
}

describe('stagePlan: mirror-stage refs', () => {
  it('a branch never synced goes from null to the upstream tip', () => {
    expect(plan({}, { main: A }, ['main']).fetched).toEqual([
      { branch: 'main', ref: 'refs/mirror-stage/main', from: null, to: A },
    ]);
  });

  it('an unchanged branch goes from its sha to the same sha', () => {
    expect(plan({ 'refs/mirror-stage/main': A }, { main: A }, ['main']).fetched).toEqual([
      { branch: 'main', ref: 'refs/mirror-stage/main', from: A, to: A },
    ]);
  });

  it('a moved or rewritten branch goes from the old sha to the new one', () => {
    expect(plan({ 'refs/mirror-stage/main': A }, { main: B }, ['main']).fetched[0]).toMatchObject({ from: A, to: B });
  });

  it('only declared branches are planned, once each, in declaration order', () => {
    const p = plan({}, { main: A, other: B, 'release/v0.3': C }, ['release/v0.3', 'main', 'main']);
    expect(p.fetched.map((f) => f.branch)).toEqual(['release/v0.3', 'main']);
    expect(p.fetched[0]!.ref).toBe('refs/mirror-stage/release/v0.3');
  });

  it('a declared branch missing upstream is refused before anything is written', () => {
    const e = thrown(() => plan({}, { main: A }, ['main', 'gone']));
    expect(e.reason).toBe(GitMirrorReason.BranchMissing);
    expect(e.message).toContain('refs/heads/gone');
    expect(e.retryable).toBe(false);
  });
});

describe('stagePlan: snapshot refs', () => {
  const snap = snapshotRefName('hwlab-node-runtime', 'main', A);

  it('a snapshot absent for the tip is created', () => {
    expect(plan({}, { main: A }, ['main'], [{ adapter: 'hwlab-node-runtime', branch: 'main' }]).snapshots).toEqual([
      { adapter: 'hwlab-node-runtime', branch: 'main', ref: snap, sha: A, action: 'create' },
    ]);
  });

  it('a snapshot present with the same sha is a no-op', () => {
    expect(
      plan({ [snap]: A }, { main: A }, ['main'], [{ adapter: 'hwlab-node-runtime', branch: 'main' }]).snapshots[0]!
        .action,
    ).toBe('exists');
  });

  it('a snapshot present with another sha is an error naming the ref and both shas, never a move', () => {
    const e = thrown(() =>
      plan({ [snap]: B }, { main: A }, ['main'], [{ adapter: 'hwlab-node-runtime', branch: 'main' }]),
    );
    expect(e.reason).toBe(GitMirrorReason.SnapshotMoved);
    expect(e).toMatchObject({ ref: snap, existingSha: B, newSha: A });
    expect(e.message).toContain(snap);
    expect(e.message).toContain(B);
    expect(e.message).toContain(A);
  });

  it('snapshots of older tips do not matter: the new tip gets its own ref', () => {
    const old = snapshotRefName('x', 'main', A);
    const p = plan(
      { [old]: A, 'refs/mirror-stage/main': A },
      { main: B },
      ['main'],
      [{ adapter: 'x', branch: 'main' }],
    );
    expect(p.snapshots).toEqual([
      { adapter: 'x', branch: 'main', ref: snapshotRefName('x', 'main', B), sha: B, action: 'create' },
    ]);
  });

  it('each follower (adapter, branch) gets its own snapshot; duplicates collapse', () => {
    const p = plan(
      {},
      { main: A, dev: B },
      ['main', 'dev'],
      [
        { adapter: 'x', branch: 'main' },
        { adapter: 'y', branch: 'main' },
        { adapter: 'x', branch: 'dev' },
        { adapter: 'x', branch: 'main' },
      ],
    );
    expect(p.snapshots.map((s) => s.ref)).toEqual([
      snapshotRefName('x', 'main', A),
      snapshotRefName('y', 'main', A),
      snapshotRefName('x', 'dev', B),
    ]);
  });

  it('a snapshot for an undeclared branch is refused', () => {
    expect(thrown(() => plan({}, { main: A, dev: B }, ['main'], [{ adapter: 'x', branch: 'dev' }])).message).toMatch(
      /not a declared branch/,
    );
  });
});

describe('what a sync still has to do', () => {
  const x = { adapter: 'x', branch: 'main' };
  const y = { adapter: 'y', branch: 'dev' };
  const stage = { 'refs/mirror-stage/main': A, 'refs/mirror-stage/dev': B };

  it('branches at the upstream tips and every snapshot present: settled, nothing to fetch or write', () => {
    const p = plan(
      { ...stage, [snapshotRefName('x', 'main', A)]: A, [snapshotRefName('y', 'dev', B)]: B },
      { main: A, dev: B },
      ['main', 'dev'],
      [x, y],
    );
    expect(settled(p)).toBe(true);
    expect(movedBranches(p)).toEqual([]);
  });

  it('a missing snapshot on an unmoved branch is not settled, yet nothing is fetched', () => {
    const p = plan({ ...stage, [snapshotRefName('x', 'main', A)]: A }, { main: A, dev: B }, ['main', 'dev'], [x, y]);
    expect(settled(p)).toBe(false);
    expect(movedBranches(p)).toEqual([]);
  });

  it('only the branches that moved, or were never fetched, are fetched', () => {
    const p = plan({ 'refs/mirror-stage/main': A }, { main: C, dev: B }, ['main', 'dev'], [x, y]);
    expect(settled(p)).toBe(false);
    expect(movedBranches(p).map((b) => [b.branch, b.from, b.to])).toEqual([
      ['main', A, C],
      ['dev', null, B],
    ]);
  });

  it('the transaction verifies every mirror-stage ref and creates each new snapshot, in one start/commit', () => {
    const p = plan(
      { 'refs/mirror-stage/main': A, [snapshotRefName('x', 'main', C)]: C },
      { main: C, dev: B },
      ['main', 'dev'],
      [x, { adapter: 'z', branch: 'main' }, y],
    );
    expect(snapshotTransaction(p, { withVerify: true }).split('\n')).toEqual([
      'start',
      `verify refs/mirror-stage/main ${C}`,
      `verify refs/mirror-stage/dev ${B}`,
      `create ${snapshotRefName('z', 'main', C)} ${C}`,
      `create ${snapshotRefName('y', 'dev', B)} ${B}`,
      'commit',
      '',
    ]);
    expect(snapshotTransaction(p, { withVerify: false })).toBe(
      `start\ncreate ${snapshotRefName('z', 'main', C)} ${C}\ncreate ${snapshotRefName('y', 'dev', B)} ${B}\ncommit\n`,
    );
  });
});

describe('names that would change a refspec or a ref are refused', () => {
  it.each([
    '',
    'a:b',
    '+main',
    '-main',
    'a..b',
    'a b',
    'a*',
    'a/',
    '/a',
    'a//b',
    'x.lock',
    '.hidden',
    'a@{1}',
    'a~1',
    'a^',
  ])('branch %j', (name) => {
    expect(thrown(() => mirrorStageRef(name)).reason).toBe(GitMirrorReason.InvalidName);
  });

  it('adapters may not contain a slash', () => {
    expect(() => checkName('adapter', 'a/b', false)).toThrow(GitMirrorError);
    expect(() => checkName('adapter', 'hwlab-node-runtime', false)).not.toThrow();
  });

  it('ordinary branch names pass', () => {
    for (const b of ['main', 'v0.3', 'release/v0.3', 'feature/a_b-c'])
      expect(mirrorStageRef(b)).toBe(`refs/mirror-stage/${b}`);
  });
});

describe('flushPlan', () => {
  it.each([
    // local, upstream, isAncestor, expected
    [A, A, false, 'up-to-date'],
    [A, A, true, 'up-to-date'],
    [A, null, false, 'fast-forward'],
    [A, null, true, 'fast-forward'],
    [A, B, true, 'fast-forward'],
    [A, B, false, 'non-fast-forward'],
  ] as const)('local %s upstream %s ancestor %s → %s', (local, upstream, ancestor, expected) => {
    expect(flushPlan(local, upstream, ancestor)).toBe(expected);
  });
});
