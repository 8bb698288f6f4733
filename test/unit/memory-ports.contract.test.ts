import { join } from 'node:path';
import { loadRegistry } from '../../core/config/load.ts';
import { FOLLOWER_LABEL } from '../../runner/events.ts';
import { MemoryEvents } from '../../runner/memory/events.ts';
import { memoryLease } from '../../runner/memory/lease.ts';
import { memoryOldState } from '../../runner/memory/old-state.ts';
import { memoryState } from '../../runner/memory/state.ts';
import { Versioned } from '../../runner/memory/versioned.ts';
import { MemoryWorld, shaOf } from '../../runner/memory/world.ts';
import type { LeaseSpec } from '../../runner/lease.ts';
import { outsideContract } from '../helpers/outside-contract.ts';
import { portContract } from '../helpers/port-contract.ts';

// The in-memory state, Lease and Event ports keep the same contract as the cluster's.
portContract('in memory', async () => {
  const state = new Versioned<Record<string, string>>('ConfigMap contract/state', {});
  const lease = new Versioned<LeaseSpec>('Lease contract/lease', { leaseDurationSeconds: 15 });
  const events = new MemoryEvents('contract', 'state');
  return {
    state: (maxBytes) => memoryState(state, 'ConfigMap contract/state', maxBytes),
    missingState: () =>
      memoryState(
        new Versioned<Record<string, string>>('ConfigMap contract/none', undefined),
        'ConfigMap contract/none',
        1000,
      ),
    lease: (now) => memoryLease(lease, 'Lease contract/lease', now),
    missingLease: (now) =>
      memoryLease(new Versioned<LeaseSpec>('Lease contract/none', undefined), 'Lease contract/none', now),
    events: () => events.port(),
    async writeRaw(key, value) {
      const o = state.get()!;
      state.put(o.version, { ...o.value, [key]: value });
    },
    async oldState(data) {
      const store = new Versioned<Record<string, string>>('ConfigMap contract/old', { ...data });
      return {
        old: memoryOldState(store),
        async writeOld(key, value) {
          const o = store.get()!;
          store.put(o.version, { ...o.value, [key]: value });
        },
        oldExists: async () => store.get() !== undefined,
      };
    },
    emitted: async (followerId) =>
      events.created
        .filter((e) => e.metadata.labels[FOLLOWER_LABEL] === followerId)
        .map((e) => ({ action: e.action, reason: e.reason, type: e.type, note: e.note })),
  };
});

// The in-memory mirror and control plane keep the same contract as git and the adapter commands.
const ROOT = join(import.meta.dirname, '../..');
const base = loadRegistry(join(ROOT, 'config/cicd-branch-followers.yaml'), ROOT);
let commits = 0;
const branchOf = (ref: string) => ref.slice('refs/heads/'.length);
outsideContract(
  'in memory',
  async () => {
    const clock = { now: () => Date.parse('2026-01-01T00:00:00.000Z'), sleep: async () => undefined };
    const world = new MemoryWorld(base, clock.now);
    const follower = base.registry.followers.find((f) => f.id === 'hwlab-jd01-v03')!;
    const ports = world.ports(clock);
    return {
      follower,
      mirror: ports.mirror,
      adapters: ports.adapters,
      async pushUpstream() {
        const sha = shaOf(`contract-${commits++}`);
        world.mirror.push(follower.source.mirror, follower.source.branch, sha);
        return sha;
      },
      async finishRun() {
        world.controlPlane.succeed(follower.id);
      },
      other: base.registry.followers.find((f) => f.source.mirror !== follower.source.mirror)!,
      async publish(f, ref) {
        const sha = shaOf(`contract-gitops-${commits++}`);
        world.mirror.publishRef(f.source.mirror, ref, sha);
        return sha;
      },
      async pushForeign(f, ref) {
        const sha = shaOf(`contract-foreign-${commits++}`);
        world.mirror.push(f.source.mirror, branchOf(ref), sha);
        return sha;
      },
      upstreamSha: async (f, ref) => world.mirror.upstream.get(f.source.mirror)!.get(branchOf(ref)),
    };
  },
  5_000,
);
