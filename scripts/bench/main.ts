// npm run bench: what a reconcile pass costs as the registry grows, printed beside baselines
// measured in the same run (the machine is shared and noisy: read the ratios, not the times).
// Today every size runs the real runPass on the in-memory ports (instant adapters, no git, no API
// server); see docs/performance.md for how to read it and what it does not measure yet.
import { join } from 'node:path';
import { loadRegistry } from '../../core/config/load.ts';
import { ROOT } from '../world/registry.ts';
import { registryOf } from './generate.ts';
import { baselineMs, passFigures } from './memory-pass.ts';
import { startupFigures } from './startup.ts';

const SIZES = [3, 100, 1000, 10_000] as const;
const STARTUP_RUNS = 5;

const base = loadRegistry(join(ROOT, 'config/cicd-branch-followers.yaml'), ROOT);
const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(0));
const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
const ratio = (a: number, b: number) => `${(a / Math.max(b, 0.001)).toFixed(1)}×`;

function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

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
    `${(rss / 1024 / 1024).toFixed(0)} MiB`,
  ]);
  for (const [what, f] of [
    ['nothing new', idle],
    ['every follower new', fresh],
  ] as const)
    if (f.end !== 'ok') ends.push(`${n} followers, ${what}: ${f.end}`);
}

process.stdout.write(
  'reconcile pass on the in-memory ports (instant adapters), times in ms; ratios against the baseline: ' +
    'one mirror look + one adapter status per follower on the same ports\n\n',
);
process.stdout.write(
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
if (ends.length > 0) process.stdout.write(`\npasses that did not end ok:\n${ends.map((e) => `  ${e}`).join('\n')}\n`);

const s = startupFigures(STARTUP_RUNS);
process.stdout.write(
  `\nstart-up (median of ${STARTUP_RUNS} interleaved rounds), times in ms; ratios against node -e 0 ` +
    `(${ms(s.nodeMs)} ms)\n\n${table(
      ['command', 'start-up', 'against node -e 0'],
      s.cli.map((c) => [c.label, ms(c.ms), ratio(c.ms, s.nodeMs)]),
    )}\n`,
);
