import { endOf, runCli } from './cli-run.ts';
import { type RealPassFigures, realPass } from './real-pass.ts';
import { type BenchServers, buildWorld } from './real-world.ts';
import { mirrorsFor } from './registry-dir.ts';

// The real pass at a size the real section does not run (10,000 followers over 100 mirrors, laid out
// in 10 shards), instant adapters, nothing new (every control plane already targets its tip, and a
// first pass recorded that): every shard side by side in one process, as `run-once --all` runs them
// on a workstation, then one shard alone (`--shard 0`), as one pod of the CronJob's Job runs it.

export interface ShardFigures {
  readonly n: number;
  readonly mirrors: number;
  readonly setupMs: number;
  readonly apply: string;
  /** The first pass, which records every follower. */
  readonly record: RealPassFigures;
  readonly all: RealPassFigures;
  readonly one: RealPassFigures;
}

export async function shardFigures(servers: BenchServers, n: number, limits: { cliMs: number }): Promise<ShardFigures> {
  const started = performance.now();
  const mirrors = mirrorsFor(n);
  const world = await buildWorld(servers, n, mirrors);
  const setupMs = performance.now() - started;
  const ns = `bench-${n}-shards`;
  const registry = world.registryFor(ns);
  const applied = await runCli(
    ['--config', registry.file, '--kubeconfig', servers.adminKubeconfig, 'apply', '--confirm'],
    { env: { PATH: process.env.PATH ?? '', HOME: servers.scratch }, limitMs: limits.cliMs },
  );
  await world.targetTips();
  const path = world.paths.instant;
  const record = await realPass(servers, world, ns, path, limits.cliMs);
  const all = await realPass(servers, world, ns, path, limits.cliMs);
  const one = await realPass(servers, world, ns, path, limits.cliMs, ['--shard', '0']);
  return { n, mirrors, setupMs, apply: endOf(applied, limits.cliMs), record, all, one };
}
