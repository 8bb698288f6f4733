import type { Command } from 'commander';
import { collectionPath, resourceType } from '../../core/kube/resources.ts';
import type { View } from '../../core/output/view.ts';
import { connect } from './cluster.ts';
import { withNamespace } from './namespace.ts';
import type { VerbContext } from './verb.ts';

/** The lines of a pass log that belong to one follower (the pass prefixes them with `[<id>]`). */
function followerLines(log: string, id: string): string[] {
  return log.split('\n').filter((l) => l.startsWith(`[${id}] `));
}

// A follower's lines from the controller Jobs' pods and the adapter output tails kept in state.
export function registerLogs(program: Command, ctx: VerbContext): void {
  program
    .command('logs')
    .summary("show a follower's lines from the pass pods and adapter output")
    .description(
      "Show a follower's lines from the reconcile-pass pods the CronJob's Jobs left (as many as the " +
        'history limits keep) and the last adapter status and trigger output kept in its state record. ' +
        'Everything is redacted of secret-looking values. Reads only.',
    )
    .requiredOption('--follower <id>', 'the follower')
    .addHelpText('after', '\nExamples:\n  branch-follower logs --follower agentrun-jd01-v02\n')
    .action(async (opts: { follower: string }) => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      const { redactSecrets } = await import('../../runner/read.ts');
      const { followerState } = await import('./follower-state.ts');
      const loaded = withNamespace(ctx, loadRegistry(ctx.globals().config, ctx.io.cwd));
      const client = connect(ctx, loaded);
      const c = loaded.registry.controller;
      const { snap } = await followerState(client, loaded, opts.follower);
      const selector = `app.kubernetes.io/component=reconcile-pass,app.kubernetes.io/instance=${c.name}`;
      const pods = await client.list(resourceType('v1', 'Pod'), c.namespace, selector);
      pods.sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)));
      const podLines: { pod: string; lines: string[] }[] = [];
      for (const pod of pods) {
        const path = `${collectionPath(resourceType('v1', 'Pod'), c.namespace)}/${encodeURIComponent(pod.metadata.name)}/log?container=reconcile-pass`;
        const res = await client.raw('GET', path, {
          verb: 'get',
          resource: `Pod ${c.namespace}/${pod.metadata.name} log`,
          context: client.route.context,
          server: client.route.server,
        });
        const lines =
          res.status === 200
            ? followerLines(redactSecrets(res.body), opts.follower)
            : [`(log not available: HTTP ${res.status})`];
        podLines.push({ pod: pod.metadata.name, lines });
      }
      const tail = snap.records.get(opts.follower)?.adapterTail ?? { status: '', trigger: '' };
      const view: View = {
        data: { follower: opts.follower, pods: podLines, adapterTail: tail },
        human: [
          ...(podLines.length === 0
            ? [{ line: `no reconcile-pass pods in ${c.namespace} (selector ${selector})` }]
            : podLines.flatMap((p) => [
                { line: `--- pod ${p.pod}` },
                { line: p.lines.join('\n') || '(no lines for this follower)' },
              ])),
          { line: '--- last adapter status output (state record)' },
          { line: tail.status || '(none)' },
          { line: '--- last adapter trigger output (state record)' },
          { line: tail.trigger || '(none)' },
          { next: [`branch-follower events --follower ${opts.follower}`] },
        ],
      };
      ctx.print(view);
    });
}
