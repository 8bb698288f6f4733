import { describe, expect, it } from 'vitest';
import { gitopsRefOf, loadRegistry } from '../../core/config/load.ts';
import type { KubeObject } from '../../core/kube/client.ts';
import { PlanAction, type PlanItem } from '../../core/kube/plan.ts';
import { TABLE_WIDTH } from '../../core/output/table-fit.ts';
import { renderView, type View } from '../../core/output/view.ts';
import { dataBytes, parseStateRecord } from '../../runner/read.ts';
import { emptyRecord, type StateRecord } from '../../runner/state-record.ts';
import { eventsView } from '../../src/cli/events-view.ts';
import { mirrorStatusView } from '../../src/cli/git-mirror-status.ts';
import { planView } from '../../src/cli/plan.ts';
import { controllerState, wantedObjects } from '../../src/cli/status-state.ts';
import { statusView } from '../../src/cli/status-view.ts';
import { REGISTRY, ROOT } from '../../scripts/world/registry.ts';
import { expectGolden } from '../helpers/cli.ts';

// The default tables of status, events, git-mirror status and plan, and their -o wide, as a user sees
// them, pinned by golden files; the default fits TABLE_WIDTH columns, and -o name lists kind/name.

const NOW = Date.parse('2026-12-01T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();
const sha = (c: string) => c.repeat(40);
const loaded = loadRegistry(REGISTRY, ROOT);
const [first, second, third] = loaded.registry.followers;

function record(edit: Partial<StateRecord>): string {
  return JSON.stringify({ ...emptyRecord(ago(3600)), ...edit });
}

const succeeded = record({
  observedSha: sha('a'),
  targetSha: sha('a'),
  lastTriggeredSha: sha('a'),
  lastSucceededSha: sha('a'),
  phase: 'Succeeded',
  reason: 'ClosedOut',
  history: [
    { at: ago(900), from: 'Noop', to: 'PendingTrigger', sha: sha('a'), reason: 'NewSha', detail: 'new sha on main' },
    {
      at: ago(840),
      from: 'Triggering',
      to: 'ClosingOut',
      sha: sha('a'),
      reason: 'InFlight',
      detail: 'run hwlab-run-7',
    },
    {
      at: ago(300),
      from: 'ClosingOut',
      to: 'Succeeded',
      sha: sha('a'),
      reason: 'ClosedOut',
      detail:
        'the run hwlab-run-7 succeeded and the mirror was flushed and in sync within the budget of 120s ' +
        '(followers[0].closeout.budgetSeconds), 540s after the trigger',
    },
  ],
});
const closingOut = record({
  observedSha: sha('b'),
  targetSha: sha('b'),
  lastTriggeredSha: sha('b'),
  phase: 'ClosingOut',
  reason: 'InFlight',
  inFlight: {
    sha: sha('b'),
    snapshotRef: 'refs/snapshots/x',
    attempt: 1,
    runName: 'agentrun-control-plane-run-with-a-rather-long-generated-name-20261201-115900-0001',
    startedAt: ago(65),
    sentAt: ago(64),
    triggeredAt: ago(60),
    deadline: ago(-55),
    runDoneAt: null,
    flushedAt: null,
  },
  history: [
    { at: ago(64), from: 'PendingTrigger', to: 'Triggering', sha: sha('b'), reason: 'NewSha', detail: '' },
    { at: ago(60), from: 'Triggering', to: 'ClosingOut', sha: sha('b'), reason: 'InFlight', detail: '' },
  ],
});

function statusOf(records: Record<string, string>): View {
  const objects: (KubeObject | undefined)[] = wantedObjects(loaded).map(({ type, name }, i) => {
    if (i === 1) return undefined; // no state object of the layout before shards
    const metadata = { name, creationTimestamp: ago(86400) };
    if (type.kind === 'CronJob')
      return {
        apiVersion: type.apiVersion,
        kind: type.kind,
        metadata,
        spec: { schedule: '* * * * *', timeZone: 'Etc/UTC' },
        status: { lastScheduleTime: ago(20), lastSuccessfulTime: ago(80), active: [{}] },
      };
    if (type.kind === 'Lease')
      return {
        apiVersion: type.apiVersion,
        kind: type.kind,
        metadata,
        spec: { holderIdentity: 'branch-follower-29412345-abcde', renewTime: ago(5), leaseDurationSeconds: 60 },
      };
    return { apiVersion: type.apiVersion, kind: type.kind, metadata, data: records };
  });
  const keys = new Map([
    ['id_ed25519', 'c2VjcmV0'],
    ['known_hosts', 'aG9zdHM='],
  ]);
  const secrets = new Map([[loaded.registry.controller.source.githubSsh.identity.name, { keys }]]);
  const state = controllerState(loaded, { objects, secrets, user: 'admin' }, dataBytes, NOW);
  return statusView(loaded, 'unidesk-jd01', state, parseStateRecord);
}

const statusWorld = () =>
  statusOf({ [first!.id]: succeeded, [second!.id]: closingOut, [third!.id]: '{not json', 'gone-follower': succeeded });

/** Every line of a default table fits; a table whose cells were cut says so with "…". */
function expectFits(text: string): void {
  for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(TABLE_WIDTH);
}

describe('default tables fit 120 columns; -o wide shows every column', () => {
  it('status: id, branch, observed, phase, age and a short in-flight; wide adds the rest', () => {
    const view = statusWorld();
    const table = renderView(view, 'table');
    expectFits(table);
    expectGolden('status.txt', table);
    const wide = renderView(view, 'wide');
    expectGolden('status-wide.txt', wide);
    expect(wide).toContain('(followers[0].closeout.budgetSeconds)');
    expect(table).not.toContain('(followers[0].closeout.budgetSeconds)');
    expect(renderView(view, 'name')).toBe(loaded.registry.followers.map((f) => `follower/${f.id}\n`).join(''));
  });

  it('events: the history and the Events with their age; wide adds the time', () => {
    const parsed = parseStateRecord(succeeded);
    if (!('record' in parsed)) throw new Error(parsed.error);
    const events = [
      {
        metadata: { name: `${first!.id}.b`, creationTimestamp: ago(300) },
        eventTime: ago(300),
        type: 'Normal',
        action: 'Succeeded',
        reason: 'ClosedOut',
        note: 'sha aaaaaaaaaaaa closed out in 540s of the 120s budget (followers[0].closeout.budgetSeconds); run hwlab-run-7',
      },
      {
        metadata: { name: `${first!.id}.a`, creationTimestamp: ago(840) },
        eventTime: ago(840),
        type: 'Warning',
        action: 'Triggering',
        reason: 'TriggerUnconfirmed',
        note: 'the trigger did not name its run',
      },
    ];
    const view = eventsView(first!.id, parsed.record, events, NOW);
    const table = renderView(view, 'table');
    expectFits(table);
    expectGolden('events.txt', table);
    expectGolden('events-wide.txt', renderView(view, 'wide'));
    expect(renderView(view, 'name')).toBe(`event.events.k8s.io/${first!.id}.a\nevent.events.k8s.io/${first!.id}.b\n`);
  });

  it('git-mirror status: follower, branch, cache, fetched, snapshot, flush and sync; wide adds the mirror and GitOps ref', () => {
    const rows = loaded.registry.followers.slice(0, 3).map((f, i) => ({
      follower: f.id,
      mirror: f.source.mirror,
      branch: f.source.branch,
      cacheSha: i === 2 ? null : sha('c'),
      fetchedAt: i === 2 ? null : ago(30 + i),
      snapshot: i === 2 ? null : { ref: 'refs/snapshots/x', present: i === 0 },
      gitopsRef: gitopsRefOf(loaded, f.id),
      gitopsSha: i === 2 ? null : sha('d'),
      pendingFlush: i === 1,
      githubInSync: i === 0,
    }));
    const disclosure = (key: string) => ({
      secret: 'git-mirror-github-ssh',
      key,
      present: true,
      fingerprint: 'SHA256:0123456789abcdefABCDEF0123456789abcdefABCDE',
      detail: 'file /etc/git-mirror/ssh/identity/id_ed25519',
    });
    const view = mirrorStatusView({
      where: 'the mirror cache on this pod (--local)',
      rows,
      failures: [],
      transport: {
        source: 'yaml',
        sourceRef: 'controller.source.githubSsh',
        transport: 'ssh',
        proxyMode: 'connect',
        identity: disclosure('id_ed25519'),
        knownHosts: disclosure('known_hosts'),
      },
      fetchedAtSource: 'reflog',
      now: NOW,
      next: ['branch-follower git-mirror sync --confirm --wait'],
    });
    const table = renderView(view, 'table');
    expectFits(table);
    expectGolden('git-mirror-status.txt', table);
    expectGolden('git-mirror-status-wide.txt', renderView(view, 'wide'));
    expect(renderView(view, 'name')).toBe(rows.map((r) => `follower/${r.follower}\n`).join(''));
  });

  it('plan: kind, name, action and a reason cut to fit; wide shows the whole reason', () => {
    const items: PlanItem[] = [
      {
        kind: 'Namespace',
        namespace: undefined,
        name: 'unidesk-cicd',
        action: PlanAction.Unchanged,
        diff: '',
        reason: '',
      },
      {
        kind: 'CronJob',
        namespace: 'unidesk-cicd',
        name: 'branch-follower',
        action: PlanAction.Update,
        diff: '',
        reason: 'spec.jobTemplate.spec.template.spec.containers[0].command, spec.schedule',
      },
      {
        kind: 'ConfigMap',
        namespace: 'unidesk-cicd',
        name: 'branch-follower-state-old',
        action: PlanAction.Keep,
        diff: '',
        reason:
          'branch-follower.unidesk.dev/prune=never: holds follower state; delete it by hand once its records are ' +
          'no longer needed',
      },
      {
        kind: 'Role',
        namespace: 'unidesk-cicd',
        name: 'branch-follower',
        action: PlanAction.Create,
        diff: '',
        reason: '',
      },
    ];
    const view = planView(items, { diff: false, context: 'unidesk-jd01' });
    const table = renderView(view, 'table');
    expectFits(table);
    expectGolden('plan.txt', table);
    expectGolden('plan-wide.txt', renderView(view, 'wide'));
    expect(renderView(view, 'name')).toBe(
      'namespace/unidesk-cicd\ncronjob.batch/branch-follower\nconfigmap/branch-follower-state-old\n' +
        'role.rbac.authorization.k8s.io/branch-follower\n',
    );
  });

  it('colour is only what the caller asks for, and it does not move a column', () => {
    const view = statusWorld();
    const plain = renderView(view, 'table');
    const coloured = renderView(view, 'table', { colour: true });
    expect(plain).not.toContain('\u001b[');
    expect(coloured).toContain('\u001b[32mSucceeded (ClosedOut)\u001b[0m');
    expect(coloured).toContain('\u001b[33mClosingOut (InFlight)\u001b[0m');
    const uncoloured = coloured
      .split('\u001b[')
      .map((part, i) => (i === 0 ? part : part.replace(/^\d+m/, '')))
      .join('');
    expect(uncoloured).toBe(plain);
  });
});
