import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CliRun, endOf, runCli } from './cli-run.ts';
import { type BenchServers, type BenchWorld, buildWorld } from './real-world.ts';

// Seconds from push to trigger: pushes at random seconds into real upstream repositories behind a
// real sshd, while the real CLI's `run-once --all --confirm --controller` runs at every tick of the
// shipped schedule ("* * * * *"), as the CronJob starts its pod (concurrencyPolicy Forbid: a tick
// whose previous pass still runs starts none), against the real API server and adapter doubles that
// record when each trigger came. Once with the shipped registry (no watch window: the baseline), once
// with controller.pass.watchWindow.enabled. Each follower has a mirror of its own and gets one push a
// minute, at least MIN_GAP_MS after its previous one; every push is on top of its branch's tip.
// What it costs the upstream: every `git ls-remote` the passes ran against an upstream URL, per
// mirror, in each minute between two ticks. The pod's start is not in these figures: the pass
// process starts at the tick itself.

/** A follower's pushes are at least this far apart (two within one look would be one sha seen). */
const MIN_GAP_MS = 15_000;
const MINUTE = 60_000;

export interface LatencyRun {
  readonly window: boolean;
  readonly pushes: number;
  /** push → trigger of every push that was triggered, ms, sorted. */
  readonly latenciesMs: readonly number[];
  /** Pushes never triggered (a later push of the branch came first, or the run ended). */
  readonly untriggered: number;
  /** Triggers of a sha that had been triggered already. */
  readonly secondTriggers: number;
  /** Upstream ls-remote calls per mirror in one minute between ticks: mean and the largest. */
  readonly lsRemotePerMirrorMinute: { readonly mean: number; readonly max: number };
  /** Of them, per mirror per minute on average: a flush's (its plan and its recheck read GitOps refs). */
  readonly flushLsRemotePerMirrorMinute: number;
  /** Pushes to an upstream: the flushes of GitOps refs. */
  readonly upstreamPushes: number;
  readonly upstreamFetches: number;
  readonly passes: number;
  /** Ticks that started no pass, because the previous one still ran. */
  readonly ticksSkipped: number;
  /** How the passes ended, with how many of each. */
  readonly ends: string;
}

export interface LatencyFigures {
  readonly followers: number;
  readonly minutes: number;
  readonly seed: number;
  readonly setupMs: number;
  readonly window: { readonly intervalSeconds: number; readonly marginSeconds: number };
  readonly off: LatencyRun;
  readonly on: LatencyRun;
}

/** A small seeded generator (mulberry32): the same push seconds for the same seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** When each follower pushes, ms after the first tick: one push a minute, MIN_GAP_MS apart at least. */
function pushPlan(followers: number, minutes: number, next: () => number): { follower: number; atMs: number }[] {
  const plan: { follower: number; atMs: number }[] = [];
  for (let i = 0; i < followers; i++) {
    let previous = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < minutes; k++) {
      const at = Math.max(k * MINUTE + Math.floor(next() * MINUTE), previous + MIN_GAP_MS);
      plan.push({ follower: i, atMs: at });
      previous = at;
    }
  }
  return plan.sort((a, b) => a.atMs - b.atMs);
}

/** The value at quantile q of sorted values (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The upstream URL a logged git start asked ls-remote of, if it did (mirror reads are git:// URLs). */
function upstreamLsRemote(line: string): string | undefined {
  const words = line.split(' ');
  const at = words.indexOf('ls-remote');
  if (at < 0) return undefined;
  return words.slice(at + 1).find((w) => w.startsWith('ssh://'));
}

