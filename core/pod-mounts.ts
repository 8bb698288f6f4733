import { posix } from 'node:path';

// Where the runner pod (the pass and a git-mirror stage Job) mounts what, and the one rule between
// those mounts. Registry validation reports a break of it at the YAML path; the runner pod construct
// refuses props that break it. Both ask this module, so the rule is written once.

/** The pod's `/tmp`, an EmptyDir (HOME for git and node). */
export const TMP_DIR = '/tmp';

/** Where the controller source is cloned to inside the pod: `<appDir>/checkout`, an EmptyDir. */
export function checkoutDir(appDir: string): string {
  return posix.join(appDir, 'checkout');
}

/** The mounts the registry places: the mirror cache claim and the parent of the githubSsh keys. */
export interface MirrorMounts {
  /** Where the mirror cache claim is mounted. */
  readonly mountPath: string;
  /** Parent of `identity/<key>` and `known-hosts/<key>`. */
  readonly sshMountPath: string;
}

/** One way the mounts would shadow one another. */
export type MountOverlap =
  /** The mount overlaps the checkout, or is or holds /tmp. */
  | { readonly kind: 'scratch'; readonly mount: keyof MirrorMounts; readonly path: string; readonly checkout: string }
  /** mountPath and sshMountPath contain one another. */
  | { readonly kind: 'nested' };

const inside = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

// The cache claim and the Secret keys are mounted beside the checkout and /tmp EmptyDirs: a mount
// inside the checkout would break the clone, one over /tmp or the checkout would hide it, and of two
// mounts one inside the other, the outer would hide the inner.
export function mountOverlaps(appDir: string, mounts: MirrorMounts): MountOverlap[] {
  const checkout = checkoutDir(appDir);
  const out: MountOverlap[] = [];
  for (const mount of ['mountPath', 'sshMountPath'] as const) {
    const path = mounts[mount];
    if (inside(path, checkout) || inside(checkout, path) || inside(TMP_DIR, path))
      out.push({ kind: 'scratch', mount, path, checkout });
  }
  if (inside(mounts.mountPath, mounts.sshMountPath) || inside(mounts.sshMountPath, mounts.mountPath))
    out.push({ kind: 'nested' });
  return out;
}
