import { parseCron, type CronSchedule } from './cron.ts';
import { shortestTickGapSeconds } from './watch-window.ts';
import type { ConfigIssue } from '../errors.ts';
import { mountOverlaps } from '../pod-mounts.ts';
import { resolveTarget, type TargetEntry } from './owning-files.ts';
import { PASS_PLACEHOLDERS, STATIC_PLACEHOLDERS, TARGET_PREFIX, parseTemplate } from './placeholders.ts';
import type { Registry } from './schema.ts';
import type { YamlPath, YamlSource } from './yaml-source.ts';

function duplicates<T extends { id: string }>(items: readonly T[]): Map<number, number> {
  const firstIndex = new Map<string, number>();
  const dupes = new Map<number, number>();
  items.forEach((item, i) => {
    const first = firstIndex.get(item.id);
    if (first === undefined) firstIndex.set(item.id, i);
    else dupes.set(i, first);
  });
  return dupes;
}

/** Lookup by id where, as in the duplicate-id message, the first declaration is the real one. */
function firstById<T extends { id: string }>(items: readonly T[]): Map<string, T> {
  const out = new Map<string, T>();
  for (const item of items) if (!out.has(item.id)) out.set(item.id, item);
  return out;
}

function checkTemplate(
  source: YamlSource,
  path: YamlPath,
  argv: readonly string[],
  allowed: ReadonlySet<string>,
  targets: readonly { followerId: string; entry: TargetEntry }[],
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  argv.forEach((element, i) => {
    // Without a '$' an element is plain text: nothing to parse or check (most elements of most commands).
    if (!element.includes('$')) return;
    const parsed = parseTemplate(element);
    if ('error' in parsed) {
      out.push(source.issue([...path, i], parsed.error));
      return;
    }
    for (const part of parsed.parts) {
      if (!('name' in part)) continue;
      if (part.name.startsWith(TARGET_PREFIX)) {
        const field = part.name.slice(TARGET_PREFIX.length);
        for (const t of targets) {
          if (!Object.hasOwn(t.entry, field)) {
            out.push(
              source.issue(
                [...path, i],
                `\${${part.name}}: the target entry of follower "${t.followerId}" has no scalar field "${field}"`,
              ),
            );
          }
        }
      } else if (!allowed.has(part.name)) {
        out.push(
          source.issue(
            [...path, i],
            `unknown placeholder \${${part.name}}; known: ${[...allowed].map((n) => `\${${n}}`).join(', ')}, \${target.<field>}`,
          ),
        );
      }
    }
  });
  return out;
}

/** What the cross-checks learned besides the problems: each follower's resolved target entry. */
export interface CrossCheckResult {
  readonly issues: ConfigIssue[];
  readonly targets: ReadonlyMap<string, TargetEntry>;
}

