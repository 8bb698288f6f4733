import { Construct } from 'constructs';
import { k8s } from 'cdk8s-plus-28';

/** Props of {@link StateLease}. */
export interface StateLeaseProps {
  /** Namespace of the Lease (`controller.namespace`). */
  readonly namespace: string;
  /** Name of the Lease (`controller.lease.name`, or `<controller.lease.name>-<shard>`). */
  readonly name: string;
  /** How long a holder keeps the Lease without renewing it (`controller.lease.durationSeconds`). */
  readonly durationSeconds: number;
}

// A leader election anchor: of two passes, only the holder acts. Each shard k of the pass holds its
// own, `<controller.lease.name>-k`, for its followers. The unsuffixed `<controller.lease.name>` is the
// lock of the carry-over from the layout before shards: a pass holds it while it moves the records of
// the single state ConfigMap into the shards' and deletes it, so no two passes carry over at once.
//
// Like the state ConfigMap, the manifest applies only `leaseDurationSeconds`: the holder identity,
// acquire and renew times belong to the pass, so server-side apply never clears a live holder.
export class StateLease extends Construct {
  /** The Lease name, for RBAC and the pass. */
  public readonly name: string;

  constructor(scope: Construct, id: string, props: StateLeaseProps) {
    super(scope, id);
    this.name = props.name;
    new k8s.KubeLease(this, 'Resource', {
      metadata: { name: props.name, namespace: props.namespace },
      spec: { leaseDurationSeconds: props.durationSeconds },
    });
  }
}
