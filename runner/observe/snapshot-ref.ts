/** Where the mirror keeps immutable snapshots: `<prefix><adapter>/<branch>/<commit>`. */
export const SNAPSHOT_REF_PREFIX = 'refs/unidesk/snapshots/';

const SHA = /^([0-9a-f]{40}|[0-9a-f]{64})$/;

// A control plane is triggered with the snapshot ref of a commit, never a moving branch, so the pass
// and every adapter must spell that ref the same way.
export function snapshotRefName(adapter: string, branch: string, sha: string): string {
  if (!SHA.test(sha)) throw new Error(`snapshotRefName: ${JSON.stringify(sha)} is not a full commit sha`);
  return `${SNAPSHOT_REF_PREFIX}${adapter}/${branch}/${sha}`;
}
