import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../world/registry.ts';

// The CLI's fixed cost, beside the cost of starting Node itself, in the same run: every command
// line below and `node -e 0` run once per round, interleaved, so a busy machine slows them alike;
// each figure is the median over the rounds. Each command must end with its exit code, so a
// command that broke early is not mistaken for a fast one.

/** One measured command line of `branch-follower`, run in the project root on the shipped registry. */
interface StartupCase {
  readonly label: string;
  readonly args: readonly string[];
  readonly exitCode: number;
}

const STARTUP_CASES: readonly StartupCase[] = [
  { label: 'branch-follower --help', args: ['--help'], exitCode: 0 },
  { label: 'branch-follower status --help', args: ['status', '--help'], exitCode: 0 },
  { label: 'branch-follower validate', args: ['validate'], exitCode: 0 },
  // The error paths: no registry file (found before anything is parsed), and no kubeconfig (found
  // after the registry is loaded, before the cluster is reached).
  {
    label: 'branch-follower status --config <missing file>',
    args: ['status', '--config', 'does-not-exist/registry.yaml'],
    exitCode: 2,
  },
  {
    label: 'branch-follower status --kubeconfig <missing file>',
    args: ['status', '--kubeconfig', 'does-not-exist/kubeconfig'],
    exitCode: 2,
  },
];

/** The median wall time of one command line, from spawn to exit. */
export interface StartupFigure {
  readonly label: string;
  readonly ms: number;
}

function timeOnce(argv: readonly string[], exitCode: number): number {
  const started = performance.now();
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, stdio: 'ignore' });
  const ms = performance.now() - started;
  if (r.status !== exitCode) throw new Error(`node ${argv.join(' ')} exited ${r.status}, not ${exitCode}`);
  return ms;
}

const median = (times: number[]) => times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;

export function startupFigures(rounds: number): { nodeMs: number; cli: StartupFigure[] } {
  const cli = join(ROOT, 'bin/branch-follower.js');
  const node: number[] = [];
  const times = STARTUP_CASES.map(() => [] as number[]);
  for (let i = 0; i < rounds; i++) {
    node.push(timeOnce(['-e', '0'], 0));
    for (const [j, c] of STARTUP_CASES.entries()) times[j]!.push(timeOnce([cli, ...c.args], c.exitCode));
  }
  return { nodeMs: median(node), cli: STARTUP_CASES.map((c, j) => ({ label: c.label, ms: median(times[j]!) })) };
}
