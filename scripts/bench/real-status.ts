import { join } from 'node:path';
import { loadRegistry } from '../../core/config/load.ts';
import { stateObjectIndexes, stateObjectName } from '../../core/config/shards.ts';
import { KubeClient } from '../../core/kube/client.ts';
import { resolveRoute } from '../../core/kube/route.ts';
import { configMapObjects } from '../../runner/kube/state-store.ts';
import { endOf, runCli } from './cli-run.ts';
import { laidOut } from './layout.ts';
import { worldAfterPass } from './memory-pass.ts';
import type { BenchServers } from './real-world.ts';
import { mirrorsFor, writeRegistryDir } from './registry-dir.ts';

// `status` of the real CLI at a size the real pass is not run at (10,000 followers): the controller is
// applied into a namespace of its own by the real CLI, its state ConfigMaps hold the records one pass
// leaves (the real runPass on the in-memory ports, every follower new, so every record is in flight),
// written through the pass's own state store onto the real API server; then `status` is timed, a few
// runs interleaved with `--help` (the CLI's fixed cost) in the same run. No git and no adapter runs.

export interface StatusFigures {
  readonly n: number;
  readonly shards: number;
  readonly stateObjects: number;
  readonly apply: string;
  /** Median of the runs. */
  readonly statusMs: number;
  readonly helpMs: number;
  readonly runs: number;
  /** How the last status run ended, and how many follower rows it showed without a record (0 when all were read). */
  readonly end: string;
  readonly notObserved: number;
  readonly maxRssBytes: number;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function statusFigures(
  servers: BenchServers,
  n: number,
  opts: { readonly cliMs: number; readonly runs: number },
): Promise<StatusFigures> {
  const ns = `bench-status-${n}`;
  const dir = writeRegistryDir(join(servers.scratch, `status-${n}`), n, {
    mirrors: mirrorsFor(n),
    edits: (c) => {
      c.namespace = ns;
      const laid = laidOut(c as { pass: object; state: object }, n);
      c.pass = laid.pass;
      c.state = laid.state;
    },
  });
  const env = { PATH: process.env.PATH ?? '', HOME: servers.scratch };
  const kube = ['--config', dir.file, '--kubeconfig', servers.adminKubeconfig];
  const applied = await runCli([...kube, 'apply', '--confirm'], { env, limitMs: opts.cliMs });
  const apply = endOf(applied, opts.cliMs);

  const loaded = loadRegistry(dir.file, dir.root);
  const c = loaded.registry.controller;
  const world = await worldAfterPass(loaded);
  const { auth, route } = resolveRoute({ kubeconfig: servers.adminKubeconfig }, c.kubeRoute, {});
  const client = new KubeClient(auth, route, { progress: () => undefined });
  for (const b of stateObjectIndexes(c)) {
    const objects = configMapObjects(client, ns, stateObjectName(c, b));
    const current = await objects.get();
    if (!current) throw new Error(`ConfigMap ${ns}/${stateObjectName(c, b)} is missing after apply (${apply})`);
    await objects.put(current.base, world.states[b]!.value ?? {});
  }

  const statusRuns: number[] = [];
  const helpRuns: number[] = [];
  let last = await runCli([...kube, 'status'], { env, limitMs: opts.cliMs });
  for (let i = 0; i < opts.runs; i++) {
    helpRuns.push((await runCli(['--help'], { env, limitMs: opts.cliMs })).wallMs);
    last = await runCli([...kube, 'status'], { env, limitMs: opts.cliMs });
    statusRuns.push(last.wallMs);
  }
  return {
    n,
    shards: c.pass.shards,
    stateObjects: c.state.objects,
    apply,
    statusMs: median(statusRuns),
    helpMs: median(helpRuns),
    runs: opts.runs,
    end: endOf(last, opts.cliMs),
    notObserved: last.stdout.split('\n').filter((l) => /\sNotObserved\s/.test(l)).length,
    maxRssBytes: last.maxRssBytes,
  };
}
