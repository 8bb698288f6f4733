import { createHash } from 'node:crypto';
import type { Clock } from '../../core/clock.ts';
import { gitopsRefOf, type LoadedRegistry } from '../../core/config/load.ts';
import { shardLeaseName, shardStateName } from '../../core/config/shards.ts';
import type { LeaseSpec } from '../lease.ts';
import type { PassPorts } from '../ports.ts';
import { MemoryControlPlane } from './control-plane.ts';
import { MemoryEvents } from './events.ts';
import { immediate, type CallHook } from './hook.ts';
import { memoryLease } from './lease.ts';
import { MemoryMirror } from './mirror.ts';
import { memoryState } from './state.ts';
import { Versioned } from './versioned.ts';

/** A distinct 40-hex sha for every label (a commit of a world that has no git). */
export const shaOf = (label: string): string => createHash('sha1').update(label).digest('hex');

// Everything a pass of shard 0 talks to, in memory, for one registry (every follower in that shard): the state data and the Lease (behind the
// same compare-and-swap rules as the cluster's), the Events, the git mirror and the control plane.
// Each pass gets its own ports onto this one world, with its own hook (how a simulation
// interleaves, fails or crashes that pass's calls).
export class MemoryWorld {
  readonly state: Versioned<Record<string, string>>;
  readonly lease: Versioned<LeaseSpec>;
  readonly events: MemoryEvents;
  readonly mirror: MemoryMirror;
  readonly controlPlane: MemoryControlPlane;
  private readonly loaded: LoadedRegistry;
  private published = 0;

  constructor(loaded: LoadedRegistry, now: () => number) {
    this.loaded = loaded;
    const c = loaded.registry.controller;
    this.state = new Versioned(`ConfigMap ${c.namespace}/${shardStateName(c, 0)}`, {});
    this.lease = new Versioned(`Lease ${c.namespace}/${shardLeaseName(c, 0)}`, {
      leaseDurationSeconds: c.lease.durationSeconds,
    });
    this.events = new MemoryEvents(c.namespace, shardStateName(c, 0));
    const followers = new Map(
      loaded.registry.followers.map((f) => [
        f.id,
        { mirror: f.source.mirror, branch: f.source.branch, adapter: f.adapter, gitopsRef: gitopsRefOf(loaded, f.id) },
      ]),
    );
    this.mirror = new MemoryMirror(followers);
    this.controlPlane = new MemoryControlPlane(now, (id) =>
      this.mirror.publish(id, shaOf(`gitops-${this.published++}`)),
    );
  }

  /** The ports of one pass; `clock` is that pass's view of time. */
  ports(clock: Clock, hook: CallHook = immediate): PassPorts {
    const c = this.loaded.registry.controller;
    return {
      state: memoryState(this.state, `ConfigMap ${c.namespace}/${shardStateName(c, 0)}`, c.state.maxBytes, hook),
      lease: memoryLease(this.lease, `Lease ${c.namespace}/${shardLeaseName(c, 0)}`, () => clock.now(), hook),
      events: this.events.port(hook),
      mirror: this.mirror.port(hook),
      adapters: this.controlPlane.port(clock, hook),
      clock,
    };
  }
}
