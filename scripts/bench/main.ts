// npm run bench [-- memory disk real shards status latency]: what a reconcile pass costs as the registry grows,
// each figure printed beside a baseline measured in the same run (the machine is shared and noisy: read
// the ratios, not the times). Six sections, all by default:
//   memory  the real runPass on the in-memory ports at 3 … 10,000 followers (instant adapters)
//   disk    `validate` of the real CLI on generated registry directories at 3 … 10,000 followers
//   real    the real CLI's `run-once --all --confirm --wait` against a real kube-apiserver, real git
//           and adapter doubles (instant, 200 ms) at 3, 100 and 1,000 followers
//   shards  the same at 10,000 followers in 10 shards, nothing new: every shard in one process, then
//           one shard alone (as one pod of the CronJob's Job)
//   status  the real CLI's `status` against a real kube-apiserver at 10,000 followers, its state
//           ConfigMaps filled with the records of one in-memory pass
//   latency seconds from push to trigger: pushes at random seconds over SSH while the real CLI's pass
//           runs at every tick, without the watch window (the baseline) and with it (~10 minutes)
// See docs/performance.md for how to read it.
import { join } from 'node:path';
import { loadRegistry } from '../../core/config/load.ts';
import { ROOT } from '../world/registry.ts';
import { diskFigures, helpMs } from './disk-registry.ts';
import { registryOf } from './generate.ts';
import { baselineMs, passFigures } from './memory-pass.ts';
import { type RealFigures, realFigures } from './real-bench.ts';
import type { RealPassFigures } from './real-pass.ts';
import { shardFigures } from './real-shards.ts';
import { statusFigures } from './real-status.ts';
import { type LatencyRun, latencyFigures, quantile } from './latency.ts';
import { envtestAssetsDir, SLOW_ADAPTER_SECONDS, startBenchServers } from './real-world.ts';
import { startupFigures } from './startup.ts';
import { kib, mib, ms, ratio, sec, table } from './table.ts';

const SIZES = [3, 100, 1000, 10_000] as const;
/** The real-server sizes (10,000 runs in memory and on disk only). */
const REAL_SIZES = [3, 100, 1000] as const;
const STARTUP_RUNS = 5;
/** The size `status` is measured at against the real API server, and its runs (median). */
const STATUS_SIZE = 10_000;
const STATUS_RUNS = 5;
/** Each CLI run (validate, apply, a pass, status) is killed past this, and reported so. */
const CLI_LIMIT_MS = 120_000;
/** The naive ls-remote loop stops past this. */
const NAIVE_LIMIT_MS = 60_000;

/** The size the shards section runs the real pass at, and its CLI limit (a pass of 10 shards takes a while). */
const SHARDS_SIZE = 10_000;
const SHARDS_LIMIT_MS = 300_000;

/** The latency section: followers (each its own mirror), minutes of pushes (one per follower a minute), its seed. */
const LATENCY = { followers: 10, minutes: 3, seed: 20261202 } as const;
/** A latency pass is killed past this: the CronJob's activeDeadlineSeconds. */
const LATENCY_LIMIT_MS = 300_000;

const SECTIONS = ['memory', 'disk', 'real', 'shards', 'status', 'latency'] as const;
const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !(SECTIONS as readonly string[]).includes(a));
if (unknown.length > 0) {
  process.stderr.write(`usage: npm run bench [-- ${SECTIONS.join(' ')}] (unknown: ${unknown.join(' ')})\n`);
  process.exit(2);
}
const wants = (s: (typeof SECTIONS)[number]) => asked.length === 0 || asked.includes(s);
const out = (text: string) => process.stdout.write(text);

