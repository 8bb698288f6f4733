import { createHash } from 'node:crypto';
import type { Clock } from '../../core/clock.ts';
import { gitopsRefOf, type LoadedRegistry } from '../../core/config/load.ts';
import {
  placeInShard,
  shardIndexes,
  shardLeaseName,
  stateObjectIndexes,
  stateObjectName,
  stateObjectsOfShard,
} from '../../core/config/shards.ts';
import { spreadStatePort } from '../state-data.ts';
import type { LeaseSpec } from '../lease.ts';
import type { PassPorts } from '../ports.ts';
import { MemoryControlPlane } from './control-plane.ts';
import { MemoryEvents } from './events.ts';
import { immediate, type CallHook } from './hook.ts';
import { memoryLease } from './lease.ts';
import { MemoryMirror } from './mirror.ts';
import { memoryStateObjects } from './state.ts';
import { Versioned } from './versioned.ts';

/** A distinct 40-hex sha for every label (a commit of a world that has no git). */
export const shaOf = (label: string): string => createHash('sha1').update(label).digest('hex');

// Everything the passes of every shard talk to, in memory, for one registry: the state data and the Lease (behind the
// same compare-and-swap rules as the cluster's), the Events, the git mirror and the control plane.
// Each pass gets its own ports onto this one world, with its own hook (how a simulation
// interleaves, fails or crashes that pass's calls).
export class MemoryWorld {
  /** Every state object (controller.state.objects), by index. */
  readonly states: Versioned<Record<string, string>>[];
  /** Every shard's Lease, by shard. */
  readonly leases: Versioned<LeaseSpec>[];
  readonly events: MemoryEvents;
  readonly mirror: MemoryMirror;
  readonly controlPlane: MemoryControlPlane;
  private readonly loaded: LoadedRegistry;
  private published = 0;

  constructor(loaded: LoadedRegistry, now: () => number) {
    this.loaded = loaded;
    const c = loaded.registry.controller;
    this.states = stateObjectIndexes(c).map(
      (b) => new Versioned(`ConfigMap ${c.namespace}/${stateObjectName(c, b)}`, {}),
    );
    this.leases = shardIndexes(c).map(
      (k) =>
        new Versioned<LeaseSpec>(`Lease ${c.namespace}/${shardLeaseName(c, k)}`, {
          leaseDurationSeconds: c.lease.durationSeconds,
        }),
    );
    this.events = new MemoryEvents(c.namespace, stateObjectName(c, 0));
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

  /** The state object of shard 0 (a world of one state object: the simulation's). */
  get state(): Versioned<Record<string, string>> {
    return this.states[0]!;
  }

  /** The Lease of shard 0. */
  get lease(): Versioned<LeaseSpec> {
    return this.leases[0]!;
  }

  /** The ports of one pass of shard `shard`; `clock` is that pass's view of time. */
  ports(clock: Clock, hook: CallHook = immediate, shard = 0): PassPorts {
    const c = this.loaded.registry.controller;
    const mine = stateObjectsOfShard(c, shard);
    return {
      state: spreadStatePort(
        mine.map((b) => ({
          objects: memoryStateObjects(this.states[b]!, hook),
          where: `ConfigMap ${c.namespace}/${stateObjectName(c, b)}`,
        })),
        (id) => placeInShard(c, id),
        c.state.maxBytes,
      ),
      lease: memoryLease(
        this.leases[shard]!,
        `Lease ${c.namespace}/${shardLeaseName(c, shard)}`,
        () => clock.now(),
        hook,
      ),
      events: this.events.port(hook),
      mirror: this.mirror.port(hook),
      adapters: this.controlPlane.port(clock, hook),
      clock,
    };
  }
}