async function runMode(
  servers: BenchServers,
  world: BenchWorld,
  window: boolean,
  plan: readonly { follower: number; atMs: number }[],
  minutes: number,
  limitMs: number,
): Promise<LatencyRun> {
  const ns = `latency-${window ? 'window' : 'ticks'}`;
  const registry = world.registryFor(ns);
  if (window) {
    const text = readFileSync(registry.file, 'utf8');
    // The registry as written: block or flow style.
    const on = text
      .replace(/(\n {4}watchWindow:\n {6}enabled:) false\n/, '$1 true\n')
      .replace(/(\n {4}watchWindow: \{ enabled:) false,/, '$1 true,');
    if (on === text) throw new Error(`latency bench: no watchWindow.enabled: false in ${registry.file}`);
    writeFileSync(registry.file, on);
  }
  const env = { PATH: process.env.PATH ?? '', HOME: servers.scratch };
  const applied = await runCli(
    ['--config', registry.file, '--kubeconfig', servers.adminKubeconfig, 'apply', '--confirm'],
    {
      env,
      limitMs,
    },
  );
  if (applied.code !== 0) throw new Error(`latency bench: apply ${endOf(applied, limitMs)}`);
  await world.targetTips();
  const path = world.paths.instant;
  path.reset();
  const passEnv = { PATH: `${path.dir}:${process.env.PATH ?? ''}`, HOME: servers.scratch };
  const args = ['--config', registry.file, '--kubeconfig', servers.passKubeconfig, 'run-once', '--all', '--confirm'];

  // The first tick at least 5 s away, so that apply's dust has settled.
  const t0 = Math.ceil((Date.now() + 5_000) / MINUTE) * MINUTE;
  const pushed: { lane: string; sha: string; atMs: number }[] = [];
  const pushing = (async () => {
    for (const p of plan) {
      const wait = t0 + p.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      const f = world.followers[p.follower]!;
      const repo = `n${world.n}/${world.repos[f.mirror]!}`;
      const sha = await servers.ssh.commit(repo, f.branch, `latency ${ns} ${p.atMs}`);
      pushed.push({ lane: f.lane, sha, atMs: Date.now() });
    }
  })();

  // The CronJob: a pass at every tick unless the previous one still runs; ls-remote counted per minute.
  const runs: Promise<CliRun>[] = [];
  let running: Promise<CliRun> | undefined;
  let ticksSkipped = 0;
  const perMinute: Map<string, number>[] = [];
  let seen = 0;
  const countMinute = () => {
    const lines = path.lines();
    const counts = new Map<string, number>();
    for (const line of lines.slice(seen)) {
      const url = upstreamLsRemote(line);
      if (url === undefined) continue;
      counts.set(url, (counts.get(url) ?? 0) + 1);
      // A flush reads only GitOps refs; a look's sync, the followed branches.
      if (line.includes(' refs/heads/gitops/')) counts.set(`flush ${url}`, (counts.get(`flush ${url}`) ?? 0) + 1);
    }
    seen = lines.length;
    return counts;
  };
  const triggered = () => {
    const got = new Set(world.double.triggerLog().map((t) => `${t.lane} ${t.sha}`));
    return pushed.length === plan.length && pushed.every((p) => got.has(`${p.lane} ${p.sha}`));
  };
  for (let tick = 0; ; tick++) {
    const wait = t0 + tick * MINUTE - Date.now();
    if (wait > 0) await sleep(wait);
    if (tick > 0) perMinute.push(countMinute());
    // Every push made and triggered, or one more minute than the plan took: the last tick.
    if (tick >= minutes && (triggered() || tick > minutes + 1)) break;
    if (running) {
      ticksSkipped++;
      continue;
    }
    const run = runCli([...args, '--controller'], { env: passEnv, limitMs });
    runs.push(run);
    running = run;
    void run.then(() => {
      if (running === run) running = undefined;
    });
  }
  await pushing;
  const done = await Promise.all(runs);
  const log = world.double.triggerLog();
  const first = new Map<string, number>();
  let secondTriggers = 0;
  const mine = new Set(pushed.map((p) => `${p.lane} ${p.sha}`));
  for (const t of log) {
    const key = `${t.lane} ${t.sha}`;
    if (!mine.has(key)) continue;
    if (first.has(key)) secondTriggers++;
    else first.set(key, t.atMs);
  }
  const latenciesMs = pushed
    .map((p) => first.get(`${p.lane} ${p.sha}`))
    .map((at, i) => (at === undefined ? undefined : at - pushed[i]!.atMs))
    .filter((ms): ms is number => ms !== undefined)
    .sort((a, b) => a - b);
  // Per mirror per minute: the calls whose upstream URL names that mirror's repository.
  const ofMirror = (m: Map<string, number>, repo: string, flush: boolean) =>
    [...m]
      .filter(([key]) => key.startsWith('flush ') === flush && key.endsWith(`/n${world.n}/${repo}`))
      .reduce((a, [, n]) => a + n, 0);
  const counted = perMinute.slice(0, minutes);
  const minuteCounts = counted.flatMap((m) => world.repos.map((repo) => ofMirror(m, repo, false)));
  const flushCounts = counted.flatMap((m) => world.repos.map((repo) => ofMirror(m, repo, true)));
  const ends = new Map<string, number>();
  for (const r of done) ends.set(endOf(r, limitMs), (ends.get(endOf(r, limitMs)) ?? 0) + 1);
  return {
    window,
    pushes: pushed.length,
    latenciesMs,
    untriggered: pushed.length - latenciesMs.length,
    secondTriggers,
    lsRemotePerMirrorMinute: {
      mean: minuteCounts.reduce((a, b) => a + b, 0) / Math.max(1, minuteCounts.length),
      max: Math.max(0, ...minuteCounts),
    },
    flushLsRemotePerMirrorMinute: flushCounts.reduce((a, b) => a + b, 0) / Math.max(1, flushCounts.length),
    upstreamFetches: path.lines().filter((l) => / fetch .*ssh:\/\//.test(l)).length,
    upstreamPushes: path.lines().filter((l) => / push .*ssh:\/\//.test(l)).length,
    passes: done.length,
    ticksSkipped,
    ends: [...ends].map(([end, n]) => `${n}× ${end}`).join(', '),
  };
}

export async function latencyFigures(
  servers: BenchServers,
  opts: { readonly followers: number; readonly minutes: number; readonly seed: number; readonly limitMs: number },
): Promise<LatencyFigures> {
  const started = performance.now();
  const world = await buildWorld(servers, opts.followers, opts.followers);
  const setupMs = performance.now() - started;
  const plan = pushPlan(opts.followers, opts.minutes, random(opts.seed));
  const off = await runMode(servers, world, false, plan, opts.minutes, opts.limitMs);
  const on = await runMode(servers, world, true, plan, opts.minutes, opts.limitMs);
  const shipped = readFileSync(world.registryFor('latency-window').file, 'utf8');
  const number = (key: string) => Number(new RegExp(`watchWindow:[^]*?${key}: (\\d+)`).exec(shipped)?.[1]);
  return {
    followers: opts.followers,
    minutes: opts.minutes,
    seed: opts.seed,
    setupMs,
    window: { intervalSeconds: number('intervalSeconds'), marginSeconds: number('marginSeconds') },
    off,
    on,
  };
}