async function memorySection(): Promise<void> {
  const base = loadRegistry(join(ROOT, 'config/cicd-branch-followers.yaml'), ROOT);
  const rows: string[][] = [];
  const ends: string[] = [];
  for (const n of SIZES) {
    const loaded = registryOf(base, n);
    const floor = await baselineMs(loaded);
    const idle = await passFigures(loaded, true);
    const fresh = await passFigures(loaded, false);
    const rss = process.resourceUsage().maxRSS * 1024;
    rows.push([
      String(n),
      ms(floor),
      `${ms(idle.wallMs)} (${ratio(idle.wallMs, floor)})`,
      `${ms(fresh.wallMs)} (${ratio(fresh.wallMs, floor)})`,
      `${fresh.triggers}`,
      `${idle.stateWrites} / ${fresh.stateWrites}`,
      kib(fresh.stateBytesWritten),
      kib(Math.max(idle.largestObjectBytes, fresh.largestObjectBytes)),
      mib(rss),
    ]);
    for (const [what, f] of [
      ['nothing new', idle],
      ['every follower new', fresh],
    ] as const)
      if (f.end !== 'ok') ends.push(`${n} followers, ${what}: ${f.end}`);
  }
  out(
    '== memory: reconcile pass on the in-memory ports (instant adapters), times in ms; ratios against the ' +
      'baseline: one mirror look + one adapter status per follower on the same ports\n\n',
  );
  out(
    `${table(
      [
        'followers',
        'baseline',
        'pass, nothing new',
        'pass, every follower new',
        'triggers',
        'state writes (idle / new)',
        'state bytes written (new)',
        'largest object',
        'max RSS',
      ],
      rows,
    )}\n`,
  );
  if (ends.length > 0) out(`\npasses that did not end ok:\n${ends.map((e) => `  ${e}`).join('\n')}\n`);
  const s = startupFigures(STARTUP_RUNS);
  out(
    `\nstart-up (median of ${STARTUP_RUNS} interleaved rounds), times in ms; ratios against node -e 0 ` +
      `(${ms(s.nodeMs)} ms)\n\n${table(
        ['command', 'start-up', 'against node -e 0', 'target: within 5x'],
        s.cli.map((c) => [c.label, ms(c.ms), ratio(c.ms, s.nodeMs), c.ms <= 5 * s.nodeMs ? 'met' : 'NOT met']),
      )}\n\n`,
  );
}

async function diskSection(): Promise<void> {
  const help = await helpMs(CLI_LIMIT_MS);
  const rows: string[][] = [];
  for (const n of SIZES) {
    const d = await diskFigures(n, CLI_LIMIT_MS);
    rows.push([
      String(n),
      String(d.mirrors),
      kib(d.registryBytes),
      `${sec(d.validateMs)} (${ratio(d.validateMs, help)})`,
      mib(d.validateRssBytes),
      d.validateEnd,
    ]);
  }
  out(
    `== disk: validate of a generated registry directory (real CLI); ratio against branch-follower --help ` +
      `in the same run (${sec(help)})\n\n`,
  );
  out(`${table(['followers', 'mirrors', 'registry + owning files', 'validate', 'max RSS', 'end'], rows)}\n\n`);
}

const starts = (f: RealPassFigures) => {
  const adapter = (f.starts.hwlab ?? 0) + (f.starts.agentrun ?? 0) + (f.starts['web-probe'] ?? 0);
  return `${f.starts.git ?? 0} / ${f.starts.ssh ?? 0} / ${adapter}`;
};

/** The naive loop's time for every follower: measured, or (stopped at its limit) its rate times N. */
const naiveMs = (r: RealFigures) =>
  r.naive.complete ? r.naive.wallMs : (r.naive.wallMs * r.n) / Math.max(r.naive.processes, 1);

function passRow(r: RealFigures, speed: 'instant' | 'slow', what: 'nothing new' | 'every follower new'): string[] {
  const f = what === 'nothing new' ? r[speed].idle : r[speed].fresh;
  return [
    String(r.n),
    speed === 'instant' ? 'instant' : `${SLOW_ADAPTER_SECONDS * 1000} ms`,
    what,
    `${sec(f.wallMs)} (${ratio(f.wallMs, naiveMs(r))})`,
    starts(f),
    String(f.triggers),
    `${f.apiRequests} / ${f.stateWrites} / ${f.eventWrites}`,
    kib(f.bytesSent),
    `${f.largest.name} ${kib(f.largest.bytes)}`,
    mib(f.maxRssBytes),
    f.end,
  ];
}

