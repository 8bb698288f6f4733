// The Kubernetes resources branch-follower touches, and how their REST paths are built. A fixed
// table rather than discovery: the product only ever talks about these kinds, and a typo in a kind
// should fail here, loudly, not as a 404 from the server.

export interface ResourceType {
  readonly apiVersion: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

const TYPES: readonly ResourceType[] = [
  { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { apiVersion: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true },
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', plural: 'roles', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true },
  { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true },
  { apiVersion: 'batch/v1', kind: 'CronJob', plural: 'cronjobs', namespaced: true },
  { apiVersion: 'batch/v1', kind: 'Job', plural: 'jobs', namespaced: true },
  { apiVersion: 'events.k8s.io/v1', kind: 'Event', plural: 'events', namespaced: true },
];

/** The kinds `apply` prunes (namespaced, labelled, no longer synthesized). */
export const PRUNABLE_KINDS = ['ServiceAccount', 'Role', 'RoleBinding', 'ConfigMap', 'Lease', 'CronJob'] as const;

export function resourceType(apiVersion: string, kind: string): ResourceType {
  const t = TYPES.find((x) => x.apiVersion === apiVersion && x.kind === kind);
  if (!t) throw new Error(`branch-follower does not handle ${apiVersion} ${kind}`);
  return t;
}

export function resourceTypeOfKind(kind: string): ResourceType {
  const t = TYPES.find((x) => x.kind === kind);
  if (!t) throw new Error(`branch-follower does not handle kind ${kind}`);
  return t;
}

/** `/api/v1` or `/apis/<group>/<version>`. */
function groupPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}

/** The collection path (for list and create), e.g. `/api/v1/namespaces/ns/configmaps`. */
export function collectionPath(t: ResourceType, namespace: string | undefined): string {
  if (t.namespaced) {
    if (!namespace) throw new Error(`${t.kind} is namespaced: a namespace is required`);
    return `${groupPath(t.apiVersion)}/namespaces/${encodeURIComponent(namespace)}/${t.plural}`;
  }
  return `${groupPath(t.apiVersion)}/${t.plural}`;
}

/** The object path (for get, apply, update, delete). */
export function objectPath(t: ResourceType, namespace: string | undefined, name: string): string {
  return `${collectionPath(t, namespace)}/${encodeURIComponent(name)}`;
}

/** `Kind/name` or `Kind namespace/name`, as messages and tables show objects. */
export function describeObject(kind: string, namespace: string | undefined, name: string): string {
  return namespace ? `${kind} ${namespace}/${name}` : `${kind} ${name}`;
}

/** The name `kubectl get -o name` prints: `configmap/x`, `cronjob.batch/x`, `role.rbac.authorization.k8s.io/x`. */
export function kubectlName(kind: string, name: string): string {
  const { apiVersion } = resourceTypeOfKind(kind);
  const group = apiVersion.includes('/') ? `.${apiVersion.split('/')[0]}` : '';
  return `${kind.toLowerCase()}${group}/${name}`;
}
