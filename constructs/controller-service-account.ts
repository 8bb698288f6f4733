import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';

/** Props of {@link ControllerServiceAccount}. */
export interface ControllerServiceAccountProps {
  /** Namespace of the ServiceAccount (`controller.namespace`). */
  readonly namespace: string;
  /** Name of the ServiceAccount the pass runs as (`controller.serviceAccount.name`). */
  readonly name: string;
}

// The pass's own identity, so RBAC can grant it exactly what it needs and nothing else.
export class ControllerServiceAccount extends Construct {
  /** The ServiceAccount name, for the RoleBinding and the pod spec. */
  public readonly name: string;

  constructor(scope: Construct, id: string, props: ControllerServiceAccountProps) {
    super(scope, id);
    this.name = props.name;
    new k8s.KubeServiceAccount(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace },
      // The token is mounted only into the pass pod, which asks for it explicitly.
      automountServiceAccountToken: false,
    });
  }
}
