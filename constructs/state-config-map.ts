import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';
import { PRUNE_ANNOTATION } from '../core/kube/ownership.ts';

/** Props of {@link StateConfigMap}. */
export interface StateConfigMapProps {
  /** Namespace of the ConfigMap (`controller.namespace`). */
  readonly namespace: string;
  /** Name of the ConfigMap (`<controller.configMaps.state>-<b>`, state object b). */
  readonly name: string;
}

// One state object: the records of the followers whose id hashes to b (mod `controller.state.objects`),
// one key per follower. Object b belongs to shard b mod `controller.pass.shards` and only that shard
// writes it, so a follower's write conflicts only with writes of its own shard, to the same object.
// The unsuffixed `<controller.configMaps.state>` of the layout before shards is not synthesized: the
// first sharded pass carries its records over and deletes it; until then apply keeps it (prune=never).
//
// Why `apply` can never wipe live state: the synthesized object deliberately has no `data` field.
// Server-side apply only sets and removes the fields its own field manager applies, and this
// manifest never applies `data`; the pass writes `data` under its own manager with compare-and-swap
// updates. So re-applying, or changing anything else here, leaves every follower's record untouched.
// Do not add a `data` field (not even an empty one): applying it would claim the field and let a
// later apply remove what the pass wrote. For the same reason it is never pruned: if the registry
// renames it, the old one is kept (plan shows `keep`) until someone deletes it on purpose.
export class StateConfigMap extends Construct {
  /** The ConfigMap name, for RBAC and the pass. */
  public readonly name: string;

  constructor(scope: Construct, id: string, props: StateConfigMapProps) {
    super(scope, id);
    this.name = props.name;
    new k8s.KubeConfigMap(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace, annotations: { [PRUNE_ANNOTATION]: 'never' } },
    });
  }
}
