import { BranchFollowerError } from '../core/errors.ts';
import type { KubeClient, KubeObject } from '../core/kube/client.ts';
import { resourceType } from '../core/kube/resources.ts';
import { PASS_FIELD_MANAGER } from './state-store.ts';

const LEASE = resourceType('coordination.k8s.io/v1', 'Lease');

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

/** MicroTime: RFC 3339 with exactly six fractional digits, as the Lease API wants. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export type LeaseResult = { acquired: true; lease: KubeObject } | { acquired: false; holder: string; renewedAgoMs: number };

/** Whether a live holder other than `identity` has the Lease at `now` (pure). */
export function heldByOther(spec: LeaseSpec, identity: string, now: number): { holder: string; renewedAgoMs: number } | undefined {
  const holder = spec.holderIdentity;
  if (!holder || holder === identity) return undefined;
  const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
  const duration = (spec.leaseDurationSeconds ?? 0) * 1000;
  if (Number.isNaN(renewed) || now > renewed + duration) return undefined;
  return { holder, renewedAgoMs: now - renewed };
}

function missing(namespace: string, name: string): BranchFollowerError {
  return new BranchFollowerError(`Lease ${namespace}/${name} does not exist: run branch-follower apply --confirm --wait`, {
    reason: 'KubeNotFound', retryable: false,
  });
}

// Takes the Lease unless another live holder has it. The update carries the resourceVersion read,
// so of two passes racing for an expired Lease exactly one wins; the other sees the conflict,
// re-reads, and finds the winner holding it.
export async function acquireLease(client: KubeClient, namespace: string, name: string, identity: string, now: () => number): Promise<LeaseResult> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const lease = await client.get(LEASE, namespace, name);
    if (!lease) throw missing(namespace, name);
    const spec = (lease.spec ?? {}) as LeaseSpec;
    const other = heldByOther(spec, identity, now());
    if (other) return { acquired: false, ...other };
    const t = microTime(now());
    const next = {
      ...lease,
      spec: { ...spec, holderIdentity: identity, acquireTime: spec.holderIdentity === identity ? spec.acquireTime ?? t : t, renewTime: t, leaseTransitions: (spec.leaseTransitions ?? 0) + (spec.holderIdentity === identity ? 0 : 1) },
    };
    try {
      return { acquired: true, lease: await client.update(next, PASS_FIELD_MANAGER) };
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
    }
  }
  const lease = await client.get(LEASE, namespace, name);
  const other = lease && heldByOther((lease.spec ?? {}) as LeaseSpec, identity, now());
  return other ? { acquired: false, ...other } : { acquired: false, holder: 'unknown (lost a race twice)', renewedAgoMs: 0 };
}

/** Renews a held Lease; a conflict means someone else took it, which the caller must treat as lost. */
export async function renewLease(client: KubeClient, lease: KubeObject, now: number): Promise<KubeObject> {
  return client.update({ ...lease, spec: { ...(lease.spec as LeaseSpec), renewTime: microTime(now) } }, PASS_FIELD_MANAGER);
}

/** Gives the Lease up so the next pass need not wait for it to expire. */
export async function releaseLease(client: KubeClient, lease: KubeObject): Promise<void> {
  const { holderIdentity: _h, acquireTime: _a, renewTime: _r, ...spec } = lease.spec as LeaseSpec;
  await client.update({ ...lease, spec }, PASS_FIELD_MANAGER);
}
