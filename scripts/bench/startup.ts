import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../world/registry.ts';

// The CLI's fixed cost, beside the cost of starting Node itself, in the same run: the median of
// `runs` paired runs of `node -e 0` and `branch-follower --help`.

function medianMs(argv: readonly string[], runs: number): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const r = spawnSync(process.execPath, argv, { cwd: ROOT, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`node ${argv.join(' ')} exited ${r.status}`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function startupFigures(runs: number): { nodeMs: number; helpMs: number } {
  return { nodeMs: medianMs(['-e', '0'], runs), helpMs: medianMs([join(ROOT, 'src/cli/main.ts'), '--help'], runs) };
}
