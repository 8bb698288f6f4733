import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../world/registry.ts';

// Runs the real CLI (`node build/branch-follower.js …`, the bundle) as its own process, the way a person or the CronJob
// pod does, under GNU time for its peak resident memory, with a time limit: a run past it is killed
// (its whole process group) and reported as such, so a bench never hangs on a slow pass. Async, so
// the bench's own servers (the byte proxy) keep serving while it runs.

const TIME = '/usr/bin/time';

export interface CliRun {
  /** Exit code; null when the run was killed at its time limit. */
  readonly code: number | null;
  readonly wallMs: number;
  /** Peak resident memory of the CLI process, in bytes (0 when it was killed before time could say). */
  readonly maxRssBytes: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export function runCli(
  args: readonly string[],
  opts: { readonly env: NodeJS.ProcessEnv; readonly limitMs: number },
): Promise<CliRun> {
  const scratch = mkdtempSync(join(tmpdir(), 'bf-bench-cli-'));
  const rssFile = join(scratch, 'rss');
  const started = performance.now();
  const child = spawn(
    TIME,
    ['-f', '%M', '-o', rssFile, process.execPath, join(ROOT, 'build/branch-follower.js'), ...args],
    {
      cwd: ROOT,
      env: opts.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => (stderr += c));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(-child.pid!, 'SIGKILL');
  }, opts.limitMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      const wallMs = performance.now() - started;
      let rssKiB = 0;
      try {
        rssKiB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1)) || 0;
      } catch {
        rssKiB = 0;
      }
      rmSync(scratch, { recursive: true, force: true });
      resolve({ code: timedOut ? null : code, wallMs, maxRssBytes: rssKiB * 1024, stdout, stderr, timedOut });
    });
  });
}

/** How a run ended, in a few words: ok, exit <code> with its last error line, or killed at the limit. */
export function endOf(run: CliRun, limitMs: number): string {
  if (run.timedOut) return `killed at the ${Math.round(limitMs / 1000)} s limit`;
  // A pass that found the Lease held (e.g. by a pass killed at the limit, until it expires) did nothing.
  const skipped = run.stdout.split('\n').find((l) => l.startsWith('skipped:'));
  if (run.code === 0) return skipped ?? 'ok';
  const last = run.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('next:') && !l.startsWith('branch-follower '))
    .find((l) => /error|refused|exceed|fail/i.test(l));
  return `exit ${run.code}${last ? `: ${last.slice(0, 160)}` : ''}`;
}
