import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { endOf, runCli } from './cli-run.ts';
import type { BenchServers, BenchWorld } from './real-world.ts';
import type { CountingPath } from './counting-path.ts';

// One real pass of the bench world (`run-once --all --confirm --wait` of the real CLI against the
// real API server, git daemon, sshd and adapter doubles) and what it cost: wall time, subprocesses
// by kind (the counting PATH), API requests and state writes (the API server's audit log), bytes
// sent to the API (the byte proxy), the largest object in the namespace after it, and the pass
// process's peak RSS. Beside it, the naive baseline: one `git ls-remote` per follower.

/** The state ConfigMap name the shipped registry gives the controller; state objects b are <name>-b. */
const STATE_CM = 'branch-follower-state';
const isState = (name: string | undefined) => name === STATE_CM || (name?.startsWith(`${STATE_CM}-`) ?? false);
const MUTATING = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export interface RealPassFigures {
  readonly wallMs: number;
  /** ok, exit <code> with its error line, or killed at the limit. */
  readonly end: string;
  readonly maxRssBytes: number;
  /** Subprocess starts by command name (git, ssh, hwlab, agentrun, web-probe). */
  readonly starts: Readonly<Record<string, number>>;
  readonly triggers: number;
  readonly apiRequests: number;
  readonly stateWrites: number;
  readonly eventWrites: number;
  readonly bytesSent: number;
  /** The largest ConfigMap or Lease of the namespace after the pass, serialized as the API returns it. */
  readonly largest: { readonly name: string; readonly bytes: number };
}

interface AuditEvent {
  readonly verb: string;
  readonly objectRef?: { readonly resource?: string; readonly namespace?: string; readonly name?: string };
}

/** The audit log from `offset` on, one request per line. */
function auditSince(file: string, offset: number): AuditEvent[] {
  const text = readFileSync(file).subarray(offset).toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditEvent);
}

/** The largest ConfigMap or Lease in `ns`, as JSON bytes. */
function largestObject(servers: BenchServers, ns: string): { name: string; bytes: number } {
  const out = execFileSync(
    servers.kubectl,
    ['--kubeconfig', servers.adminKubeconfig, 'get', 'configmaps,leases', '-n', ns, '-o', 'json'],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const items = (JSON.parse(out) as { items: { kind: string; metadata: { name: string } }[] }).items;
  let largest = { name: '-', bytes: 0 };
  for (const item of items) {
    const bytes = Buffer.byteLength(JSON.stringify(item));
    if (bytes > largest.bytes) largest = { name: `${item.kind}/${item.metadata.name}`, bytes };
  }
  return largest;
}

/**
 * One `run-once --all --confirm --wait` of namespace `ns`'s registry, adapters found through `path`; `args` are added
 * (e.g. `--shard 0`).
 */
export async function realPass(
  servers: BenchServers,
  world: BenchWorld,
  ns: string,
  path: CountingPath,
  limitMs: number,
  args: readonly string[] = [],
): Promise<RealPassFigures> {
  const registry = world.registryFor(ns);
  path.reset();
  servers.proxy.reset();
  const triggersBefore = world.double.triggers();
  const auditOffset = statSync(servers.control.auditLog).size;
  const run = await runCli(
    [
      ...['--config', registry.file, '--kubeconfig', servers.passKubeconfig],
      ...['run-once', '--all', '--confirm', '--wait', ...args],
    ],
    { env: { PATH: `${path.dir}:${process.env.PATH ?? ''}`, HOME: servers.scratch }, limitMs },
  );
  const events = auditSince(servers.control.auditLog, auditOffset).filter((e) => e.objectRef?.namespace === ns);
  const writes = (resource: string, named: (name: string | undefined) => boolean = () => true) =>
    events.filter((e) => MUTATING.has(e.verb) && e.objectRef?.resource === resource && named(e.objectRef.name)).length;
  return {
    wallMs: run.wallMs,
    end: endOf(run, limitMs),
    maxRssBytes: run.maxRssBytes,
    starts: path.counts(),
    triggers: world.double.triggers() - triggersBefore,
    apiRequests: events.length,
    stateWrites: writes('configmaps', isState),
    eventWrites: writes('events'),
    bytesSent: servers.proxy.counts().sent,
    largest: largestObject(servers, ns),
  };
}

/** The naive baseline: one `git ls-remote` of its mirror per follower, one after another, within `limitMs`. */
export async function naiveLoop(
  world: BenchWorld,
  limitMs: number,
): Promise<{ wallMs: number; processes: number; complete: boolean }> {
  const started = performance.now();
  let processes = 0;
  for (const f of world.followers) {
    if (performance.now() - started > limitMs)
      return { wallMs: performance.now() - started, processes, complete: false };
    await new Promise<void>((resolve, reject) => {
      const child = spawn('git', ['ls-remote', world.mirrorUrl(f.mirror), `refs/mirror-stage/${f.branch}`], {
        stdio: ['ignore', 'ignore', 'ignore'],
        env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', GIT_CONFIG_NOSYSTEM: '1' },
      });
      child.once('error', reject);
      child.once('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`git ls-remote exited ${code} for ${f.id}`)),
      );
    });
    processes++;
  }
  return { wallMs: performance.now() - started, processes, complete: true };
}
