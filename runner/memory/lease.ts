import { leasePort, type LeaseSpec } from '../lease.ts';
import type { LeasePort } from '../ports.ts';
import { immediate, type CallHook } from './hook.ts';
import type { Versioned } from './versioned.ts';

type Base = { version: number };

/** The Lease port on an in-memory Lease, through the same rules as the Kubernetes Lease's. */
export function memoryLease(
  store: Versioned<LeaseSpec>,
  what: string,
  now: () => number,
  hook: CallHook = immediate,
): LeasePort {
  return leasePort(
    {
      get: () =>
        hook.around({ port: 'lease', method: 'get', writes: false }, () => {
          const o = store.get();
          return o && { spec: o.value, base: { version: o.version } as unknown };
        }),
      put: (base, spec) =>
        hook.around({ port: 'lease', method: 'update', writes: true }, () => {
          const o = store.put((base as Base).version, spec);
          return { spec: o.value, base: { version: o.version } as unknown };
        }),
    },
    what,
    now,
  );
}
