import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';

/** Props of {@link ControllerNamespace}. */
export interface ControllerNamespaceProps {
  /** Name of the namespace every controller object lives in (`controller.namespace`). */
  readonly name: string;
}

// The namespace is applied first: every other object of the controller lives in it.
export class ControllerNamespace extends Construct {
  /** The namespace name, for the constructs placed in it. */
  public readonly name: string;

  constructor(scope: Construct, id: string, props: ControllerNamespaceProps) {
    super(scope, id);
    this.name = props.name;
    new k8s.KubeNamespace(this, 'Resource', { metadata: { name: props.name } });
  }
}
