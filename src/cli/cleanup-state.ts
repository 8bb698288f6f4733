import { hostname } from 'node:os';
import type { Command } from 'commander';
import { BranchFollowerError, ConfirmationRequiredError } from '../../core/errors.ts';
import { connect } from './cluster.ts';
import { shardLeaseName, shardOf } from '../../core/config/shards.ts';
import type { VerbContext } from './verb.ts';

// The only way stale state is removed: explicitly, one follower at a time, under the Lease.
export function registerCleanupState(program: Command, ctx: VerbContext): void {
  program
    .command('cleanup-state')
    .summary("remove one follower's stale state record")
    .description(
      "Remove one follower's record from its shard's state ConfigMap, and nothing else. The record holds the shas " +
        "already triggered: after removal, the follower is treated as never observed. It takes the shard's Lease, " +
        'so it never races a pass. Without --confirm it prints what it would remove and exits 4.',
    )
    .requiredOption('--follower <id>', 'the follower whose record is removed')
    .option('--confirm', 'carry out the removal')
    .addHelpText(
      'after',
      '\nExamples:\n  branch-follower cleanup-state --follower web-probe-sentinel-master --confirm\n',
    )
    .action(async (opts: { follower: string; confirm?: boolean }) => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      const { kubeLease } = await import('../../runner/index.ts');
      const { followerState, stateNameOf, stateStoreOf } = await import('./follower-state.ts');
      const loaded = loadRegistry(ctx.globals().config, ctx.io.cwd);
      const c = loaded.registry.controller;
      const client = connect(ctx, loaded);
      const { snap, old } = await followerState(client, loaded, opts.follower);
      const where = stateNameOf(loaded, opts.follower);
      const record = snap.records.get(opts.follower);
      const present = record !== undefined || snap.unreadable.has(opts.follower);
      const what = record
        ? `phase ${record.phase}, ${record.triggered.length} triggered shas, updated ${record.updatedAt}`
        : present
          ? 'an unreadable record'
          : 'no record';
      if (present && old) {
        throw new BranchFollowerError(
          `the record of ${opts.follower} is still in ${c.namespace}/${c.configMaps.state} (the layout before shards); ` +
            'nothing was removed. The next pass carries it over into its shard: run cleanup-state after it',
          { reason: 'KubeConflict', retryable: true },
        );
      }
      if (!present) {
        ctx.print({
          data: { follower: opts.follower, removed: false },
          human: [{ line: `${opts.follower}: no record in ${where}; nothing to remove` }],
        });
        return;
      }
      if (!opts.confirm) {
        ctx.print({
          data: { follower: opts.follower, wouldRemove: true },
          human: [{ line: `would remove the record of ${opts.follower} (${what}) from ${where}` }],
        });
        throw new ConfirmationRequiredError('cleanup-state');
      }
      const lease = kubeLease(client, c.namespace, shardLeaseName(c, shardOf(opts.follower, c.pass.shards)), () =>
        Date.now(),
      );
      const got = await lease.acquire(`${hostname()}-${process.pid}-cleanup`);
      if (!got.acquired) {
        throw new BranchFollowerError(
          `a pass holds the Lease (${got.holder}); nothing was removed. Retry after it ends`,
          { reason: 'KubeConflict', retryable: true },
        );
      }
      try {
        const fresh = await followerState(client, loaded, opts.follower);
        await stateStoreOf(client, loaded, opts.follower).write(fresh.snap, new Map([[opts.follower, null]]));
      } finally {
        try {
          await lease.release(got.lease);
        } catch (err) {
          ctx.progress(`warning: could not release the Lease: ${(err as Error).message}`);
        }
      }
      ctx.print({
        data: { follower: opts.follower, removed: true },
        human: [{ line: `removed the record of ${opts.follower} (${what})` }, { next: ['branch-follower status'] }],
      });
    });
}
