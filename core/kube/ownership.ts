// How the objects of one controller are recognised in the cluster: `apply` prunes by their labels,
// and never prunes an object carrying the prune annotation.

/** Set to `never` on an object that holds state, so it is never pruned automatically. */
export const PRUNE_ANNOTATION = 'branch-follower.unidesk.dev/prune';

/** The label selector of what one controller instance owns. */
export function ownedSelector(labels: Readonly<Record<string, string>>): string {
  return ['app.kubernetes.io/managed-by', 'app.kubernetes.io/instance'].map((k) => `${k}=${labels[k] ?? ''}`).join(',');
}
