import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourceType } from '../../core/kube/resources.ts';
import { startGitServer, type GitServer } from '../../scripts/world/git-server.ts';
import { startSshUpstream, type SshUpstream } from '../../scripts/world/ssh-upstream.ts';
import type { CliResult } from '../helpers/cli.ts';
import { adminClient } from '../helpers/cluster.ts';
import { disposeWorlds, makePassWorld, type FollowerId, type PassWorld } from '../helpers/pass-world.ts';
import {
  leaksIn,
  plantedCorpus,
  secretValueCases,
  unseenMarkers,
  type PlantedCase,
} from '../helpers/redaction-corpus.ts';

// Issue 11: no secret slips out of an adapter's answer. The corpus of planted secrets
// (test/helpers/redaction-corpus.ts), the literal value of the mounted SSH identity among them, is
// planted in every way the fake control planes can print it: the status JSON's run.message and
// run.name, the trigger's run.name, extra fields on stdout, stderr lines, and the errors of a failing
// status, a failing trigger and a status that is not JSON. Real passes of the CLI run on it against
// the real API server; then every output format of every verb that shows what a pass recorded, the
// state ConfigMap and the namespace's Events are searched for every planted value, as it is and as a
// JSON string holds it. Each planting has values and markers of its own: a marker that shows proves
// its text came through to be searched, so the test cannot pass only because nothing arrived.

const CONFIG_MAP = resourceType('v1', 'ConfigMap');
// Every output format a verb offers: the table, -o json (also --json), -o yaml, and --raw.
const FORMATS = [[], ['-o', 'json'], ['-o', 'yaml'], ['--raw']] as const;
const IDS: readonly FollowerId[] = ['hwlab-jd01-v03', 'agentrun-jd01-v02', 'web-probe-sentinel-master'];

let git: GitServer;
let ssh: SshUpstream;
beforeAll(async () => {
  [git, ssh] = await Promise.all([startGitServer(), startSshUpstream()]);
});
afterAll(async () => {
  disposeWorlds();
  await Promise.all([git.dispose(), ssh.dispose()]);
});

/** The corpus under one tag, after the mounted key's literal forms (its cut-short key block last). */
const corpus = (key: string, tag: string) => [...secretValueCases(key, tag), ...plantedCorpus(tag)];
const joined = (cases: readonly PlantedCase[]) => cases.map((c) => c.text).join('\n');

/** What each planting carries and where it goes; `reaches`: its texts must show somewhere. */
function plantings(key: string) {
  const oneLine = corpus(key, 'n').filter((c) => !c.text.includes('\n'));
  return {
    /** hwlab status stdout: run.message of its runs, which fail. */
    runMessage: { cases: corpus(key, 'm'), reaches: 'all' },
    /** hwlab trigger and status stdout: the name of every run (one line, so a few shapes). */
    runName: { cases: oneLine.slice(0, 8), reaches: 'all' },
    /** hwlab stdout (an extra field the contract drops) and stderr of commands that succeed. */
    dropped: { cases: corpus(key, 'o'), reaches: 'none' },
    /** agentrun: a status that exits 3, its stderr in the error. */
    statusError: { cases: corpus(key, 'e'), reaches: 'some' },
    /** web-probe: a trigger that exits 4, its stderr in the error; stdout and stderr of its status. */
    triggerError: { cases: corpus(key, 't'), reaches: 'some' },
    /** agentrun, later: a status that prints something that is not JSON, with the same on stderr. */
    garbage: { cases: corpus(key, 'g'), reaches: 'some' },
  } as const;
}

