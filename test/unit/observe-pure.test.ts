import { ExitCode, exitCodeOf } from '../../src/cli/exit-codes.ts';
import { describe, expect, it } from 'vitest';
import { MIRROR_STAGE_PREFIX as PLAN_MIRROR_STAGE_PREFIX } from '../../runner/git-mirror/stage-plan.ts';
import { parseLsRemote } from '../../core/git/ls-remote.ts';
import { LS_REMOTE_PATTERNS } from '../../runner/observe/read-mirror.ts';
import { MirrorError } from '../../runner/observe/mirror-error.ts';
import {
  followerObservations,
  gitopsObserved,
  MIRROR_STAGE_PREFIX,
  mirrorReads,
  type GitopsObserved,
  type LsRemoteResult,
  type ObservedRegistry,
} from '../../runner/observe/observation.ts';
import { SNAPSHOT_REF_PREFIX, snapshotRefName } from '../../runner/observe/snapshot-ref.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const T = 'd'.repeat(40);
/** GitOps commits (the control plane's, never a source sha). */
const G = 'e'.repeat(40);
const H = 'f'.repeat(40);

const HWLAB_URL = 'git://git-mirror.example/pikasTech/HWLAB.git';
const UNIDESK_URL = 'git://git-mirror.example/pikasTech/unidesk.git';

const registry: ObservedRegistry = {
  mirrors: [
    { id: 'hwlab', url: HWLAB_URL },
    { id: 'agentrun', url: 'git://git-mirror.example/pikasTech/agentrun.git' },
    { id: 'unidesk', url: UNIDESK_URL },
  ],
  followers: [
    {
      id: 'hwlab-v03',
      adapter: 'hwlab-node-runtime',
      source: { repo: 'pikasTech/HWLAB', branch: 'v0.3', mirror: 'hwlab' },
    },
    {
      id: 'hwlab-v02',
      adapter: 'hwlab-other',
      source: { repo: 'pikasTech/HWLAB', branch: 'release/v0.2', mirror: 'hwlab' },
    },
    {
      id: 'sentinel',
      adapter: 'web-probe',
      source: { repo: 'pikasTech/unidesk', branch: 'master', mirror: 'unidesk' },
    },
  ],
};

/** Each follower's GitOps ref (its target entry's gitopsRef). */
const GITOPS_REFS: ReadonlyMap<string, string> = new Map([
  ['hwlab-v03', 'refs/heads/gitops/jd01-v03'],
  ['hwlab-v02', 'refs/heads/gitops/jd01-v02'],
  ['sentinel', 'refs/heads/gitops/jd01-sentinel'],
]);
/** Where git-mirror sync keeps the mirror cache's copy of `branch` (the tip observation reads). */
const stage = (branch: string) => `refs/mirror-stage/${branch}`;
/** Nothing published into the GitOps ref, and nothing cached of it. */
const unpublished = (ref: string): GitopsObserved => ({
  ref,
  sha: null,
  cacheSha: null,
  pendingFlush: false,
  githubInSync: false,
});
const observeAll = (results: ReadonlyMap<string, LsRemoteResult>) =>
  followerObservations(registry, results, GITOPS_REFS);

describe('snapshotRefName', () => {
  it('spells refs/unidesk/snapshots/<adapter>/<branch>/<commit>', () => {
    expect(snapshotRefName('hwlab-node-runtime', 'v0.3', A)).toBe(
      `refs/unidesk/snapshots/hwlab-node-runtime/v0.3/${A}`,
    );
    expect(snapshotRefName('x', 'feature/nested', A)).toBe(`${SNAPSHOT_REF_PREFIX}x/feature/nested/${A}`);
  });

  it('refuses anything but a full sha, so a branch name can never stand in for a commit', () => {
    expect(() => snapshotRefName('x', 'main', 'main')).toThrow(/not a full commit sha/);
    expect(() => snapshotRefName('x', 'main', A.slice(0, 12))).toThrow(/not a full commit sha/);
    expect(() => snapshotRefName('x', 'main', A.toUpperCase())).toThrow(/not a full commit sha/);
  });
});

