/** One Kubernetes object as synthesized: plain JSON, no cdk8s types. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [field: string]: unknown;
}

/** Apply order: what others live in or refer to comes first (the Namespace before all). */
const KIND_ORDER = ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding', 'ConfigMap', 'Lease', 'CronJob'] as const;

function rank(m: Manifest): number {
  const i = (KIND_ORDER as readonly string[]).indexOf(m.kind);
  if (i < 0) throw new Error(`no apply order is defined for kind ${m.kind}`);
  return i;
}

/** Sorts manifests into apply order, then by name, so order never depends on construct order. */
export function inApplyOrder(manifests: readonly Manifest[]): Manifest[] {
  return [...manifests].sort((a, b) => rank(a) - rank(b) || a.metadata.name.localeCompare(b.metadata.name, 'en'));
}
