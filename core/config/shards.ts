import { createHash } from 'node:crypto';
import type { ControllerConfig, FollowerConfig } from './schema.ts';

// How followers are spread over the shards of a pass (`controller.pass.shards`), and the names of
// what each shard owns. The hash is of the follower id alone, so a follower stays in its shard for as
// long as the id and the shard count stay: the first 4 bytes of SHA-256(id), big-endian, modulo shards.
// Every shard k holds its own Lease (<lease.name>-k) and keeps its followers' records in state
// ConfigMaps of its own: <configMaps.state>-b for the state objects b with b % shards = k (a follower's
// record is in object hash % controller.state.objects, a multiple of shards). The unsuffixed names are those of the single-object layout
// before shards: its ConfigMap is carried over by the first pass of a sharded version, under its Lease.

const hashes = new Map<string, number>();

/** The stable hash of a follower id: the first 4 bytes of SHA-256(id), big-endian (computed once per id). */
function hashOf(id: string): number {
  let h = hashes.get(id);
  if (h === undefined) {
    h = createHash('sha256').update(id).digest().readUInt32BE(0);
    hashes.set(id, h);
  }
  return h;
}

/** The shard that owns follower `id` among `shards`. */
export function shardOf(id: string, shards: number): number {
  return hashOf(id) % shards;
}

/**
 * The state object (0 … controller.state.objects-1) that keeps follower `id`'s record. `objects` is a multiple of the
 * shard count, so object b belongs to shard b % shards — the shard of every follower it holds.
 */
export function stateObjectOf(id: string, objects: number): number {
  return hashOf(id) % objects;
}

/** The state ConfigMap of state object `index`. */
export const stateObjectName = (c: Pick<ControllerConfig, 'configMaps'>, index: number): string =>
  `${c.configMaps.state}-${index}`;

/** The state objects shard `index` keeps its records in, in order. */
export function stateObjectsOfShard(c: Pick<ControllerConfig, 'pass' | 'state'>, index: number): number[] {
  const out: number[] = [];
  for (let b = index; b < c.state.objects; b += c.pass.shards) out.push(b);
  return out;
}

/**
 * Where follower `id`'s object is among its shard's objects (stateObjectsOfShard): the shard's objects are
 * shard, shard + shards, …, so object b is at place b / shards.
 */
export const placeInShard = (c: Pick<ControllerConfig, 'pass' | 'state'>, id: string): number =>
  Math.floor(stateObjectOf(id, c.state.objects) / c.pass.shards);

/** Every state object, 0 … controller.state.objects-1. */
export const stateObjectIndexes = (c: Pick<ControllerConfig, 'state'>): number[] =>
  Array.from({ length: c.state.objects }, (_, b) => b);

/** The followers shard `index` owns, in registry order. */
export function followersOfShard<F extends Pick<FollowerConfig, 'id'>>(
  followers: readonly F[],
  shards: number,
  index: number,
): F[] {
  return followers.filter((f) => shardOf(f.id, shards) === index);
}

/** Every shard index, 0 … shards-1. */
export const shardIndexes = (c: Pick<ControllerConfig, 'pass'>): number[] =>
  Array.from({ length: c.pass.shards }, (_, k) => k);

/** The Lease of shard `index`. */
export const shardLeaseName = (c: Pick<ControllerConfig, 'lease'>, index: number): string => `${c.lease.name}-${index}`;
