import type { Command } from 'commander';
import type { dataBytes, parseStateRecord, StateRecord } from '../../runner/read.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { renderArgv } from '../../core/config/placeholders.ts';
import type { FollowerConfig } from '../../core/config/schema.ts';
import { staticValues } from '../../core/config/template-values.ts';
import type { KubeClient, KubeObject } from '../../core/kube/client.ts';
import { resourceType } from '../../core/kube/resources.ts';
import { shardIndexes, shardLeaseName, stateObjectIndexes, stateObjectName } from '../../core/config/shards.ts';
import { keyPresence, readSecret, type SecretView } from '../../core/kube/secret-keys.ts';
import { ageOf } from '../../core/output/age.ts';
import { shortSha } from '../../core/output/sha.ts';
import type { View } from '../../core/output/view.ts';
import { connect } from './cluster.ts';
import { withNamespace } from './namespace.ts';
import type { VerbContext } from './verb.ts';

const since = (t: string | null, now: number) => (t ? `${ageOf(t, now)} ago` : 'never');

/** One follower's status row; a follower without a record has simply not been observed yet. */
function toStatusRow(
  f: FollowerConfig,
  index: number,
  record: StateRecord | { error: string } | undefined,
  next: string,
): string[] {
  const budget = `${f.closeout.budgetSeconds}s (followers[${index}].closeout.budgetSeconds)`;
  if (!record) return [f.id, f.adapter, f.source.branch, '-', '-', '-', '-', 'NotObserved', '-', budget, next];
  if ('error' in record)
    return [f.id, f.adapter, f.source.branch, '-', '-', '-', '-', `Unreadable: ${record.error}`, '-', budget, next];
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
    inFlight,
    budget,
    next,
  ];
}

/** The status words for one key: present, absent (why) or unknown (why); the value never reaches here. */
function presence(
  secret: SecretView,
  namespace: string,
  ref: { name: string; key: string },
  user: string,
): { presence: string; fingerprint: string | null } {
  const k = keyPresence(secret, { namespace, ...ref }, user);
  if (k.present) return { presence: 'present', fingerprint: k.fingerprint };
  return { presence: 'forbidden' in secret ? k.missing! : `absent (${k.missing})`, fingerprint: null };
}

type LeaseObject = KubeObject & {
  spec?: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number };
};

const leaseView = (ls: LeaseObject) => ({
  name: ls.metadata.name,
  holder: ls.spec?.holderIdentity ?? null,
  renewTime: ls.spec?.renewTime ?? null,
  durationSeconds: ls.spec?.leaseDurationSeconds ?? null,
});

const stateView = (state: KubeObject, bytesOf: typeof dataBytes) => {
  const data = (state.data as Record<string, string> | undefined) ?? {};
  return {
    name: state.metadata.name,
    created: state.metadata.creationTimestamp ?? null,
    records: Object.keys(data).length,
    bytes: bytesOf(data),
  };
};

async function controllerState(client: KubeClient, loaded: LoadedRegistry, now: number) {
  const { dataBytes, mapLimit } = await import('../../runner/read.ts');
  const c = loaded.registry.controller;
  const ns = c.namespace;
  const LEASE = resourceType('coordination.k8s.io/v1', 'Lease');
  const CONFIGMAP = resourceType('v1', 'ConfigMap');
  const shards = shardIndexes(c);
  const objects = stateObjectIndexes(c);
  // Every object by name (what a user allowed to get them by name may read), pass.concurrency.apiCalls at
  // once: a few connections, each reused, rather than one TLS handshake per object.
  const wanted: [ReturnType<typeof resourceType>, string][] = [
    [resourceType('batch/v1', 'CronJob'), c.cronJob.name],
    [CONFIGMAP, c.configMaps.state],
    ...shards.map((k) => [LEASE, shardLeaseName(c, k)] as [typeof LEASE, string]),
    ...objects.map((b) => [CONFIGMAP, stateObjectName(c, b)] as [typeof CONFIGMAP, string]),
  ];
  const got = await mapLimit(wanted, c.pass.concurrency.apiCalls, ([type, name]) => client.get(type, ns, name));
  const [cronJob, old] = got;
  const leases = got.slice(2, 2 + shards.length);
  const states = got.slice(2 + shards.length);
  const ssh = c.source.githubSsh;
  // identity and known_hosts usually live in one Secret: read each Secret once.
  const secrets = new Map<string, SecretView>();
  for (const name of new Set([ssh.identity.name, ssh.knownHosts.name]))
    secrets.set(name, await readSecret(client, ns, name));
  const identity = presence(secrets.get(ssh.identity.name)!, ns, ssh.identity, client.route.user);
  const knownHosts = presence(secrets.get(ssh.knownHosts.name)!, ns, ssh.knownHosts, client.route.user);
  const cj = cronJob as
    | (KubeObject & {
        spec: { schedule: string; timeZone?: string; suspend?: boolean };
        status?: { lastScheduleTime?: string; lastSuccessfulTime?: string; active?: unknown[] };
      })
    | undefined;
  // Every shard's records; a record still in the single object of the layout before shards (the
  // next pass carries it over) shows where its shard has none yet.
  const records: Record<string, string> = {};
  for (const [id, text] of Object.entries((old?.data as Record<string, string> | undefined) ?? {})) records[id] = text;
  for (const state of states) Object.assign(records, (state?.data as Record<string, string> | undefined) ?? {});
  return {
    cronJob: cj && {
      name: cj.metadata.name,
      schedule: cj.spec.schedule,
      timeZone: cj.spec.timeZone ?? null,
      suspend: cj.spec.suspend === true,
      lastSchedule: cj.status?.lastScheduleTime ?? null,
      lastSuccessful: cj.status?.lastSuccessfulTime ?? null,
      activeJobs: cj.status?.active?.length ?? 0,
    },
    leases: shards.map((k) => ({
      shard: k,
      name: shardLeaseName(c, k),
      lease: leases[k] && leaseView(leases[k] as LeaseObject),
    })),
    stateConfigMaps: stateObjectIndexes(c).map((b) => ({
      shard: b % c.pass.shards,
      name: stateObjectName(c, b),
      state: states[b] && stateView(states[b], dataBytes),
    })),
    oldStateConfigMap: old && stateView(old, dataBytes),
    githubSsh: {
      source: 'yaml',
      sourceRef: 'controller.source.githubSsh',
      transport: ssh.transport,
      proxyMode: ssh.proxy.mode,
      identity: { secret: ssh.identity.name, key: ssh.identity.key, ...identity },
      knownHosts: { secret: ssh.knownHosts.name, key: ssh.knownHosts.key, ...knownHosts },
    },
    records,
    now,
  };
}