// Rules that span fields or files and so cannot live in the schema: unique ids, references that
// must resolve, owning-file selectors, known placeholders, and budgets that must fit each other.
export function crossCheck(registry: Registry, source: YamlSource, configRoot: string): CrossCheckResult {
  const issues: ConfigIssue[] = [];
  const targets = new Map<string, TargetEntry>();
  const cache = new Map<string, YamlSource | ConfigIssue>();

  const lists: [string, readonly { id: string }[]][] = [
    ['followers', registry.followers],
    ['adapters', registry.adapters],
    ['mirrors', registry.mirrors],
  ];
  for (const [kind, list] of lists) {
    for (const [i, first] of duplicates(list)) {
      issues.push(source.issue([kind, i, 'id'], `duplicate id "${list[i]!.id}" (first declared at ${kind}[${first}])`));
    }
  }
  const adapters = firstById(registry.adapters);
  const mirrors = firstById(registry.mirrors);
  const mirrorIds = [...mirrors.keys()].join(', ');

  if (!mirrors.has(registry.controller.source.mirror.mirror)) {
    issues.push(
      source.issue(
        ['controller', 'source', 'mirror', 'mirror'],
        `no mirror with id "${registry.controller.source.mirror.mirror}" (declared: ${mirrorIds})`,
      ),
    );
  }

  const ssh = registry.controller.source.githubSsh;
  const cachePaths = new Map<string, number>();
  registry.mirrors.forEach((m, i) => {
    let u: URL | undefined;
    try {
      u = new URL(m.upstream);
    } catch {
      u = undefined; // the schema already said what shape it must have
    }
    if (
      u &&
      u.protocol === 'ssh:' &&
      (u.username !== ssh.user || u.hostname !== ssh.host || Number(u.port) !== ssh.port)
    ) {
      issues.push(
        source.issue(
          ['mirrors', i, 'upstream'],
          `must use the user, host and port of controller.source.githubSsh (${ssh.user}@${ssh.host}:${ssh.port}), ` +
            `not ${u.username}@${u.hostname}:${u.port}: the upstream is reached only as githubSsh declares`,
        ),
      );
    }
    const first = cachePaths.get(m.cachePath);
    if (first !== undefined)
      issues.push(
        source.issue(['mirrors', i, 'cachePath'], `"${m.cachePath}" is already the cache of mirrors[${first}]`),
      );
    else cachePaths.set(m.cachePath, i);
  });

  const g = registry.controller.gitMirror;
  for (const o of mountOverlaps(registry.controller.image.appDir, g)) {
    issues.push(
      o.kind === 'scratch'
        ? source.issue(
            ['controller', 'gitMirror', o.mount],
            `"${o.path}" must not overlap the controller checkout (${o.checkout}) nor be or contain /tmp: both are ` +
              `EmptyDirs of the pod`,
          )
        : source.issue(
            ['controller', 'gitMirror', 'sshMountPath'],
            `"${g.sshMountPath}" and gitMirror.mountPath "${g.mountPath}" must not contain one another`,
          ),
    );
  }

  const staticNames = new Set<string>(STATIC_PLACEHOLDERS);
  const passNames = new Set<string>([...STATIC_PLACEHOLDERS, ...PASS_PLACEHOLDERS]);
  const longestBudget = { seconds: 0, index: -1 };

  registry.followers.forEach((f, i) => {
    const at: YamlPath = ['followers', i];
    if (!adapters.has(f.adapter)) {
      issues.push(
        source.issue(
          [...at, 'adapter'],
          `no adapter with id "${f.adapter}" (declared: ${[...adapters.keys()].join(', ')})`,
        ),
      );
    }
    const mirror = mirrors.get(f.source.mirror);
    if (!mirror) {
      issues.push(
        source.issue([...at, 'source', 'mirror'], `no mirror with id "${f.source.mirror}" (declared: ${mirrorIds})`),
      );
    } else if (mirror.repo !== f.source.repo) {
      issues.push(
        source.issue(
          [...at, 'source', 'repo'],
          `"${f.source.repo}" is not the repository of mirror "${mirror.id}" (${mirror.repo})`,
        ),
      );
    }
    const resolved = resolveTarget(source, configRoot, at, f.target, cache);
    if ('issues' in resolved) issues.push(...resolved.issues);
    else {
      targets.set(f.id, resolved.entry);
      const ref = resolved.entry[f.target.gitopsRefField];
      if (typeof ref !== 'string' || !/^refs\/heads\/[A-Za-z0-9._/-]+$/.test(ref) || ref.includes('..')) {
        const got = ref === undefined ? 'has no such field' : `holds ${JSON.stringify(ref)}`;
        issues.push(
          source.issue(
            [...at, 'target', 'gitopsRefField'],
            `the target entry ${got}; it must name a field holding a full branch ref, refs/heads/<branch>`,
          ),
        );
      }
    }
    if (f.closeout.pollIntervalSeconds >= f.closeout.budgetSeconds) {
      issues.push(
        source.issue(
          [...at, 'closeout', 'pollIntervalSeconds'],
          `must be less than closeout.budgetSeconds (${f.closeout.budgetSeconds}), or closeout could never poll twice`,
        ),
      );
    }
    if (f.closeout.budgetSeconds > longestBudget.seconds)
      Object.assign(longestBudget, { seconds: f.closeout.budgetSeconds, index: i });
  });

  // Placeholders are checked only where every referenced target resolved, so one bad selector is
  // reported once rather than once per template that uses it.
  registry.followers.forEach((f, i) => {
    const entry = targets.get(f.id);
    if (!entry) return;
    for (const verb of ['status', 'trigger', 'events', 'logs'] as const) {
      issues.push(
        ...checkTemplate(source, ['followers', i, 'drillDown', verb], f.drillDown[verb], staticNames, [
          { followerId: f.id, entry },
        ]),
      );
    }
  });
  // Each adapter's command templates are checked against the target entry of every follower it drives.
  const usersOf = new Map<string, { followerId: string; entry: TargetEntry }[]>();
  for (const f of registry.followers) {
    const entry = targets.get(f.id);
    if (!entry) continue;
    const users = usersOf.get(f.adapter);
    if (users) users.push({ followerId: f.id, entry });
    else usersOf.set(f.adapter, [{ followerId: f.id, entry }]);
  }
  registry.adapters.forEach((a, i) => {
    const users = usersOf.get(a.id) ?? [];
    for (const verb of ['status', 'trigger'] as const) {
      issues.push(...checkTemplate(source, ['adapters', i, 'commands', verb], a.commands[verb], passNames, users));
    }
  });

  const job = registry.controller.cronJob;
  if (longestBudget.index >= 0 && job.activeDeadlineSeconds <= longestBudget.seconds) {
    issues.push(
      source.issue(
        ['controller', 'cronJob', 'activeDeadlineSeconds'],
        `must be greater than the longest closeout budget (${longestBudget.seconds} s at ` +
          `followers[${longestBudget.index}].closeout.budgetSeconds), or a pass is killed before it can close out`,
      ),
    );
  }
  const lease = registry.controller.lease;
  const { shards } = registry.controller.pass;
  if (registry.controller.state.objects % shards !== 0) {
    issues.push(
      source.issue(
        ['controller', 'state', 'objects'],
        `must be a multiple of controller.pass.shards (${shards}): each shard keeps its records in objects of its own`,
      ),
    );
  }
  if (lease.renewSeconds >= lease.durationSeconds) {
    issues.push(
      source.issue(
        ['controller', 'lease', 'renewSeconds'],
        `must be less than lease.durationSeconds (${lease.durationSeconds}), or the Lease lapses between renewals`,
      ),
    );
  }
  // A trigger is sent only under a Lease that covers its whole command: as last renewed in the
  // background (at most renewSeconds ago), the Lease must outlast the adapter's timeout.
  for (const [i, a] of registry.adapters.entries()) {
    if (lease.renewSeconds < lease.durationSeconds && a.timeoutSeconds + lease.renewSeconds > lease.durationSeconds) {
      issues.push(
        source.issue(
          ['adapters', i, 'timeoutSeconds'],
          `${a.timeoutSeconds} s plus controller.lease.renewSeconds (${lease.renewSeconds} s) must fit ` +
            `controller.lease.durationSeconds (${lease.durationSeconds} s), or a trigger command could outlive the ` +
            'Lease it was sent under: lower it, or raise the Lease duration',
        ),
      );
    }
  }
  const route = registry.controller.kubeRoute;
  const retry = route.retry;
  if (retry.initialBackoffMilliseconds > retry.maxBackoffMilliseconds) {
    issues.push(
      source.issue(
        ['controller', 'kubeRoute', 'retry', 'initialBackoffMilliseconds'],
        `must be at most kubeRoute.retry.maxBackoffMilliseconds (${retry.maxBackoffMilliseconds}), the longest ` +
          `the wait grows`,
      ),
    );
  }
  if (retry.maxBackoffMilliseconds > retry.budgetSeconds * 1000) {
    issues.push(
      source.issue(
        ['controller', 'kubeRoute', 'retry', 'maxBackoffMilliseconds'],
        `must be at most kubeRoute.retry.budgetSeconds (${retry.budgetSeconds} s = ${retry.budgetSeconds * 1000} ms), ` +
          `or the longest wait could never fit the budget`,
      ),
    );
  }
  if (route.requestTimeoutSeconds >= retry.budgetSeconds) {
    issues.push(
      source.issue(
        ['controller', 'kubeRoute', 'retry', 'budgetSeconds'],
        `must be greater than kubeRoute.requestTimeoutSeconds (${route.requestTimeoutSeconds}), or a try that ` +
          `went unanswered would use up the budget and never be tried again`,
      ),
    );
  }
  issues.push(...watchWindowIssues(registry, source));
  const apply = registry.controller.apply;
  if (apply.pollIntervalSeconds >= apply.waitSeconds) {
    issues.push(
      source.issue(
        ['controller', 'apply', 'pollIntervalSeconds'],
        `must be less than apply.waitSeconds (${apply.waitSeconds}), or --wait could never check twice`,
      ),
    );
  }
  const reconcile = registry.controller.reconcile;
  if (reconcile.pollIntervalSeconds >= reconcile.waitSeconds) {
    issues.push(
      source.issue(
        ['controller', 'reconcile', 'pollIntervalSeconds'],
        `must be less than reconcile.waitSeconds (${reconcile.waitSeconds}), or --wait could never check twice`,
      ),
    );
  }
  const seen = new Set<string>();
  const unique = issues.filter((i) => {
    const key = `${i.file}:${i.line}:${i.column}:${i.path}:${i.message}`;
    return !seen.has(key) && seen.add(key);
  });
  return { issues: unique, targets };
}

