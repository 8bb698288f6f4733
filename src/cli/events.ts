import type { Command } from 'commander';
import { resourceType } from '../../core/kube/resources.ts';
import { type EventObject, eventsView } from './events-view.ts';
import { connect } from './cluster.ts';
import { withNamespace } from './namespace.ts';
import type { VerbContext } from './verb.ts';

// A follower's Kubernetes Events together with the state's own history (Events expire; it does not).
export function registerEvents(program: Command, ctx: VerbContext): void {
  program
    .command('events')
    .summary("show a follower's events and transition history")
    .description(
      "Show a follower's transition history kept in its state record (bounded by controller.state.historyLimit) " +
        'and the Kubernetes Events the pass recorded for it (they expire after an hour). Reads only.',
    )
    .requiredOption('--follower <id>', 'the follower')
    .addHelpText('after', '\nExamples:\n  branch-follower events --follower hwlab-jd01-v03\n')
    .action(async (opts: { follower: string }) => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      const { FOLLOWER_LABEL } = await import('../../runner/read.ts');
      const { followerState } = await import('./follower-state.ts');
      const loaded = withNamespace(ctx, loadRegistry(ctx.globals().config, ctx.io.cwd));
      const client = connect(ctx, loaded);
      const ns = loaded.registry.controller.namespace;
      const { snap } = await followerState(client, loaded, opts.follower);
      const record = snap.records.get(opts.follower);
      const events = (await client.list(
        resourceType('events.k8s.io/v1', 'Event'),
        ns,
        `${FOLLOWER_LABEL}=${opts.follower}`,
      )) as unknown as EventObject[];
      ctx.print(eventsView(opts.follower, record, events, Date.now()));
    });
}
