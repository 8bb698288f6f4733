import { hostname } from 'node:os';
import type { Command } from 'commander';
import type { FollowerOutcome, PassResult, ShaServed, StateRecord } from '../../runner/index.ts';
import { realClock } from '../../core/clock.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { followersOfShard, shardIndexes, shardOf } from '../../core/config/shards.ts';
import type { ControllerConfig, FollowerConfig } from '../../core/config/schema.ts';
import { watchWindowEnd } from '../../core/config/watch-window.ts';
import { BranchFollowerError, ConfirmationRequiredError } from '../../core/errors.ts';
import { ExitCode } from './exit-codes.ts';
import { awaitExpectedSha, EXPECT_SHA_FLAG, expectedFollower, expectedSha, expectShaData } from './expect-sha.ts';
import { namedFollower } from './follower-flag.ts';
import { inClusterRoute } from '../../core/kube/route.ts';
import { shortSha } from '../../core/output/sha.ts';
import type { View } from '../../core/output/view.ts';
import { clientOn, connect } from './cluster.ts';
import { kubeRouteOf } from './timeouts.ts';
import type { VerbContext } from './verb.ts';

interface RunOnceOptions {
  all?: boolean;
  follower?: string;
  dryRun?: boolean;
  confirm?: boolean;
  wait?: boolean;
  controller?: boolean;
  shard?: string;
  expectSha?: string;
}

function usage(message: string): BranchFollowerError {
  return new BranchFollowerError(message, { reason: 'InvalidUsage', retryable: false });
}

/** The followers a command line names: --all, or one --follower that must exist. */
function selectFollowers(
  loaded: LoadedRegistry,
  opts: { all?: boolean | undefined; follower?: string | undefined },
): FollowerConfig[] {
  const all = loaded.registry.followers;
  if (opts.all && opts.follower) throw usage('choose --all or --follower <id>, not both');
  if (opts.all) return [...all];
  if (!opts.follower) throw usage('choose the followers: --all or --follower <id>');
  return [namedFollower(loaded, opts.follower)];
}

/** The --shard value: a whole number below controller.pass.shards. */
function shardOption(value: string, shards: number): number {
  const k = Number(value);
  if (!/^[0-9]+$/.test(value) || k >= shards)
    throw usage(
      `--shard "${value}": must be a shard index from 0 to ${shards - 1} (controller.pass.shards: ${shards})`,
    );
  return k;
}

// The shards' passes as one: their outcomes in registry order; skipped only when every shard was
// (a shard that was skipped while others acted says so in one progress line).
function mergeShards(
  loaded: LoadedRegistry,
  results: readonly { shard: number; result: PassResult }[],
  progress: (line: string) => void,
): PassResult {
  const acted = results.filter((r) => !('skipped' in r.result));
  const first = results[0];
  if (first && acted.length === 0) return first.result;
  const order = new Map(loaded.registry.followers.map((f, i) => [f.id, i]));
  const outcomes: FollowerOutcome[] = [];
  let failed = false;
  let leaseLost: { holder: string; renewedAgoMs: number } | undefined;
  for (const { shard, result } of results) {
    if ('skipped' in result) {
      progress(
        `[shard ${shard}] skipped: lease held by ${result.skipped.holder} ` +
          `(renewed ${Math.round(result.skipped.renewedAgoMs / 1000)}s ago)`,
      );
      continue;
    }
    outcomes.push(...result.outcomes);
    failed ||= result.failed;
    leaseLost ??= result.leaseLost;
  }
  outcomes.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  return { outcomes, failed, ...(leaseLost ? { leaseLost } : {}) };
}

