import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { endOf, runCli } from './cli-run.ts';
import { naiveLoop, type RealPassFigures, realPass } from './real-pass.ts';
import { type BenchServers, buildWorld } from './real-world.ts';
import { mirrorsFor } from './registry-dir.ts';

// One size of the real-server bench: its world, then for each adapter speed a namespace of its own
// (applied by the real CLI) with two measured passes, "nothing new" (every control plane already
// targets its tip, and a first pass recorded that) and "every follower new" (one new commit pushed
// upstream on every branch); `status` of the
// instant namespace after them; and the naive loop of one `git ls-remote` per follower.

/** The Lease duration the registry declares. */
const leaseSeconds = (file: string) =>
  (parse(readFileSync(file, 'utf8')) as { controller: { lease: { durationSeconds: number } } }).controller.lease
    .durationSeconds;

export interface Limits {
  /** Each CLI run (apply, pass, status) is killed past this. */
  readonly cliMs: number;
  /** The naive loop stops past this. */
  readonly naiveMs: number;
}

interface SpeedFigures {
  readonly apply: string;
  readonly idle: RealPassFigures;
  readonly fresh: RealPassFigures;
}

export interface RealFigures {
  readonly n: number;
  readonly mirrors: number;
  readonly setupMs: number;
  readonly instant: SpeedFigures;
  readonly slow: SpeedFigures;
  readonly status: { readonly ms: number; readonly end: string };
  readonly naive: { readonly wallMs: number; readonly processes: number; readonly complete: boolean };
}

export async function realFigures(servers: BenchServers, n: number, limits: Limits): Promise<RealFigures> {
  const started = performance.now();
  const mirrors = mirrorsFor(n);
  const world = await buildWorld(servers, n, mirrors);
  const setupMs = performance.now() - started;
  const env = { PATH: process.env.PATH ?? '', HOME: servers.scratch };
  const speed = async (name: 'instant' | 'slow'): Promise<SpeedFigures> => {
    const ns = `bench-${n}-${name}`;
    const registry = world.registryFor(ns);
    const applied = await runCli(
      ['--config', registry.file, '--kubeconfig', servers.adminKubeconfig, 'apply', '--confirm'],
      { env, limitMs: limits.cliMs },
    );
    await world.targetTips();
    // The first pass records every follower (a write and an Event each); "nothing new" is the pass
    // after it, when nothing changed since.
    const first = await realPass(servers, world, ns, world.paths[name], limits.cliMs);
    if (first.end.startsWith('killed')) await sleep(leaseSeconds(registry.file) * 1000);
    const idle = await realPass(servers, world, ns, world.paths[name], limits.cliMs);
    // A pass killed at the limit still holds the Lease: the next would only skip until it expires.
    if (idle.end.startsWith('killed')) await sleep(leaseSeconds(registry.file) * 1000);
    await world.pushAll();
    const fresh = await realPass(servers, world, ns, world.paths[name], limits.cliMs);
    return { apply: endOf(applied, limits.cliMs), idle, fresh };
  };
  const instant = await speed('instant');
  const statusRun = await runCli(
    ['--config', world.registryFor(`bench-${n}-instant`).file, '--kubeconfig', servers.adminKubeconfig, 'status'],
    { env, limitMs: limits.cliMs },
  );
  const slow = await speed('slow');
  const naive = await naiveLoop(world, limits.naiveMs);
  return {
    n,
    mirrors,
    setupMs,
    instant,
    slow,
    status: { ms: statusRun.wallMs, end: endOf(statusRun, limits.cliMs) },
    naive,
  };
}
