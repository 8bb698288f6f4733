import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';

/** Props of {@link RegistryConfigMap}. */
export interface RegistryConfigMapProps {
  /** Namespace of the ConfigMap (`controller.namespace`). */
  readonly namespace: string;
  /** Name of the ConfigMap (`controller.configMaps.registry`, or `-<k>` after it for part k). */
  readonly name: string;
  /** The key the registry (or its part) is stored under; the pod mounts it over the clone's registry path. */
  readonly key: string;
  /** The registry file byte for byte as committed, or one part of it (constructs/registry-parts.ts). */
  readonly content: string;
}

// Carries the registry into the cluster, so the pass runs the registry that was applied, not
// whatever the cloned source happens to hold. The text stays plain in `data` (no gzip, no
// binaryData), so `plan --diff` shows a registry change line by line.
export class RegistryConfigMap extends Construct {
  /** The ConfigMap name, for the pod's volume. */
  public readonly name: string;
  /** The data key, for the pod's subPath mount. */
  public readonly key: string;

  constructor(scope: Construct, id: string, props: RegistryConfigMapProps) {
    super(scope, id);
    this.name = props.name;
    this.key = props.key;
    new k8s.KubeConfigMap(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace },
      data: { [props.key]: props.content },
    });
  }
}