describe('parseLsRemote', () => {
  it('maps every ref to its sha', () => {
    const out = parseLsRemote(
      `${A}\trefs/heads/main\n${B}\trefs/heads/feature/x\n${A}\trefs/unidesk/snapshots/ad/main/${A}\n`,
    );
    expect(out).toEqual(
      new Map([
        ['refs/heads/main', A],
        ['refs/heads/feature/x', B],
        [`refs/unidesk/snapshots/ad/main/${A}`, A],
      ]),
    );
  });

  it('ignores peeled ^{} lines: the ref keeps its own sha', () => {
    const out = parseLsRemote(
      `${T}\trefs/unidesk/snapshots/ad/main/${A}\n${A}\trefs/unidesk/snapshots/ad/main/${A}^{}\n`,
    );
    expect(out).toEqual(new Map([[`refs/unidesk/snapshots/ad/main/${A}`, T]]));
  });

  it('gives an empty map for an empty mirror and skips blank lines and CRLF endings', () => {
    expect(parseLsRemote('')).toEqual(new Map());
    expect(parseLsRemote(`\n${A}\trefs/heads/main\r\n\n`)).toEqual(new Map([['refs/heads/main', A]]));
  });

  it('accepts sha-256 object names', () => {
    const long = 'e'.repeat(64);
    expect(parseLsRemote(`${long}\trefs/heads/main\n`)).toEqual(new Map([['refs/heads/main', long]]));
  });
});

describe('mirrorReads', () => {
  it('reads each distinct URL once, and only URLs some follower is observed through', () => {
    expect(mirrorReads(registry)).toEqual(
      new Map([
        [HWLAB_URL, ['hwlab']],
        [UNIDESK_URL, ['unidesk']],
      ]),
    );
  });

  it('names every mirror id served at a shared URL', () => {
    const shared: ObservedRegistry = {
      mirrors: [...registry.mirrors, { id: 'hwlab-alias', url: HWLAB_URL }],
      followers: [
        ...registry.followers,
        { id: 'alias', adapter: 'a', source: { repo: 'pikasTech/HWLAB', branch: 'main', mirror: 'hwlab-alias' } },
      ],
    };
    expect(mirrorReads(shared).get(HWLAB_URL)).toEqual(['hwlab', 'hwlab-alias']);
    expect(mirrorReads(shared).size).toBe(2);
  });
});

describe('followerObservations', () => {
  it(
    'gives the tip (from the mirror cache, refs/mirror-stage/<branch>) and the present snapshot ref of a branch ' +
      'that has one',
    () => {
      const refs = new Map([
        [stage('v0.3'), A],
        [`refs/unidesk/snapshots/hwlab-node-runtime/v0.3/${A}`, A],
      ]);
      const out = observeAll(
        new Map([
          [HWLAB_URL, refs],
          [UNIDESK_URL, new Map()],
        ]),
      );
      expect(out.get('hwlab-v03')).toEqual({
        mirror: 'hwlab',
        url: HWLAB_URL,
        tip: A,
        snapshotRef: `refs/unidesk/snapshots/hwlab-node-runtime/v0.3/${A}`,
        snapshotPresent: true,
        snapshotSha: A,
        gitops: unpublished('refs/heads/gitops/jd01-v03'),
      });
    },
  );

  it('names the snapshot ref of the tip even when the mirror does not have it (yet)', () => {
    const refs = new Map([
      [stage('v0.3'), B],
      // A snapshot of the previous tip does not count for the new one.
      [`refs/unidesk/snapshots/hwlab-node-runtime/v0.3/${A}`, A],
    ]);
    const out = observeAll(
      new Map([
        [HWLAB_URL, refs],
        [UNIDESK_URL, new Map()],
      ]),
    );
    expect(out.get('hwlab-v03')).toMatchObject({
      tip: B,
      snapshotRef: `refs/unidesk/snapshots/hwlab-node-runtime/v0.3/${B}`,
      snapshotPresent: false,
      snapshotSha: null,
    });
  });

  it("only the snapshot ref of the follower's own adapter counts", () => {
    const refs = new Map([
      [stage('v0.3'), A],
      [`refs/unidesk/snapshots/some-other-adapter/v0.3/${A}`, A],
    ]);
    const out = observeAll(
      new Map([
        [HWLAB_URL, refs],
        [UNIDESK_URL, new Map()],
      ]),
    );
    expect(out.get('hwlab-v03')).toMatchObject({ tip: A, snapshotPresent: false });
  });

  it('reports a branch absent from the mirror cache as tip null, with no snapshot ref to name', () => {
    const out = observeAll(
      new Map([
        [HWLAB_URL, new Map([[stage('main'), A]])],
        [UNIDESK_URL, new Map()],
      ]),
    );
    expect(out.get('hwlab-v03')).toEqual({
      mirror: 'hwlab',
      url: HWLAB_URL,
      tip: null,
      snapshotRef: null,
      snapshotPresent: false,
      snapshotSha: null,
    });
    expect(out.get('sentinel')).toMatchObject({ mirror: 'unidesk', tip: null });
  });

  it('serves two followers on one mirror from the same answer, each with its own branch and adapter', () => {
    const refs = new Map([
      [stage('v0.3'), A],
      [stage('release/v0.2'), B],
      [`refs/unidesk/snapshots/hwlab-other/release/v0.2/${B}`, B],
    ]);
    const out = observeAll(
      new Map([
        [HWLAB_URL, refs],
        [UNIDESK_URL, new Map([[stage('master'), C]])],
      ]),
    );
    expect(out.get('hwlab-v03')).toMatchObject({ tip: A, snapshotPresent: false });
    expect(out.get('hwlab-v02')).toMatchObject({
      tip: B,
      snapshotRef: `refs/unidesk/snapshots/hwlab-other/release/v0.2/${B}`,
      snapshotPresent: true,
      snapshotSha: B,
    });
    expect(out.get('sentinel')).toMatchObject({ tip: C, snapshotRef: `refs/unidesk/snapshots/web-probe/master/${C}` });
    expect([...out.keys()]).toEqual(['hwlab-v03', 'hwlab-v02', 'sentinel']);
  });

  it('a peeled line does not shadow the snapshot ref it belongs to', () => {
    const refs = parseLsRemote(
      `${A}\trefs/mirror-stage/v0.3\n${T}\trefs/unidesk/snapshots/hwlab-node-runtime/v0.3/${A}\n${A}\trefs/unidesk/snapshots/hwlab-node-runtime/v0.3/${A}^{}\n`,
    );
    const out = observeAll(
      new Map([
        [HWLAB_URL, refs],
        [UNIDESK_URL, new Map()],
      ]),
    );
    expect(out.get('hwlab-v03')).toMatchObject({ tip: A, snapshotPresent: true, snapshotSha: T });
  });

  it('an unreadable mirror fails only the followers observed through it', () => {
    const error = new MirrorError({ mirror: 'hwlab', url: HWLAB_URL, detail: 'errno=Connection refused' });
    const out = observeAll(
      new Map<string, LsRemoteResult>([
        [HWLAB_URL, error],
        [UNIDESK_URL, new Map([[stage('master'), C]])],
      ]),
    );
    expect(out.get('hwlab-v03')).toEqual({ mirror: 'hwlab', url: HWLAB_URL, error });
    expect(out.get('hwlab-v02')).toEqual({ mirror: 'hwlab', url: HWLAB_URL, error });
    expect(out.get('sentinel')).toMatchObject({ tip: C });
  });

  it('a missing answer for a URL is a bug, not an absent branch', () => {
    expect(() => observeAll(new Map([[HWLAB_URL, new Map()]]))).toThrow(/no ls-remote result for .*unidesk/);
  });

  it('a follower with a tip but no GitOps ref in the map is a bug, not an unpublished GitOps ref', () => {
    const refs = new Map([
      [HWLAB_URL, new Map([[stage('v0.3'), A]])],
      [UNIDESK_URL, new Map()],
    ]);
    const partial = new Map([...GITOPS_REFS].filter(([id]) => id !== 'hwlab-v03'));
    expect(() => followerObservations(registry, refs, partial)).toThrow(/no GitOps ref for follower hwlab-v03/);
  });
});

