import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import type { PassPermission } from '../core/kube/access-review.ts';

/** Props of {@link ControllerRbac}. */
export interface ControllerRbacProps {
  /** Namespace of the Role and RoleBinding (`controller.namespace`). */
  readonly namespace: string;
  /** Name shared by the Role and the RoleBinding (`controller.name`). */
  readonly name: string;
  /** The ServiceAccount granted the Role (`controller.serviceAccount.name`). */
  readonly serviceAccountName: string;
  /**
   * The Leases the pass may read and renew: the carry-over lock (`controller.lease.name`), then each
   * shard's (`<controller.lease.name>-<k>`).
   */
  readonly leaseNames: readonly string[];
  /** The ConfigMaps the pass may read and write: every state object (`<controller.configMaps.state>-<b>`). */
  readonly stateConfigMapNames: readonly string[];
  /**
   * The state ConfigMap of the layout before shards (`controller.configMaps.state`): the pass reads it and,
   * once its records are carried over into the shards', deletes it.
   */
  readonly carriedOverStateConfigMapName: string;
}

// Exactly what one reconcile pass does to the cluster: nothing cluster-wide, no Secrets, every object
// by name. The Role is shared by every shard (one ServiceAccount), so a shard could name another's
// Lease or state: the pass keeps to its own, the Role keeps every shard away from anything else.
function passPermissions(props: ControllerRbacProps): PassPermission[] {
  return [
    {
      apiGroup: 'coordination.k8s.io',
      resource: 'leases',
      verbs: ['get', 'update'],
      resourceNames: [...props.leaseNames],
      why: "take, renew and release its shard's Lease, and the carry-over lock",
    },
    {
      apiGroup: '',
      resource: 'configmaps',
      verbs: ['get', 'update'],
      resourceNames: [...props.stateConfigMapNames],
      why: "read and compare-and-swap its shard's follower state",
    },
    {
      apiGroup: '',
      resource: 'configmaps',
      verbs: ['get', 'delete'],
      resourceNames: [props.carriedOverStateConfigMapName],
      why: 'carry the records of the single state ConfigMap over into the shards, then delete it',
    },
    {
      apiGroup: 'events.k8s.io',
      resource: 'events',
      verbs: ['create'],
      resourceNames: [],
      why: 'record one Event per phase transition',
    },
  ];
}

// Least privilege for the pass: a namespaced Role limited by resourceNames wherever Kubernetes allows.
export class ControllerRbac extends Construct {
  /** The rules granted, in the order they appear in the Role. */
  public readonly permissions: readonly PassPermission[];

  constructor(scope: Construct, id: string, props: ControllerRbacProps) {
    super(scope, id);
    this.permissions = passPermissions(props);
    new k8s.KubeRole(this, 'Role', {
      metadata: { name: props.name, namespace: props.namespace },
      rules: this.permissions.map((p) => ({
        apiGroups: [p.apiGroup],
        resources: [p.resource],
        verbs: [...p.verbs],
        ...(p.resourceNames.length > 0 ? { resourceNames: [...p.resourceNames] } : {}),
      })),
    });
    new k8s.KubeRoleBinding(this, 'RoleBinding', {
      metadata: { name: props.name, namespace: props.namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: props.name },
      subjects: [{ kind: 'ServiceAccount', name: props.serviceAccountName, namespace: props.namespace }],
    });
  }
}
