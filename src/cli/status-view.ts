import type { parseStateRecord, StateRecord } from '../../runner/read.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { renderArgv } from '../../core/config/placeholders.ts';
import type { FollowerConfig } from '../../core/config/schema.ts';
import { staticValues } from '../../core/config/template-values.ts';
import { ageOf } from '../../core/output/age.ts';
import { shortSha } from '../../core/output/sha.ts';
import type { Tone } from '../../core/output/table.ts';
import type { View } from '../../core/output/view.ts';
import type { ControllerState } from './status-state.ts';

// What `status` prints, from what it read: pure, so the table and -o wide are pinned by golden files.

const since = (t: string | null, now: number) => (t ? `${ageOf(t, now)} ago` : 'never');

/** The columns of the follower table; the default shows those not in WIDE_ONLY, and fits 120 columns. */
const HEADERS = [
  'follower',
  'adapter',
  'branch',
  'observed',
  'target',
  'triggered',
  'succeeded',
  'phase',
  'age',
  'in-flight',
  'budget',
  'next',
] as const;
const WIDE_ONLY = ['adapter', 'target', 'triggered', 'succeeded', 'budget', 'next'];

/** How a phase reads at a glance on a terminal. */
function phaseTone(cell: string): Tone | undefined {
  if (cell.startsWith('Succeeded') || cell.startsWith('Noop')) return 'good';
  if (cell.startsWith('Failed') || cell.startsWith('Unreadable')) return 'bad';
  if (/^(PendingTrigger|Triggering|ClosingOut)/.test(cell)) return 'busy';
  return undefined;
}

/** When the follower entered its phase: its last transition, or its record's last write. */
function phaseSince(record: StateRecord): string {
  return record.history.at(-1)?.at ?? record.updatedAt;
}

/** One follower's status row; a follower without a record has simply not been observed yet. */
function toStatusRow(
  f: FollowerConfig,
  index: number,
  record: StateRecord | { error: string } | undefined,
  next: string,
  now: number,
): string[] {
  const budget = `${f.closeout.budgetSeconds}s (followers[${index}].closeout.budgetSeconds)`;
  const blank = (phase: string) => [
    f.id,
    f.adapter,
    f.source.branch,
    '-',
    '-',
    '-',
    '-',
    phase,
    '-',
    '-',
    budget,
    next,
  ];
  if (!record) return blank('NotObserved');
  if ('error' in record) return blank(`Unreadable: ${record.error}`);
  const inFlight = record.inFlight
    ? `${shortSha(record.inFlight.sha)} ${record.inFlight.runName ?? '(no run yet)'}`
    : '-';
  return [
    f.id,
    f.adapter,
    f.source.branch,
    shortSha(record.observedSha),
    shortSha(record.targetSha),
    shortSha(record.lastTriggeredSha),
    shortSha(record.lastSucceededSha),
    record.reason ? `${record.phase} (${record.reason})` : record.phase,
    ageOf(phaseSince(record), now),
    inFlight,
    budget,
    next,
  ];
}