type ControllerState = Awaited<ReturnType<typeof controllerState>>;

function statusView(loaded: LoadedRegistry, context: string, s: ControllerState, parse: typeof parseStateRecord): View {
  const c = loaded.registry.controller;
  const ns = c.namespace;
  const missing = 'not found: run branch-follower apply --confirm --wait';
  const rows: string[][] = [
    [
      `CronJob ${ns}/${c.cronJob.name}`,
      s.cronJob
        ? `schedule "${s.cronJob.schedule}" ${s.cronJob.timeZone ?? ''}${s.cronJob.suspend ? ', SUSPENDED' : ''}, ` +
          `last schedule ${since(s.cronJob.lastSchedule, s.now)}, last success ` +
          `${since(s.cronJob.lastSuccessful, s.now)}, ${s.cronJob.activeJobs} active`
        : missing,
    ],
    ...s.leases.map(({ name, lease }) => [
      `Lease ${ns}/${name}`,
      lease
        ? lease.holder
          ? `held by ${lease.holder}, renewed ${since(lease.renewTime, s.now)}`
          : 'no holder'
        : missing,
    ]),
    ...s.stateConfigMaps.map(({ name, state }) => [
      `ConfigMap ${ns}/${name}`,
      state ? `age ${ageOf(state.created, s.now)}, ${state.records} records, ${state.bytes} bytes` : missing,
    ]),
    ...(s.oldStateConfigMap
      ? [
          [
            `ConfigMap ${ns}/${c.configMaps.state}`,
            `${s.oldStateConfigMap.records} records of the layout before shards: the next pass carries them over`,
          ],
        ]
      : []),
    ...(['identity', 'knownHosts'] as const).map((k) => {
      const ref = s.githubSsh[k];
      return [
        `Secret ${ns}/${ref.secret}`,
        `key ${ref.key} ${ref.presence}${ref.fingerprint ? ` ${ref.fingerprint}` : ''} ` +
          `(source=yaml, sourceRef=controller.source.githubSsh.${k}, transport=${s.githubSsh.transport}, proxy=${s.githubSsh.proxyMode})`,
      ];
    }),
  ];
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
    human: [
      { line: `controller ${ns} (context ${context})` },
      { table: { headers: ['object', 'state'], rows } },
      { line: '' },
      {
        table: {
          headers: [
            'follower',
            'adapter',
            'branch',
            'observed',
            'target',
            'triggered',
            'succeeded',
            'phase',
            'in-flight',
            'budget',
            'next',
          ],
          rows: followers.map(({ follower, index, record, next }) =>
            toStatusRow(follower, index, record && ('error' in record ? record : record.record), next),
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
        ],
      },
    ],
  };
}

// Shows the controller, the state ConfigMap and every follower's intermediate state.
export function registerStatus(program: Command, ctx: VerbContext): void {
  program
    .command('status')
    .summary('show the controller, the state ConfigMap and every follower')
    .description(
      'Show the controller (CronJob schedule, suspension, last schedule and success, active Jobs; Lease ' +
        'holder and renew age and state ConfigMap age and size of every shard; the githubSsh Secret keys by name, presence ' +
        'and fingerprint, never their values) and one row per follower: adapter, source branch, observed, ' +
        'target, last triggered and last succeeded sha, phase, in-flight run, budget and where it is ' +
        'declared, and the next drill-down command. A follower with no record yet shows NotObserved. Reads only.',
    )
    .addHelpText('after', '\nExamples:\n  branch-follower status\n  branch-follower status -o yaml\n')
    .action(async () => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      const { parseStateRecord } = await import('../../runner/read.ts');
      const loaded = withNamespace(ctx, loadRegistry(ctx.globals().config, ctx.io.cwd));
      const client = connect(ctx, loaded);
      const state = await controllerState(client, loaded, Date.now());
      ctx.print(statusView(loaded, client.route.context, state, parseStateRecord));
    });
}
