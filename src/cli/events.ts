import type { Command } from 'commander';
import { resourceType } from '../../core/kube/resources.ts';
import type { View } from '../../core/output/view.ts';
import { connect } from './cluster.ts';
import { withNamespace } from './namespace.ts';
import type { VerbContext } from './verb.ts';

interface EventObject {
  eventTime?: string;
  metadata: { creationTimestamp?: string };
  type?: string;
  reason?: string;
  action?: string;
  note?: string;
  reportingInstance?: string;
}

/** One row of the Kubernetes Events table. */
function toEventRow(e: EventObject): string[] {
  return [
    e.eventTime ?? e.metadata.creationTimestamp ?? '-',
    e.type ?? '-',
    e.action ?? '-',
    e.reason ?? '-',
    e.note ?? '',
  ];
}

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
      events.sort((a, b) => (toEventRow(a)[0]! < toEventRow(b)[0]! ? -1 : 1));
      const history = record?.history ?? [];
      const view: View = {
        data: { follower: opts.follower, history, events },
        human: [
          { line: `history of ${opts.follower} (state record, newest last)` },
          history.length === 0
            ? { line: '  (none: not observed yet)' }
            : {
                table: {
                  headers: ['time', 'from', 'to', 'sha', 'reason', 'detail'],
                  rows: history.map((t) => [
                    t.at,
                    t.from ?? '-',
                    t.to,
                    t.sha ? t.sha.slice(0, 12) : '-',
                    t.reason,
                    t.detail,
                  ]),
                },
              },
          { line: '' },
          { line: `Kubernetes Events of ${opts.follower} (expire after an hour)` },
          events.length === 0
            ? { line: '  (none)' }
            : { table: { headers: ['time', 'type', 'phase', 'reason', 'note'], rows: events.map(toEventRow) } },
          { next: [`branch-follower logs --follower ${opts.follower}`, 'branch-follower status'] },
        ],
      };
      ctx.print(view);
    });
}
