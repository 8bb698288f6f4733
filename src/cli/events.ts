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
    .option(
      '-w, --watch',
      'after printing, watch the Events and the state record and print again on every change, until Ctrl-C (exit 0)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  branch-follower events --follower hwlab-jd01-v03\n  branch-follower events --follower hwlab-jd01-v03 -w\n',
    )
    .action(async (opts: { follower: string; watch?: boolean }) => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      const { FOLLOWER_LABEL } = await import('../../runner/read.ts');
      const { followerState } = await import('./follower-state.ts');
      const loaded = withNamespace(ctx, loadRegistry(ctx.globals().config, ctx.io.cwd));
      const client = connect(ctx, loaded);
      const ns = loaded.registry.controller.namespace;
      const EVENT = resourceType('events.k8s.io/v1', 'Event');
      const selector = `${FOLLOWER_LABEL}=${opts.follower}`;
      const read = async () => {
        const { snap } = await followerState(client, loaded, opts.follower);
        const events = (await client.list(EVENT, ns, selector)) as unknown as EventObject[];
        return eventsView(opts.follower, snap.records.get(opts.follower), events, Date.now());
      };
      const first = await read();
      if (!opts.watch) return ctx.print(first);
      const { stateObjectName, stateObjectOf } = await import('../../core/config/shards.ts');
      const { untilInterrupted } = await import('./interrupt.ts');
      const { watchEvents } = await import('./events-watch.ts');
      const { watchPrinter } = await import('./watch-print.ts');
      const c = loaded.registry.controller;
      const { signal, release } = untilInterrupted(ctx.io);
      try {
        await watchEvents({
          client,
          namespace: ns,
          watched: [
            { type: EVENT, labelSelector: selector },
            {
              type: resourceType('v1', 'ConfigMap'),
              labelSelector: '',
              names: new Set([stateObjectName(c, stateObjectOf(opts.follower, c.state.objects)), c.configMaps.state]),
            },
          ],
          read,
          first,
          print: watchPrinter(ctx),
          progress: (line) => ctx.progress(line),
          signal,
        });
      } finally {
        release();
      }
    });
}