/** The envtest binaries, or a line saying the section is skipped without them. */
function assetsFor(section: string): string | undefined {
  const assets = envtestAssetsDir();
  if (!assets)
    out(
      `== ${section}: skipped: set BRANCH_FOLLOWER_ENVTEST_ASSETS to a directory of kube-apiserver, etcd and kubectl ` +
        '(scripts/envtest/build.sh makes one)\n',
    );
  return assets;
}

async function realSection(): Promise<void> {
  const assets = assetsFor('real');
  if (!assets) return;
  const servers = await startBenchServers(assets);
  const results: RealFigures[] = [];
  try {
    for (const n of REAL_SIZES) {
      const started = performance.now();
      results.push(await realFigures(servers, n, { cliMs: CLI_LIMIT_MS, naiveMs: NAIVE_LIMIT_MS }));
      // The tables come at the end; say on stderr that a size is done, as it takes minutes.
      process.stderr.write(`real: ${n} followers measured in ${sec(performance.now() - started)}\n`);
    }
  } finally {
    await servers.dispose();
  }
  out(
    '== real: run-once --all --confirm --wait of the real CLI against a real kube-apiserver, git daemon and sshd; ' +
      'ratios against the naive loop (one git ls-remote per follower, one after another) in the same run\n\n',
  );
  out(
    `${table(
      ['followers (mirrors)', 'naive loop', 'naive processes', 'status', 'apply (instant / 200 ms)', 'world setup'],
      results.map((r) => [
        `${r.n} (${r.mirrors})`,
        r.naive.complete
          ? sec(r.naive.wallMs)
          : `${sec(r.naive.wallMs)} for ${r.naive.processes}, est. ${sec(naiveMs(r))} for ${r.n}`,
        String(r.naive.processes),
        `${sec(r.status.ms)} ${r.status.end}`,
        `${r.instant.apply} / ${r.slow.apply}`,
        sec(r.setupMs),
      ]),
    )}\n\n`,
  );
  out(
    `${table(
      [
        'followers',
        'adapters',
        'pass',
        'wall (× naive)',
        'git / ssh / adapter',
        'triggers',
        'API requests / state writes / events',
        'sent to API',
        'largest object',
        'max RSS',
        'end',
      ],
      results.flatMap((r) =>
        (['instant', 'slow'] as const).flatMap((speed) =>
          (['nothing new', 'every follower new'] as const).map((what) => passRow(r, speed, what)),
        ),
      ),
    )}\n`,
  );
}

async function shardsSection(): Promise<void> {
  const assets = assetsFor('shards');
  if (!assets) return;
  const servers = await startBenchServers(assets);
  try {
    const s = await shardFigures(servers, SHARDS_SIZE, { cliMs: SHARDS_LIMIT_MS });
    out(
      `== shards: run-once of the real CLI at ${s.n} followers over ${s.mirrors} mirrors in 10 shards (instant ` +
        `adapters, nothing new) against a real kube-apiserver, git daemon and sshd; world setup ` +
        `${sec(s.setupMs)}, apply ${s.apply}\n\n`,
    );
    const row = (what: string, f: typeof s.all) => [
      what,
      sec(f.wallMs),
      starts(f),
      `${f.apiRequests} / ${f.stateWrites} / ${f.eventWrites}`,
      kib(f.bytesSent),
      mib(f.maxRssBytes),
      f.end,
    ];
    out(
      `${table(
        [
          'pass',
          'wall',
          'git / ssh / adapter',
          'API requests / state writes / events',
          'sent to API',
          'max RSS',
          'end',
        ],
        [
          row('first (records every follower)', s.record),
          row('nothing new, every shard (--all)', s.all),
          row('nothing new, one shard (--shard 0)', s.one),
        ],
      )}\n\n`,
    );
  } finally {
    await servers.dispose();
  }
}

