import { createHash } from 'node:crypto';
import type { ControllerConfig, FollowerConfig } from './schema.ts';

// How followers are spread over the shards of a pass (`controller.pass.shards`), and the names of
// what each shard owns. The hash is of the follower id alone, so a follower stays in its shard for as
// long as the id and the shard count stay: the first 4 bytes of SHA-256(id), big-endian, modulo shards.
// Every shard k holds its own Lease (<lease.name>-k) and keeps its followers' records in its own
// state ConfigMap (<configMaps.state>-k). The unsuffixed names are those of the single-object layout
// before shards: its ConfigMap is carried over by the first pass of a sharded version, under its Lease.

/** The shard that owns follower `id` among `shards`. */
export function shardOf(id: string, shards: number): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % shards;
}

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

/** The state ConfigMap of shard `index`. */
export const shardStateName = (c: Pick<ControllerConfig, 'configMaps'>, index: number): string =>
  `${c.configMaps.state}-${index}`;

/** The Lease of shard `index`. */
export const shardLeaseName = (c: Pick<ControllerConfig, 'lease'>, index: number): string => `${c.lease.name}-${index}`;
