import type { Manifest } from './manifest.ts';
import type { KubeClient, KubeObject } from './client.ts';
import { PlanAction, type PlanItem } from './plan.ts';
import { describeObject, resourceType, resourceTypeOfKind } from './resources.ts';

/** What apply did to one object. */
export interface Applied {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly result: 'created' | 'configured' | 'unchanged' | 'pruned' | 'kept';
  /** The object as the server returned it (for the generation to wait for). */
  readonly live?: KubeObject;
}

const key = (kind: string, ns: string | undefined, name: string) => describeObject(kind, ns, name);

// Server-side applies every object the plan says is new or changed, in apply order (the Namespace
// first), then deletes what the plan says to prune. Objects the plan found unchanged are not sent,
// so a second apply makes no request that could change a resourceVersion.
export async function applyPlan(
  client: KubeClient,
  manifests: readonly Manifest[],
  plan: readonly PlanItem[],
  onStep: (a: Applied) => void,
): Promise<Applied[]> {
  const byKey = new Map(plan.map((i) => [key(i.kind, i.namespace, i.name), i]));
  const done: Applied[] = [];
  const record = (a: Applied) => {
    done.push(a);
    onStep(a);
  };
  for (const m of manifests) {
    const type = resourceType(m.apiVersion, m.kind);
    const ns = type.namespaced ? m.metadata.namespace : undefined;
    const item = byKey.get(key(m.kind, ns, m.metadata.name));
    if (item?.action === PlanAction.Unchanged) {
      record({ kind: m.kind, namespace: ns, name: m.metadata.name, result: 'unchanged' });
      continue;
    }
    const live = await client.apply(m as unknown as KubeObject, { dryRun: false });
    record({
      kind: m.kind,
      namespace: ns,
      name: m.metadata.name,
      result: item?.action === PlanAction.Create ? 'created' : 'configured',
      live,
    });
  }
  for (const item of plan) {
    if (item.action === PlanAction.Prune) {
      await client.delete(resourceTypeOfKind(item.kind), item.namespace, item.name);
      record({ kind: item.kind, namespace: item.namespace, name: item.name, result: 'pruned' });
    } else if (item.action === PlanAction.Keep) {
      record({ kind: item.kind, namespace: item.namespace, name: item.name, result: 'kept' });
    }
  }
  return done;
}