async function statusSection(): Promise<void> {
  const assets = assetsFor('status');
  if (!assets) return;
  const servers = await startBenchServers(assets);
  try {
    const s = await statusFigures(servers, STATUS_SIZE, { cliMs: CLI_LIMIT_MS, runs: STATUS_RUNS });
    out(
      `== status: status of the real CLI against a real kube-apiserver, the state of one in-memory pass (every ` +
        `follower new) in its state ConfigMaps; median of ${s.runs} runs interleaved with branch-follower --help ` +
        `(${sec(s.helpMs)})\n\n`,
    );
    out(
      `${table(
        ['followers', 'shards / state objects', 'apply', 'status', 'rows without a record', 'max RSS', 'end'],
        [
          [
            String(s.n),
            `${s.shards} / ${s.stateObjects}`,
            s.apply,
            `${sec(s.statusMs)} (${ratio(s.statusMs, s.helpMs)})`,
            String(s.notObserved),
            mib(s.maxRssBytes),
            s.end,
          ],
        ],
      )}\n\n`,
    );
  } finally {
    await servers.dispose();
  }
}

async function latencySection(): Promise<void> {
  const assets = assetsFor('latency');
  if (!assets) return;
  const servers = await startBenchServers(assets);
  try {
    const l = await latencyFigures(servers, { ...LATENCY, limitMs: LATENCY_LIMIT_MS });
    out(
      `== latency: push → trigger over ${l.off.pushes} pushes (${l.followers} followers, each its own mirror, one push ` +
        `a minute at a random second, seed ${l.seed}, ${l.minutes} minutes) into upstreams behind a real sshd, the ` +
        'real CLI\'s run-once --all --confirm --controller started at every tick of "* * * * *" (Forbid), a real ' +
        `kube-apiserver, instant adapter doubles; pod start not included; world setup ${sec(l.setupMs)}\n\n`,
    );
    const s = (v: number) => (Number.isNaN(v) ? '-' : `${(v / 1000).toFixed(1)} s`);
    const row = (what: string, r: LatencyRun) => [
      what,
      `${r.pushes - r.untriggered} / ${r.pushes}`,
      `${s(quantile(r.latenciesMs, 0.5))} (${ratio(quantile(r.latenciesMs, 0.5), quantile(l.off.latenciesMs, 0.5))})`,
      s(quantile(r.latenciesMs, 0.9)),
      s(r.latenciesMs.at(-1) ?? Number.NaN),
      String(r.secondTriggers),
      `${r.lsRemotePerMirrorMinute.mean.toFixed(1)} / ${r.lsRemotePerMirrorMinute.max}`,
      r.flushLsRemotePerMirrorMinute.toFixed(1),
      `${r.upstreamFetches} / ${r.upstreamPushes}`,
      `${r.passes} (${r.ticksSkipped} skipped)`,
      r.ends,
    ];
    out(
      `${table(
        [
          'watch window',
          'triggered',
          'p50 (× baseline)',
          'p90',
          'max',
          'second triggers',
          'upstream ls-remote / mirror / min (mean / max)',
          "of them a flush's (mean)",
          'upstream fetches / pushes',
          'passes (ticks skipped)',
          'end',
        ],
        [
          row('off (baseline)', l.off),
          row(`on: every ${l.window.intervalSeconds} s, ${l.window.marginSeconds} s margin`, l.on),
        ],
      )}\n`,
    );
    out(
      'targets with the window: p50 ≤ 5 s, p90 ≤ 10 s, ≤ 12 upstream ls-remote per mirror a minute, no second trigger\n\n',
    );
  } finally {
    await servers.dispose();
  }
}

if (wants('memory')) await memorySection();
if (wants('disk')) await diskSection();
if (wants('real')) await realSection();
if (wants('shards')) await shardsSection();
if (wants('status')) await statusSection();
if (wants('latency')) await latencySection();