/** The rows of the controller's objects: CronJob, Leases, state ConfigMaps and the githubSsh keys. */
// Named without their namespace: the line above the table names it once.
function controllerRows(loaded: LoadedRegistry, s: ControllerState): string[][] {
  const c = loaded.registry.controller;
  const missing = 'not found: run branch-follower apply --confirm --wait';
  return [
    [
      `CronJob ${c.cronJob.name}`,
      s.cronJob
        ? `schedule "${s.cronJob.schedule}" ${s.cronJob.timeZone ?? ''}${s.cronJob.suspend ? ', SUSPENDED' : ''}, ` +
          `last schedule ${since(s.cronJob.lastSchedule, s.now)}, last success ` +
          `${since(s.cronJob.lastSuccessful, s.now)}, ${s.cronJob.activeJobs} active`
        : missing,
    ],
    ...s.leases.map(({ name, lease }) => [
      `Lease ${name}`,
      lease
        ? lease.holder
          ? `held by ${lease.holder}, renewed ${since(lease.renewTime, s.now)}`
          : 'no holder'
        : missing,
    ]),
    ...s.stateConfigMaps.map(({ name, state }) => [
      `ConfigMap ${name}`,
      state ? `age ${ageOf(state.created, s.now)}, ${state.records} records, ${state.bytes} bytes` : missing,
    ]),
    ...(s.oldStateConfigMap
      ? [
          [
            `ConfigMap ${c.configMaps.state}`,
            `${s.oldStateConfigMap.records} records of the layout before shards: the next pass carries them over`,
          ],
        ]
      : []),
    ...(['identity', 'knownHosts'] as const).map((k) => {
      const ref = s.githubSsh[k];
      return [
        `Secret ${ref.secret}`,
        `key ${ref.key} ${ref.presence}${ref.fingerprint ? ` ${ref.fingerprint}` : ''} ` +
          `(source=yaml, sourceRef=controller.source.githubSsh.${k}, transport=${s.githubSsh.transport}, proxy=${s.githubSsh.proxyMode})`,
      ];
    }),
  ];
}

export function statusView(
  loaded: LoadedRegistry,
  context: string,
  s: ControllerState,
  parse: typeof parseStateRecord,
): View {
  const c = loaded.registry.controller;
  const ns = c.namespace;
  const followers = loaded.registry.followers.map((f, i) => {
    const text = s.records[f.id];
    const record = text === undefined ? undefined : parse(text);
    const next = renderArgv(f.drillDown.status, staticValues(f, loaded.targets.get(f.id)!)).join(' ');
    return { follower: f, index: i, record, next };
  });
  const known = new Set(loaded.registry.followers.map((f) => f.id));
  const stale = Object.keys(s.records)
    .filter((id) => !known.has(id))
    .sort();
  return {
    data: {
      context,
      namespace: ns,
      controller: {
        cronJob: s.cronJob ?? null,
        leases: s.leases.map(({ shard, name, lease }) => ({ shard, ...(lease ?? { name, missing: true }) })),
        stateConfigMaps: s.stateConfigMaps.map(({ shard, name, state }) => ({
          shard,
          ...(state ?? { name, missing: true }),
        })),
        oldStateConfigMap: s.oldStateConfigMap ?? null,
        githubSsh: s.githubSsh,
      },
      followers: followers.map(({ follower, index, record, next }) => ({
        id: follower.id,
        adapter: follower.adapter,
        source: follower.source,
        budgetSeconds: follower.closeout.budgetSeconds,
        budgetPath: `followers[${index}].closeout.budgetSeconds`,
        state: record === undefined ? null : 'error' in record ? { unreadable: record.error } : record.record,
        next,
      })),
      staleRecords: stale,
    },
    names: followers.map(({ follower }) => `follower/${follower.id}`),
    human: [
      { line: `controller ${ns} (context ${context})` },
      { table: { headers: ['object', 'state'], rows: controllerRows(loaded, s), shrink: 'state' } },
      { line: '' },
      {
        table: {
          headers: HEADERS,
          wideOnly: WIDE_ONLY,
          shrink: 'in-flight',
          tones: { phase: phaseTone },
          rows: followers.map(({ follower, index, record, next }) =>
            toStatusRow(follower, index, record && ('error' in record ? record : record.record), next, s.now),
          ),
        },
      },
      ...stale.map((id) => ({
        line: `stale record "${id}" (no such follower): branch-follower cleanup-state --follower ${id} --confirm`,
      })),
      {
        next: [
          'branch-follower run-once --all --dry-run',
          `branch-follower events --follower ${loaded.registry.followers[0]!.id}`,
          'branch-follower status -o wide (every sha, the budget, each follower drill-down command)',
        ],
      },
    ],
  };
}