// A watch window must leave room for one look before the next tick, and before the Job's deadline.
function watchWindowIssues(registry: Registry, source: YamlSource): ConfigIssue[] {
  const { watchWindow: w } = registry.controller.pass;
  const cj = registry.controller.cronJob;
  if (!w.enabled) return [];
  const path = ['controller', 'pass', 'watchWindow', 'marginSeconds'];
  const needs = `marginSeconds (${w.marginSeconds}) + intervalSeconds (${w.intervalSeconds}) = ${w.marginSeconds + w.intervalSeconds} s`;
  let schedule: CronSchedule;
  try {
    schedule = parseCron(cj.schedule);
  } catch (err) {
    return [source.issue(['controller', 'cronJob', 'schedule'], (err as Error).message)];
  }
  const gap = shortestTickGapSeconds(schedule);
  const out: ConfigIssue[] = [];
  if (w.marginSeconds + w.intervalSeconds > gap)
    out.push(
      source.issue(
        path,
        `the watch window cannot fit the schedule: ticks of "${cj.schedule}" can come ${gap} s apart, and ${needs} ` +
          'must fit between two, or the window could never look once before the next pass',
      ),
    );
  if (w.marginSeconds + w.intervalSeconds >= cj.activeDeadlineSeconds)
    out.push(
      source.issue(
        path,
        `the watch window cannot fit the Job: ${needs} must be less than cronJob.activeDeadlineSeconds ` +
          `(${cj.activeDeadlineSeconds} s), or the Job would be stopped before the window's first look`,
      ),
    );
  return out;
}
