import { createRequire } from 'node:module';
import { PRUNE_ANNOTATION, ownedSelector } from './ownership.ts';
import { isDeepStrictEqual } from 'node:util';
import type { Manifest } from './manifest.ts';
import { renderManifest } from './render.ts';
import type { KubeClient, KubeObject } from './client.ts';
import { normalize } from './normalize.ts';
import { PRUNABLE_KINDS, describeObject, resourceType, resourceTypeOfKind } from './resources.ts';

/** What apply would do to one object. */
export const PlanAction = {
  /** Not in the cluster: apply creates it. */
  Create: 'create',
  /** In the cluster and different from what apply would make it. */
  Update: 'update',
  /** In the cluster exactly as apply would leave it. */
  Unchanged: 'unchanged',
  /** Labelled as ours, no longer synthesized: apply deletes it. */
  Prune: 'prune',
  /** Labelled as ours, no longer synthesized, but holds state: apply leaves it (see reason). */
  Keep: 'keep',
} as const;
export type PlanAction = (typeof PlanAction)[keyof typeof PlanAction];

export interface PlanItem {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly action: PlanAction;
  /** Unified diff of the normalized objects, for create/update/prune. */
  readonly diff: string;
  readonly reason: string;
}

const asYaml = (o: KubeObject | undefined) => (o ? renderManifest(normalize(o) as unknown as Manifest) : '');

// diff is loaded at the first diff made, not when the CLI starts (which imports PlanAction for every verb).
const require = createRequire(import.meta.url);

/** Unified, field-level diff of what is live and what apply would leave (both normalized). */
export function unifiedDiff(label: string, live: KubeObject | undefined, desired: KubeObject | undefined): string {
  const { createTwoFilesPatch } = require('diff') as typeof import('diff');
  return createTwoFilesPatch(`live/${label}`, `applied/${label}`, asYaml(live), asYaml(desired), undefined, undefined, {
    context: 3,
  })
    .split('\n')
    .slice(1) // drop the "=====" banner
    .join('\n');
}

/** create, update or unchanged, from the live object and the server's dry-run result of applying. */
export function decideAction(live: KubeObject | undefined, applied: KubeObject): PlanAction {
  if (!live) return PlanAction.Create;
  return isDeepStrictEqual(normalize(live), normalize(applied)) ? PlanAction.Unchanged : PlanAction.Update;
}

/** prune or keep for a labelled live object that is no longer synthesized. */
export function orphanAction(obj: KubeObject): { action: PlanAction; reason: string } {
  if (obj.metadata.annotations?.[PRUNE_ANNOTATION] === 'never') {
    return {
      action: PlanAction.Keep,
      reason: `${PRUNE_ANNOTATION}=never: holds follower state; delete it by hand once its records are no longer needed`,
    };
  }
  return { action: PlanAction.Prune, reason: 'no longer synthesized' };
}

// Compares every synthesized object with the cluster through a server-side dry-run apply (so
// defaults and admission apply exactly as they would), then lists what apply would prune. Reads and
// dry-runs only: the server persists nothing.
export async function computePlan(
  client: KubeClient,
  manifests: readonly Manifest[],
  namespace: string,
  labels: Readonly<Record<string, string>>,
): Promise<PlanItem[]> {
  const items: PlanItem[] = [];
  const nsLive = await client.get(resourceType('v1', 'Namespace'), undefined, namespace);
  for (const m of manifests) {
    const obj = m as unknown as KubeObject;
    const type = resourceType(m.apiVersion, m.kind);
    const ns = type.namespaced ? m.metadata.namespace : undefined;
    const label = `${m.kind.toLowerCase()}-${m.metadata.name}`;
    const live = type.namespaced && !nsLive ? undefined : await client.get(type, ns, m.metadata.name);
    // In a namespace that does not exist yet a dry run cannot place the object: it will be created.
    const applied = type.namespaced && !nsLive ? obj : await client.apply(obj, { dryRun: true });
    const action = decideAction(live, applied);
    const reason =
      action === PlanAction.Create
        ? type.namespaced && !nsLive
          ? `namespace ${namespace} does not exist yet`
          : 'not in the cluster'
        : '';
    items.push({
      kind: m.kind,
      namespace: ns,
      name: m.metadata.name,
      action,
      diff: action === PlanAction.Unchanged ? '' : unifiedDiff(label, live, applied),
      reason,
    });
  }
  if (!nsLive) return items;
  const wanted = new Set(manifests.map((m) => describeObject(m.kind, m.metadata.namespace, m.metadata.name)));
  for (const kind of PRUNABLE_KINDS) {
    for (const obj of await client.list(resourceTypeOfKind(kind), namespace, ownedSelector(labels))) {
      if (wanted.has(describeObject(kind, namespace, obj.metadata.name))) continue;
      const { action, reason } = orphanAction(obj);
      items.push({
        kind,
        namespace,
        name: obj.metadata.name,
        action,
        diff:
          action === PlanAction.Prune ? unifiedDiff(`${kind.toLowerCase()}-${obj.metadata.name}`, obj, undefined) : '',
        reason,
      });
    }
  }
  return items;
}