describe("the tip comes from the mirror cache (refs/mirror-stage/<branch>), never the mirror's own branch ref", () => {
  it(
    'ls-remote lists the mirror-stage refs beside the branch and snapshot refs; the prefix is the one ' +
      'git-mirror writes',
    () => {
      expect(LS_REMOTE_PATTERNS).toContain('refs/mirror-stage/*');
      expect(LS_REMOTE_PATTERNS).toContain('refs/heads/*');
      expect(LS_REMOTE_PATTERNS).toContain('refs/unidesk/snapshots/*');
      expect(MIRROR_STAGE_PREFIX).toBe('refs/mirror-stage/');
      expect(PLAN_MIRROR_STAGE_PREFIX).toBe(MIRROR_STAGE_PREFIX);
    },
  );

  it('a refs/heads/<branch> tip without refs/mirror-stage/<branch> is not taken as the tip (tip null)', () => {
    const refs = new Map([
      ['refs/heads/v0.3', A],
      [`refs/unidesk/snapshots/hwlab-node-runtime/v0.3/${A}`, A],
    ]);
    const out = observeAll(
      new Map([
        [HWLAB_URL, refs],
        [UNIDESK_URL, new Map([['refs/heads/master', C]])],
      ]),
    );
    expect(out.get('hwlab-v03')).toEqual({
      mirror: 'hwlab',
      url: HWLAB_URL,
      tip: null,
      snapshotRef: null,
      snapshotPresent: false,
      snapshotSha: null,
    });
    expect(out.get('sentinel')).toMatchObject({ tip: null });
  });

  it("where both exist and differ, the mirror cache's copy is the tip", () => {
    const refs = new Map([
      ['refs/heads/v0.3', A],
      [stage('v0.3'), B],
    ]);
    const out = observeAll(
      new Map([
        [HWLAB_URL, refs],
        [UNIDESK_URL, new Map()],
      ]),
    );
    expect(out.get('hwlab-v03')).toMatchObject({
      tip: B,
      snapshotRef: `refs/unidesk/snapshots/hwlab-node-runtime/v0.3/${B}`,
    });
  });
});

