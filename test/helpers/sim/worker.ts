import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { loadRegistry } from '../../../core/config/load.ts';
import { runHistory } from './history.ts';
import { PROPERTIES } from './properties.ts';

// One share of the simulation's histories, in a worker thread of its own (the test runs one per
// core): every seed's history, every property checked on it; posts the failures and the counts.

export interface SimShare {
  readonly seeds: readonly number[];
  /** Print the trace of a failing history (when replaying one seed). */
  readonly trace: boolean;
  readonly replayFile: string;
}

export interface SimReport {
  readonly failures: string[];
  readonly stats: {
    histories: number;
    passes: number;
    sent: number;
    writes: number;
    crashed: number;
    errored: number;
    skipped: number;
  };
}

const ROOT = join(import.meta.dirname, '../../..');
const base = loadRegistry(join(ROOT, 'config/cicd-branch-followers.yaml'), ROOT);
const share = workerData as SimShare;
const report: SimReport = {
  failures: [],
  stats: { histories: 0, passes: 0, sent: 0, writes: 0, crashed: 0, errored: 0, skipped: 0 },
};
const s = report.stats;
for (const seed of share.seeds) {
  const h = await runHistory(seed, base);
  s.histories++;
  s.passes += h.passes.length;
  s.sent += h.sent.length;
  s.writes += h.written.length;
  for (const p of h.passes) {
    if (p.end === 'crashed') s.crashed++;
    else if (typeof p.end === 'object' && 'error' in p.end) s.errored++;
    else if (typeof p.end === 'object' && 'skipped' in p.end.result) s.skipped++;
  }
  for (const [name, check] of Object.entries(PROPERTIES)) {
    const broken = check(h);
    if (broken.length === 0) continue;
    report.failures.push(
      `seed ${seed}: ${name}: ${broken.slice(0, 3).join('; ')}\n  replay: SIM_SEED=${seed} npx vitest run ${share.replayFile}`,
    );
    if (share.trace) report.failures.push(h.trace.join('\n'));
  }
  if (report.failures.length >= 5) break;
}
parentPort!.postMessage(report);
