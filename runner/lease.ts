import { BranchFollowerError } from '../core/errors.ts';
import type { HeldLease, LeasePort, LeaseResult } from './ports.ts';

// The Lease rules, pure: who holds it at a given time, and the spec after taking, renewing or
// releasing it. The Kubernetes Lease port (runner/kube/lease.ts) and the in-memory one apply them
// to their own objects, so both decide alike.

/** The fields of a coordination.k8s.io/v1 Lease spec the pass uses. */
export interface LeaseSpec {
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

/** Whether a live holder other than `identity` has the Lease at `now`. */
function heldByOther(
  spec: LeaseSpec,
  identity: string,
  now: number,
): { holder: string; renewedAgoMs: number } | undefined {
  const holder = spec.holderIdentity;
  if (!holder || holder === identity) return undefined;
  const renewed = Date.parse(spec.renewTime ?? spec.acquireTime ?? '');
  const duration = (spec.leaseDurationSeconds ?? 0) * 1000;
  if (Number.isNaN(renewed) || now > renewed + duration) return undefined;
  return { holder, renewedAgoMs: now - renewed };
}

/** The spec once `identity` took the Lease at `now` (a holder taking it again keeps its acquireTime). */
function takenSpec(spec: LeaseSpec, identity: string, now: number): LeaseSpec {
  const t = microTime(now);
  const again = spec.holderIdentity === identity;
  return {
    ...spec,
    holderIdentity: identity,
    acquireTime: again ? (spec.acquireTime ?? t) : t,
    renewTime: t,
    leaseTransitions: (spec.leaseTransitions ?? 0) + (again ? 0 : 1),
  };
}

function renewedSpec(spec: LeaseSpec, now: number): LeaseSpec {
  return { ...spec, renewTime: microTime(now) };
}

/** The spec once given up: no holder, so the next pass takes it at once. */
function releasedSpec(spec: LeaseSpec): LeaseSpec {
  const { holderIdentity: _h, acquireTime: _a, renewTime: _r, ...rest } = spec;
  return rest;
}

/** Where a Lease is kept: read it, and write it by compare-and-swap on what was read. */
export interface LeaseObjects {
  /** The Lease and what the next put compares against, or undefined when it does not exist. */
  get(): Promise<{ spec: LeaseSpec; base: unknown } | undefined>;
  /** Writes `spec` onto `base`; rejects with reason `KubeConflict` when anyone wrote since. */
  put(base: unknown, spec: LeaseSpec): Promise<{ spec: LeaseSpec; base: unknown }>;
}

const isConflict = (err: unknown) => err instanceof BranchFollowerError && err.reason === 'KubeConflict';

// The Lease port on any store of Lease objects. Of two passes racing for an expired Lease exactly
// one wins: the other's put conflicts, it reads again, and finds the winner holding it.
export function leasePort(objects: LeaseObjects, what: string, now: () => number): LeasePort {
  const held = (o: { spec: LeaseSpec; base: unknown }): HeldLease => ({ holder: o.spec.holderIdentity ?? '', base: o });
  const current = (lease: HeldLease) => lease.base as { spec: LeaseSpec; base: unknown };
  const read = async () => {
    const o = await objects.get();
    if (!o)
      throw new BranchFollowerError(`${what} does not exist: run branch-follower apply --confirm --wait`, {
        reason: 'KubeNotFound',
        retryable: false,
      });
    return o;
  };
  return {
    async acquire(identity): Promise<LeaseResult> {
      for (let attempt = 0; attempt < 2; attempt++) {
        const o = await read();
        const other = heldByOther(o.spec, identity, now());
        if (other) return { acquired: false, ...other };
        try {
          return { acquired: true, lease: held(await objects.put(o.base, takenSpec(o.spec, identity, now()))) };
        } catch (err) {
          if (!isConflict(err)) throw err;
        }
      }
      const other = heldByOther((await read()).spec, identity, now());
      return other
        ? { acquired: false, ...other }
        : { acquired: false, holder: 'unknown (lost a race twice)', renewedAgoMs: 0 };
    },
    renew: async (lease) => held(await objects.put(current(lease).base, renewedSpec(current(lease).spec, now()))),
    async release(lease) {
      await objects.put(current(lease).base, releasedSpec(current(lease).spec));
    },
  };
}
