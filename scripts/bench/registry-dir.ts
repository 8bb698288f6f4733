import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isScalar, parse, parseDocument, stringify, visit } from 'yaml';
import { REGISTRY, ROOT } from '../world/registry.ts';

// A registry directory of `n` followers on disk, laid out as the shipped config/ (the registry and
// its three owning files), for what only a real file shows: `validate` and `status` of the real CLI,
// the registry ConfigMap's size, and the real pass. Follower i is a copy of shipped follower i mod 3
// under its own id and branch, on mirror i mod `mirrors`, selecting its own entry of the owning
// file (its own lane, or its own sentinel) whose GitOps ref is its own. Every tunable is the shipped
// one unless `edits` says otherwise (the bench world points the mirrors at loopback servers).

/** The three owning files of the shipped followers, in shipped follower order. */
const OWNING = ['config/hwlab-node-lanes.yaml', 'config/agentrun.yaml', 'config/hwlab-web-probe-sentinel/jd01.yaml'];

/** Where the generated mirrors live and how they are reached; the shipped host names by default. */
export interface MirrorLayout {
  /** git URL of mirror j (what the pass reads). */
  readonly url: (repoPath: string) => string;
  /** Upstream URL of mirror j (what git-mirror sync fetches). */
  readonly upstream: (repoPath: string) => string;
}

const SHIPPED_LAYOUT: MirrorLayout = {
  url: (p) => `git://git-mirror.unidesk-cicd.svc.cluster.local/${p}`,
  upstream: (p) => `ssh://git@ssh.github.com:443/${p}`,
};

/** One generated follower, as the bench world needs to know it. */
export interface BenchFollower {
  readonly id: string;
  readonly branch: string;
  /** Index of its mirror. */
  readonly mirror: number;
  /** Its adapter's id (a shipped one). */
  readonly adapter: string;
  /** The adapter CLI it is driven by (hwlab, agentrun or web-probe). */
  readonly cli: string;
  /** The `--lane` its adapter commands name (unique per follower). */
  readonly lane: string;
  readonly gitopsRef: string;
}

export interface RegistryDir {
  readonly root: string;
  /** The registry file, absolute. */
  readonly file: string;
  readonly followers: readonly BenchFollower[];
  /** Repository path of each mirror (`bench/repo-<j>.git`: cache path and upstream path alike). */
  readonly repos: readonly string[];
  /** Bytes of the registry and owning files: what the registry ConfigMap carries. */
  readonly bytes: number;
}

/** M ≈ √N mirrors, at least one. */
export const mirrorsFor = (n: number) => Math.max(1, Math.round(Math.sqrt(n)));

const CLIS = ['hwlab', 'agentrun', 'web-probe'] as const;

function followersOf(n: number, mirrors: number): BenchFollower[] {
  const shipped = parse(readFileSync(join(ROOT, REGISTRY), 'utf8')) as {
    followers: { id: string; adapter: string; source: { branch: string } }[];
  };
  return Array.from({ length: n }, (_, i) => {
    const kind = i % 3;
    const f = shipped.followers[kind]!;
    return {
      id: `${f.id}-${i}`,
      branch: `${f.source.branch}-b${i}`,
      mirror: i % mirrors,
      adapter: f.adapter,
      cli: CLIS[kind]!,
      lane: `bench-${i}`,
      gitopsRef: `refs/heads/gitops/bench-${i}`,
    };
  });
}

/** The owning file of kind `kind` with one entry per follower of that kind. */
function owningText(kind: number, followers: readonly BenchFollower[]): string {
  const shipped = readFileSync(join(ROOT, OWNING[kind]!), 'utf8');
  const header = shipped.split('\n').filter((l) => l.startsWith('#'));
  const doc = parse(shipped) as Record<string, Record<string, unknown>[]>;
  const [collection] = Object.keys(doc);
  const template = doc[collection!]![0]!;
  const entries = followers
    .filter((_, i) => i % 3 === kind)
    .map((f) => ({
      ...template,
      ...(kind === 2 ? { name: f.lane } : {}),
      lane: f.lane,
      ...('namespace' in template ? { namespace: f.lane } : {}),
      gitMirror: { gitopsRef: f.gitopsRef },
    }));
  return `${header.join('\n')}\n${stringify({ [collection!]: entries }, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}

/** The registry text: the shipped one with generated mirrors and followers, after `edits` of the controller. */
function registryText(
  n: number,
  followers: readonly BenchFollower[],
  repos: readonly string[],
  layout: MirrorLayout,
  edits: (controller: Record<string, unknown>) => void,
): string {
  const doc = parseDocument(readFileSync(join(ROOT, REGISTRY), 'utf8'));
  const reg = doc.toJS() as {
    controller: Record<string, unknown>;
    followers: Record<string, unknown>[];
  };
  // The controller's own source is a mirror too: the first generated one.
  (reg.controller.source as { mirror: { mirror: string } }).mirror.mirror = 'm0';
  edits(reg.controller);
  const mirrors = repos.map((path, j) => ({
    id: `m${j}`,
    repo: path.replace(/\.git$/, ''),
    url: layout.url(path),
    upstream: layout.upstream(path),
    cachePath: path,
  }));
  const generated = followers.map((f, i) => {
    const shipped = reg.followers[i % 3]! as { source: Record<string, unknown>; target: Record<string, unknown> };
    return {
      ...shipped,
      id: f.id,
      source: { ...shipped.source, repo: mirrors[f.mirror]!.repo, branch: f.branch, mirror: `m${f.mirror}` },
      target: { ...shipped.target, selector: i % 3 === 2 ? { name: f.lane } : { node: 'JD01', lane: f.lane } },
    };
  });
  // Written out, never as YAML aliases (the registry refuses them), and a list of scalars on one
  // line as the shipped file writes argv and checks, so the file's size is what an author's would be.
  const node = (value: unknown) => doc.createNode(value, { aliasDuplicateObjects: false });
  doc.setIn(['controller'], node(reg.controller));
  doc.setIn(['mirrors'], node(mirrors));
  doc.setIn(['followers'], node(generated));
  visit(doc, {
    Seq(_, seq) {
      if (seq.items.every(isScalar)) seq.flow = true;
    },
    Map(_, map) {
      if (map.items.length <= 3 && map.items.every((p) => isScalar(p.value))) map.flow = true;
    },
  });
  doc.commentBefore = ` A generated registry of ${n} followers over ${repos.length} mirrors (npm run bench).`;
  return doc.toString({ lineWidth: 0, flowCollectionPadding: true });
}

/**
 * Writes the registry directory of `n` followers over `mirrors` mirrors under `root`; `edits`
 * changes the controller section in place (the bench world's namespace and loopback servers).
 */
export function writeRegistryDir(
  root: string,
  n: number,
  opts: {
    readonly mirrors: number;
    readonly layout?: MirrorLayout;
    readonly edits?: (controller: Record<string, unknown>) => void;
  },
): RegistryDir {
  const followers = followersOf(n, opts.mirrors);
  const repos = Array.from({ length: opts.mirrors }, (_, j) => `bench/repo-${j}.git`);
  const texts = new Map<string, string>([
    [REGISTRY, registryText(n, followers, repos, opts.layout ?? SHIPPED_LAYOUT, opts.edits ?? (() => undefined))],
    ...OWNING.map((file, kind) => [file, owningText(kind, followers)] as const),
  ]);
  let bytes = 0;
  for (const [file, text] of texts) {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
    bytes += Buffer.byteLength(text);
  }
  return { root, file: join(root, REGISTRY), followers, repos, bytes };
}
