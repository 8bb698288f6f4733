import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LaneConfig } from '../../scripts/world/fake-control-plane.ts';
import { type PassWorld, eventually, exited, makePassWorld, worldServersOfFile } from '../helpers/pass-world.ts';

// A confirmed pass, SIGKILLed with its whole process group at each point of its work, then a
// pass run again: no sha is sent twice, none is lost (it closes out), and nothing the dead pass
// made on disk — the copy of the SSH key, an adapter's scratch directory — outlives the next pass.
// Every pass of a point runs with a TMPDIR of its own, so what is left there is what it left.

const ID = 'agentrun-jd01-v02';
const LANE = 'agentrun:jd01-v02';

const servers = worldServersOfFile();
const tmps: string[] = [];
afterAll(() => {
  for (const t of tmps) rmSync(t, { recursive: true, force: true });
});

/** What a pass left under its TMPDIR: key copies and adapter scratch directories. */
function leftovers(tmp: string): string[] {
  const under = (dir: string) => {
    try {
      return readdirSync(join(tmp, dir)).map((n) => `${dir}/${n}`);
    } catch {
      return [];
    }
  };
  return [
    ...under('bf-git-ssh'),
    ...under('bf-adapter'),
    ...readdirSync(tmp).filter((n) => n.startsWith('bf-adapter-')),
  ];
}

interface Point {
  readonly name: string;
  readonly lane: LaneConfig;
  readonly wait: boolean;
  /** When the pass is at this point. */
  readonly reached: (w: PassWorld, tmp: string) => Promise<boolean>;
}

const POINTS: readonly Point[] = [
  {
    name: 'while it syncs the mirror over SSH (its key copy on disk)',
    lane: {},
    wait: false,
    reached: async (_w, tmp) => leftovers(tmp).some((l) => l.startsWith('bf-git-ssh/')),
  },
  {
    name: 'while the adapter status runs',
    lane: { statusHangSeconds: 2.5 },
    wait: false,
    reached: async (_w, tmp) => leftovers(tmp).some((l) => l.includes('bf-adapter')),
  },
  {
    name: 'after the write-ahead, before the trigger lands',
    lane: { triggerHangSeconds: 30 },
    wait: false,
    reached: async (w) => (await w.record(ID))?.phase === 'Triggering',
  },
  {
    name: 'after the trigger landed, before its answer',
    lane: { triggerHoldSeconds: 30 },
    wait: false,
    reached: async (w) => w.triggersOf(ID).length === 1,
  },
  {
    name: 'while it waits for closeout',
    lane: { runSeconds: 8 },
    wait: true,
    reached: async (w) => (await w.record(ID))?.phase === 'ClosingOut',
  },
];

describe('a pass killed at every point of its work (real API server, real git over SSH)', () => {
  const figures: string[] = [];
  afterAll(() => console.log(`kill-matrix:\n${figures.join('\n')}`));

  for (const p of POINTS) {
    it(`killed ${p.name}: sent once, closed out, nothing left on disk`, async () => {
      const w = await makePassWorld(servers(), 'kill');
      const tmp = mkdtempSync(join(tmpdir(), 'bf-kill-'));
      tmps.push(tmp);
      Object.assign(w.env, { TMPDIR: tmp });
      const sha = await w.push(ID, { snapshot: true });
      w.configure({ lanes: { [LANE]: p.lane } });
      const child = w.spawn(['run-once', '--follower', ID, '--confirm', ...(p.wait ? ['--wait'] : [])]);
      await eventually(`the pass ${p.name}`, () => p.reached(w, tmp), 30_000);
      process.kill(-child.pid!, 'SIGKILL');
      await exited(child);
      const leftByKill = leftovers(tmp);

      w.configure({ lanes: {} });
      await new Promise((r) => setTimeout(r, 4500)); // the dead pass's Lease (4 s) runs out
      const again = w.spawn(['run-once', '--follower', ID, '--confirm', '--wait']);
      const code = await exited(again);
      expect(code, again.output()).toBe(0);

      const sent = w.triggersOf(ID).map((t) => t.sha);
      const rec = await w.record(ID);
      const left = leftovers(tmp);
      figures.push(
        `  ${p.name}: left by the kill ${leftByKill.length}, after the next pass ${left.length}; ` +
          `triggers ${sent.length}; ${rec?.lastSucceededSha === sha ? 'closed out' : `ended ${rec?.phase}`}`,
      );
      expect(sent).toEqual([sha]); // no duplicate
      expect(rec).toMatchObject({ lastSucceededSha: sha }); // no loss
      expect(left).toEqual([]); // no leak
    });
  }
});
