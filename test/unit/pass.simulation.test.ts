import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRegistry } from '../../core/config/load.ts';
import { runHistory } from '../helpers/sim/history.ts';
import { PROPERTIES } from '../helpers/sim/properties.ts';

// The real pass (runner/pass.ts runPass) on the in-memory ports, over seeded histories: 2–3 passes
// at once, crashes at any await, conflicts, outages, slow reads, pushes and runs finishing between
// and during passes (test/helpers/sim/history.ts). SIM_HISTORIES sets how many (default 10,000);
// SIM_SEED=<n> replays one history and prints its trace.

const ROOT = join(import.meta.dirname, '../..');
const base = loadRegistry(join(ROOT, 'config/cicd-branch-followers.yaml'), ROOT);
const replay = process.env.SIM_SEED === undefined ? undefined : Number(process.env.SIM_SEED);
const count = Number(process.env.SIM_HISTORIES ?? 10_000);
const seeds = replay !== undefined ? [replay] : Array.from({ length: count }, (_, i) => i + 1);

describe('the real pass over seeded histories of concurrent passes, crashes and faults', () => {
  it(`keeps every property in ${seeds.length} histories`, async () => {
    const failures: string[] = [];
    const stats = { passes: 0, sent: 0, writes: 0, crashed: 0, errored: 0, skipped: 0 };
    for (const seed of seeds) {
      const h = await runHistory(seed, base);
      stats.passes += h.passes.length;
      stats.sent += h.sent.length;
      stats.writes += h.written.length;
      for (const p of h.passes) {
        if (p.end === 'crashed') stats.crashed++;
        else if (typeof p.end === 'object' && 'error' in p.end) stats.errored++;
        else if (typeof p.end === 'object' && 'skipped' in p.end.result) stats.skipped++;
      }
      for (const [name, check] of Object.entries(PROPERTIES)) {
        const broken = check(h);
        if (broken.length === 0) continue;
        failures.push(
          `seed ${seed}: ${name}: ${broken.slice(0, 3).join('; ')}\n  replay: SIM_SEED=${seed} npx vitest run ` +
            `test/unit/pass.simulation.test.ts`,
        );
        if (replay !== undefined) failures.push(h.trace.join('\n'));
      }
      if (failures.length >= 5) break;
    }
    console.log(
      `simulation: ${seeds.length} histories, ${stats.passes} passes (${stats.crashed} crashed, ${stats.errored} ` +
        `ended by an outage, ${stats.skipped} skipped for the Lease), ${stats.sent} triggers, ${stats.writes} ` +
        `state writes`,
    );
    expect(failures, failures.join('\n')).toEqual([]);
  }, 120_000);
});
