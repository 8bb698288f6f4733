import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { SimReport, SimShare } from '../helpers/sim/worker.ts';

// The real pass (runner/pass.ts runPass) on the in-memory ports, over seeded histories: 2–3 passes
// at once, crashes at any await, conflicts, outages, slow reads, pushes and runs finishing between
// and during passes (test/helpers/sim/history.ts), every property (test/helpers/sim/properties.ts)
// checked on each. The seeds are shared out over one worker thread per core. SIM_HISTORIES sets how
// many (default 10,000); SIM_SEED=<n> replays one history and prints its trace.

const FILE = 'test/unit/pass.simulation.test.ts';
const replay = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);
const count = Number(process.env.SIM_HISTORIES ?? 10_000);
const seeds = replay !== undefined ? [replay] : Array.from({ length: count }, (_, i) => i + 1);
const threads = Math.max(1, Math.min(availableParallelism(), seeds.length));

function runShare(share: SimShare): Promise<SimReport> {
  return new Promise((resolve, reject) => {
    const w = new Worker(join(import.meta.dirname, '../helpers/sim/worker.ts'), { workerData: share });
    w.once('message', (r: SimReport) => resolve(r));
    w.once('error', reject);
    w.once('exit', (code) => code !== 0 && reject(new Error(`simulation worker exited ${code}`)));
  });
}

describe('the real pass over seeded histories of concurrent passes, crashes and faults', () => {
  it(`keeps every property in ${seeds.length} histories`, async () => {
    const shares = Array.from({ length: threads }, (_, t) => seeds.filter((_, i) => i % threads === t));
    const reports = await Promise.all(
      shares.map((s) => runShare({ seeds: s, trace: replay !== undefined, replayFile: FILE })),
    );
    const total = (k: keyof SimReport['stats']) => reports.reduce((n, r) => n + r.stats[k], 0);
    console.log(
      `simulation: ${total('histories')} histories on ${threads} threads, ${total('passes')} passes ` +
        `(${total('crashed')} crashed, ${total('errored')} ended by an outage, ${total('skipped')} skipped for the Lease), ` +
        `${total('sent')} triggers, ${total('writes')} state writes`,
    );
    const failures = reports.flatMap((r) => r.failures);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(total('histories')).toBe(seeds.length);
  }, 300_000);
});
