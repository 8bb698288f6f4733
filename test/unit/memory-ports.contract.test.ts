import { FOLLOWER_LABEL } from '../../runner/events.ts';
import { MemoryEvents } from '../../runner/memory/events.ts';
import { memoryLease } from '../../runner/memory/lease.ts';
import { memoryState } from '../../runner/memory/state.ts';
import { Versioned } from '../../runner/memory/versioned.ts';
import type { LeaseSpec } from '../../runner/lease.ts';
import { portContract } from '../helpers/port-contract.ts';

// The in-memory state, Lease and Event ports keep the same contract as the cluster's.
portContract('in memory', async () => {
  const state = new Versioned<Record<string, string>>('ConfigMap contract/state', {});
  const lease = new Versioned<LeaseSpec>('Lease contract/lease', { leaseDurationSeconds: 15 });
  const events = new MemoryEvents('contract', 'state');
  return {
    state: (maxBytes) => memoryState(state, 'ConfigMap contract/state', maxBytes),
    missingState: () => memoryState(new Versioned<Record<string, string>>('ConfigMap contract/none', undefined), 'ConfigMap contract/none', 1000),
    lease: (now) => memoryLease(lease, 'Lease contract/lease', now),
    missingLease: (now) => memoryLease(new Versioned<LeaseSpec>('Lease contract/none', undefined), 'Lease contract/none', now),
    events: () => events.port(),
    async writeRaw(key, value) {
      const o = state.get()!;
      state.put(o.version, { ...o.value, [key]: value });
    },
    emitted: async (followerId) =>
      events.created.filter((e) => e.metadata.labels[FOLLOWER_LABEL] === followerId).map((e) => ({ action: e.action, reason: e.reason, type: e.type, note: e.note })),
  };
});