describe('no planted secret comes out of a pass, in any output, the state or the Events', () => {
  it('plants the corpus in every adapter output, runs real passes, and finds 0 bytes of any planted value', async () => {
    const w: PassWorld = await makePassWorld({ git, ssh }, 'redact');
    // The world mounts this very key as the githubSsh identity (<sshMountPath>/identity/<key>).
    const key = readFileSync(ssh.identityFile, 'utf8');
    const p = plantings(key);
    const all = Object.values(p).flatMap((x) => x.cases);
    expect(new Set(all.map((c) => c.marker)).size).toBe(all.length);

    const out = new Map<string, string>();
    let commands = 0;
    const run = async (args: string[]) => {
      const r: CliResult = await w.run(args);
      expect([0, 5], `${args.join(' ')}: ${r.stderr}`).toContain(r.code);
      const name = `#${++commands} ${args.join(' ')}`;
      out.set(`${name} (stdout)`, r.stdout);
      out.set(`${name} (stderr)`, r.stderr);
      return r;
    };

    for (const id of IDS) await w.push(id, { snapshot: true });
    const lanes = (agentrun: Record<string, unknown>) => ({
      lanes: {
        'hwlab:v03': {
          outcome: 'fail' as const,
          runMessage: joined(p.runMessage.cases),
          runNamePrefix: `${joined(p.runName.cases).replaceAll('\n', ' ')} `,
          leak: joined(p.dropped.cases),
        },
        'agentrun:jd01-v02': { leak: joined(p.statusError.cases), ...agentrun },
        'web-probe:v03': { triggerExit: 4, leak: joined(p.triggerError.cases) },
      },
    });

    // Decisions, then passes: each follower fails its own way, and is retried within its budget.
    w.configure(lanes({ statusExit: 3 }));
    for (const format of FORMATS) await run(['run-once', '--all', '--dry-run', ...format]);
    for (const format of FORMATS) await run(['run-once', '--all', '--confirm', '--wait', ...format]);
    w.configure(lanes({ statusGarbage: true, leak: joined(p.garbage.cases) }));
    for (const format of FORMATS) await run(['run-once', '--all', '--confirm', '--wait', ...format]);
    await run(['run-once', '--follower', 'agentrun-jd01-v02', '--dry-run', '-o', 'json']);

    // Everything that shows what the passes recorded, in every format it offers.
    for (const format of [...FORMATS, ['-o', 'wide']]) {
      await run(['status', ...format]);
      await run(['git-mirror', 'status', '--local', ...format]);
      for (const id of IDS) {
        await run(['events', '--follower', id, ...format]);
        await run(['logs', '--follower', id, ...format]);
      }
    }
    const admin = adminClient();
    const state = await admin.get(CONFIG_MAP, w.ns, 'branch-follower-state-0');
    expect(state).toBeDefined();
    out.set('state ConfigMap', JSON.stringify(state));
    for (const [k, v] of Object.entries((state!.data ?? {}) as Record<string, string>))
      out.set(`state ConfigMap data ${k}`, v);
    // The Events as both APIs serve them: events.k8s.io/v1 (what the pass writes) and core v1.
    for (const path of [`/apis/events.k8s.io/v1/namespaces/${w.ns}/events`, `/api/v1/namespaces/${w.ns}/events`]) {
      const ctx = { verb: 'list', resource: path, context: 'envtest', server: admin.route.server };
      const res = await admin.raw('GET', path, ctx);
      expect(res.status).toBe(200);
      expect((JSON.parse(res.body) as { items: unknown[] }).items.length).toBeGreaterThan(0);
      out.set(`Events ${path}`, res.body);
    }

    // The texts came through: every planting that should reach an output did, the run message whole.
    for (const [name, planting] of Object.entries(p)) {
      const unseen = unseenMarkers(planting.cases, out);
      if (planting.reaches === 'all') expect(unseen, name).toEqual([]);
      if (planting.reaches === 'some') expect(unseen.length, name).toBeLessThan(planting.cases.length);
    }
    // Each command's stdout and stderr, the ConfigMap whole and each record, the Events of two APIs.
    expect(out.size).toBe(2 * commands + 1 + IDS.length + 2);

    // And nothing of what they carried: no value, no 24 characters of one, not even the word every
    // corpus value starts with.
    expect(leaksIn(all, out)).toEqual([]);
    expect([...out].filter(([, text]) => text.includes('PLANTED')).map(([place]) => place)).toEqual([]);
    expect([...out.values()].some((text) => text.includes('[REDACTED]'))).toBe(true);
  }, 300_000);
});