const seconds = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`;

/** One row of the dry-run decision table. */
function toDecisionRow(f: FollowerConfig, o: FollowerOutcome): string[] {
  return [f.id, f.adapter, f.source.branch, o.decision, o.reason, shortSha(o.record?.observedSha), o.message];
}

/** One row of the confirmed-pass table. */
function toOutcomeRow(o: FollowerOutcome): string[] {
  const r: StateRecord | undefined = o.record;
  return [
    o.id,
    r?.phase ?? '-',
    o.reason,
    shortSha(r?.observedSha),
    r?.inFlight?.runName ?? '-',
    o.triggered ? 'yes' : 'no',
    o.message,
  ];
}

/** Stage timings of the newest triggered sha against its budget. */
function toTimingRow(o: FollowerOutcome): string[] | undefined {
  const t = o.record?.timings;
  if (!t) return undefined;
  return [
    o.id,
    shortSha(t.sha),
    seconds(t.observeToTriggerMs),
    seconds(t.triggerToRunDoneMs),
    seconds(t.runDoneToFlushedMs),
    seconds(t.budgetMs),
  ];
}

function passView(
  loaded: LoadedRegistry,
  result: Exclude<PassResult, { skipped: unknown }>,
  dryRun: boolean,
  waited: object,
): View {
  const byId = new Map(loaded.registry.followers.map((f) => [f.id, f]));
  const lost = result.leaseLost;
  const data = {
    ...waited,
    dryRun,
    failed: result.failed,
    ...(lost ? { leaseLost: { holder: lost.holder, renewedAgoSeconds: Math.round(lost.renewedAgoMs / 1000) } } : {}),
    followers: result.outcomes.map(({ record, ...o }) => ({
      ...o,
      phase: record?.phase ?? null,
      record: record ?? null,
    })),
  };
  if (dryRun) {
    return {
      data,
      human: [
        { line: 'run-once --dry-run: decisions only; nothing was written, synced or triggered' },
        {
          table: {
            headers: ['follower', 'adapter', 'branch', 'decision', 'reason', 'observed', 'message'],
            rows: result.outcomes.map((o) => toDecisionRow(byId.get(o.id)!, o)),
          },
        },
        { next: ['branch-follower run-once --all --confirm --wait', 'branch-follower status'] },
      ],
    };
  }
  const timings = result.outcomes.map(toTimingRow).filter((r): r is string[] => r !== undefined);
  return {
    data,
    human: [
      ...(lost
        ? [
            {
              line:
                `stopped: ${lost.holder} took the Lease over while this pass acted (renewed ` +
                `${Math.round(lost.renewedAgoMs / 1000)}s ago); it goes on from here`,
            },
          ]
        : []),
      {
        table: {
          headers: ['follower', 'phase', 'reason', 'observed', 'run', 'triggered', 'message'],
          rows: result.outcomes.map(toOutcomeRow),
        },
      },
      ...(timings.length > 0
        ? [
            { line: '' },
            {
              table: {
                headers: ['follower', 'sha', 'observe→trigger', 'trigger→run done', 'run→flushed', 'budget'],
                rows: timings,
              },
            },
          ]
        : []),
      { next: result.outcomes.map((o) => `branch-follower events --follower ${o.id}`) },
    ],
  };
}

/**
 * The watch window of the pass the CronJob's pod runs (--controller --confirm), when the registry enables it;
 * none for a pass run by hand, nor for one no tick started.
 */
function watchWindowOf(
  c: ControllerConfig,
  opts: RunOnceOptions,
  progress: (line: string) => void,
): { untilMs: number; intervalMs: number } | undefined {
  const w = c.pass.watchWindow;
  if (!opts.controller || !opts.confirm || !w.enabled) return undefined;
  const now = Date.now();
  const untilMs = watchWindowEnd(c, now);
  if (untilMs <= now) {
    progress('watch window: none (no scheduled tick started this pass, controller.pass.watchWindow)');
    return undefined;
  }
  progress(
    `watch window: looking every ${w.intervalSeconds}s until ${new Date(untilMs).toISOString()} ` +
      `(${w.marginSeconds}s before the next pass, controller.pass.watchWindow)`,
  );
  return { untilMs, intervalMs: w.intervalSeconds * 1000 };
}

// One reconcile pass: observe through the mirror, decide, trigger at most once per sha, close out.
export function registerRunOnce(program: Command, ctx: VerbContext): void {
  program
    .command('run-once')
    .summary('run one reconcile pass (decisions only with --dry-run)')
    .description(
      'Run one reconcile pass over the chosen followers. --dry-run prints the decision of each ' +
        '(Noop, PendingTrigger, InFlight or Blocked with a reason) and writes nothing anywhere: no state, ' +
        'no Lease, no Event, no sync, no trigger. --confirm acts: it takes the Lease, persists a ' +
        'write-ahead record before every trigger, triggers through the adapter, and records every phase ' +
        'transition in the state ConfigMap and as an Event. --wait then follows closeout (the checks in ' +
        'closeout.checks) until success, failure or closeout.budgetSeconds, renewing the Lease. ' +
        '--controller runs as the CronJob pod does: in-cluster credentials unless --kubeconfig is given, ' +
        'and a Lease held by another live pass is a skip (exit 0), not an error. --expect-sha <sha> (with ' +
        "--follower) first waits until the mirror serves that commit on the follower's branch, at its tip or under " +
        'a descendant: with --confirm each look syncs the mirror from the upstream, with --dry-run it only reads ' +
        'the mirror, every controller.expectSha.pollIntervalSeconds within controller.expectSha.waitSeconds.\n\n' +
        'Exit codes: 0 done (or skipped, or stopped because another pass took the Lease over), 2 usage, ' +
        '4 neither --dry-run nor --confirm, 5 a follower failed or is blocked by an error (mirror, adapter, ' +
        'retry budget, a Lease that could not be kept) or the mirror never served --expect-sha (the pass did not run).',
    )
    .option('--all', 'every follower in the registry')
    .option('--follower <id>', 'only this follower')
    .option('--dry-run', 'print decisions only; write nothing')
    .option('--confirm', 'act on the decisions')
    .option('--wait', 'follow closeout until success, failure or the budget')
    .option('--controller', 'run as the controller pod: in-cluster route, Lease held elsewhere = skip')
    .option(...EXPECT_SHA_FLAG)
    .option(
      '--shard <index>',
      "only the followers of this shard (0 … controller.pass.shards-1), as pod <index> of the CronJob's Job runs; " +
        'without it every shard runs, side by side',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  branch-follower run-once --all --dry-run\n  branch-follower run-once --follower hwlab-jd01-v03 ' +
        '--confirm --wait\n  branch-follower run-once --follower hwlab-jd01-v03 --expect-sha "$(git rev-parse HEAD)" --confirm\n',
    )
    .action(async (opts: RunOnceOptions) => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      const { adapterPort, kubePorts, mirrorPort, mountedSecretLiterals, runRedactedPass } = await import(
        '../../runner/index.ts'
      );
      const loaded = loadRegistry(ctx.globals().config, ctx.io.cwd);
      const followers = selectFollowers(loaded, opts);
      const expected =
        opts.expectSha === undefined
          ? undefined
          : { sha: expectedSha(opts.expectSha), follower: expectedFollower(loaded, opts.follower) };
      if (opts.dryRun && opts.confirm) throw usage('choose --dry-run or --confirm, not both');
      if (!opts.confirm && (opts.wait || opts.controller))
        throw usage('--wait and --controller act: they need --confirm');
      const dryRun = !opts.confirm;
      const g = ctx.globals();
      const client =
        opts.controller && !g.kubeconfig
          ? (({ auth, route }) => clientOn(ctx, auth, route))(
              inClusterRoute(kubeRouteOf(ctx, loaded.registry.controller.kubeRoute), ctx.io.env),
            )
          : connect(ctx, loaded);
      // Read once for the whole pass: whatever it records or prints is redacted of these values too.
      const literals = mountedSecretLiterals(loaded);
      const c = loaded.registry.controller;
      const shards = opts.shard === undefined ? shardIndexes(c) : [shardOption(opts.shard, c.pass.shards)];
      const identity = `${hostname()}-${process.pid}`;
      if (opts.shard !== undefined && opts.follower !== undefined) {
        const k = shardOf(opts.follower, c.pass.shards);
        if (k !== shards[0])
          throw usage(
            `follower ${opts.follower} is in shard ${k}, not ${opts.shard} (controller.pass.shards: ${c.pass.shards})`,
          );
      }
      const runs = shards
        .map((k) => ({ k, followers: followersOfShard(followers, c.pass.shards, k) }))
        .filter((r) => r.followers.length > 0 || opts.shard !== undefined);
      // Each shard is its own pass (its own Lease and state): the shards a workstation runs go side by
      // side, their git calls over one SSH connection to the upstream host.
      const mirror = mirrorPort(loaded, ctx.io.env, literals);
      // A pass that acts syncs the mirror from the upstream to see the sha; a dry run only reads the mirror.
      let served: ShaServed | undefined;
      try {
        if (expected)
          served = await awaitExpectedSha(
            ctx,
            loaded,
            expected.follower,
            expected.sha,
            mirror,
            dryRun ? 'read' : 'sync',
          );
      } catch (err) {
        mirror.close();
        throw err;
      }
      const waited = expected && served ? { expectSha: expectShaData(expected.sha, served) } : {};
      const window = watchWindowOf(c, opts, (line) => ctx.progress(line));
      const results = await Promise.all(
        runs.map(({ k, followers: mine }) =>
          runRedactedPass(
            {
              ...kubePorts(client, c, realClock, k),
              mirror,
              adapters: adapterPort(loaded, ctx.io.env, literals),
              clock: realClock,
            },
            loaded,
            {
              followers: mine,
              dryRun,
              wait: opts.wait === true,
              identity,
              shard: k,
              ...(window ? { window } : {}),
              progress: runs.length > 1 ? (line) => ctx.progress(`[shard ${k}] ${line}`) : (line) => ctx.progress(line),
            },
            literals,
          ),
        ),
      ).finally(() => mirror.close());
      const result = mergeShards(
        loaded,
        runs.map((r, i) => ({ shard: r.k, result: results[i]! })),
        (line) => ctx.progress(line),
      );
      if ('skipped' in result) {
        ctx.print({
          data: {
            ...waited,
            skipped: true,
            holder: result.skipped.holder,
            renewedAgoSeconds: Math.round(result.skipped.renewedAgoMs / 1000),
          },
          human: [
            {
              line:
                `skipped: lease held by ${result.skipped.holder} (renewed ` +
                `${Math.round(result.skipped.renewedAgoMs / 1000)}s ago)`,
            },
          ],
        });
        return;
      }
      ctx.print(passView(loaded, result, dryRun, waited));
      if (!opts.dryRun && !opts.confirm) throw new ConfirmationRequiredError('run-once');
      if (result.failed) ctx.setExitCode(ExitCode.Failed);
    });
}