describe('the GitOps ref against the mirror cache (gitopsObserved)', () => {
  const REF = 'refs/heads/gitops/jd01-v03';
  const CACHE = 'refs/mirror-stage/gitops/jd01-v03';

  const cases: [string, [string, string][], GitopsObserved][] = [
    [
      'published, never confirmed upstream (no cache ref): pending',
      [[REF, G]],
      { ref: REF, sha: G, cacheSha: null, pendingFlush: true, githubInSync: false },
    ],
    [
      'published, the upstream holds an older commit: pending',
      [
        [REF, G],
        [CACHE, H],
      ],
      { ref: REF, sha: G, cacheSha: H, pendingFlush: true, githubInSync: false },
    ],
    [
      'published and confirmed upstream: in sync',
      [
        [REF, G],
        [CACHE, G],
      ],
      { ref: REF, sha: G, cacheSha: G, pendingFlush: false, githubInSync: true },
    ],
    [
      'nothing published: neither pending nor in sync',
      [],
      { ref: REF, sha: null, cacheSha: null, pendingFlush: false, githubInSync: false },
    ],
    [
      'nothing published but a cached upstream copy: neither pending nor in sync',
      [[CACHE, H]],
      { ref: REF, sha: null, cacheSha: H, pendingFlush: false, githubInSync: false },
    ],
  ];
  it.each(cases)('%s', (_, refs, want) => {
    expect(gitopsObserved(new Map(refs), REF)).toEqual(want);
  });

  it(
    "reads only the follower's own GitOps ref and its own cache ref (not the source branch, not another " +
      "follower's)",
    () => {
      const refs = new Map([
        [REF, G],
        ['refs/mirror-stage/gitops/jd01-v02', G],
        [stage('v0.3'), G],
        ['refs/mirror-stage/gitops', G],
      ]);
      expect(gitopsObserved(refs, REF)).toEqual({
        ref: REF,
        sha: G,
        cacheSha: null,
        pendingFlush: true,
        githubInSync: false,
      });
    },
  );

  it('each observed follower carries its own GitOps ref: pending, in sync, or nothing published', () => {
    const hwlab = new Map([
      [stage('v0.3'), A],
      [stage('release/v0.2'), B],
      // hwlab-v03: the run published G, the upstream was last confirmed at H (or never).
      ['refs/heads/gitops/jd01-v03', G],
      ['refs/mirror-stage/gitops/jd01-v03', H],
      // hwlab-v02: G published and confirmed.
      ['refs/heads/gitops/jd01-v02', G],
      ['refs/mirror-stage/gitops/jd01-v02', G],
    ]);
    const out = observeAll(
      new Map([
        [HWLAB_URL, hwlab],
        [UNIDESK_URL, new Map([[stage('master'), C]])],
      ]),
    );
    expect(out.get('hwlab-v03')).toMatchObject({
      tip: A,
      gitops: { ref: 'refs/heads/gitops/jd01-v03', sha: G, cacheSha: H, pendingFlush: true, githubInSync: false },
    });
    expect(out.get('hwlab-v02')).toMatchObject({
      tip: B,
      gitops: { ref: 'refs/heads/gitops/jd01-v02', sha: G, cacheSha: G, pendingFlush: false, githubInSync: true },
    });
    expect(out.get('sentinel')).toMatchObject({ tip: C, gitops: unpublished('refs/heads/gitops/jd01-sentinel') });
    const never = observeAll(
      new Map([
        [
          HWLAB_URL,
          new Map([
            [stage('v0.3'), A],
            ['refs/heads/gitops/jd01-v03', G],
          ]),
        ],
        [UNIDESK_URL, new Map()],
      ]),
    );
    expect(never.get('hwlab-v03')).toMatchObject({
      gitops: { sha: G, cacheSha: null, pendingFlush: true, githubInSync: false },
    });
  });
});

describe('MirrorError', () => {
  it("is retryable, names the mirror, the URL and git's line, and says the way out", () => {
    const cause = new Error('execa');
    const e = new MirrorError({ mirror: 'hwlab', url: HWLAB_URL, detail: 'fatal: unable to connect', cause });
    expect(e.reason).toBe('MirrorUnreachable');
    expect(e.retryable).toBe(true);
    expect(exitCodeOf(e)).toBe(ExitCode.Failed);
    expect(e.cause).toBe(cause);
    expect(e.message).toContain('hwlab');
    expect(e.message).toContain(HWLAB_URL);
    expect(e.message).toContain('fatal: unable to connect');
    expect(e.message).toContain('git mirror Service');
    expect(e.message).toContain('branch-follower git-mirror status');
  });
});
