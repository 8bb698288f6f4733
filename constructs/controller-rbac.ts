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
  /** The one Lease the pass may read and renew (`controller.lease.name`). */
  readonly leaseName: string;
  /** The one ConfigMap the pass may read and write: its state (`controller.configMaps.state`). */
  readonly stateConfigMapName: string;
}

/** Exactly what one reconcile pass does to the cluster: nothing cluster-wide, no Secrets. */
function passPermissions(props: ControllerRbacProps): PassPermission[] {
  return [
    {
      apiGroup: 'coordination.k8s.io',
      resource: 'leases',
      verbs: ['get', 'update'],
      resourceNames: [props.leaseName],
      why: 'take, renew and release the leader Lease',
    },
    {
      apiGroup: '',
      resource: 'configmaps',
      verbs: ['get', 'update'],
      resourceNames: [props.stateConfigMapName],
      why: 'read and compare-and-swap the follower state',
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
