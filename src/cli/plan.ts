import type { Command } from 'commander';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { ExitCode } from './exit-codes.ts';
import { computePlan, PlanAction, type PlanItem } from '../../core/kube/plan.ts';
import { kubectlName } from '../../core/kube/resources.ts';
import type { Tone } from '../../core/output/table.ts';
import type { Block, View } from '../../core/output/view.ts';
import { connect } from './cluster.ts';
import type { VerbContext } from './verb.ts';

/** Whether applying would change anything (what `plan`'s exit code 1 means). */
function hasChanges(items: readonly PlanItem[]): boolean {
  return items.some(
    (i) => i.action === PlanAction.Create || i.action === PlanAction.Update || i.action === PlanAction.Prune,
  );
}

function toPlanRow(item: PlanItem): string[] {
  return [item.kind, item.namespace ? `${item.namespace}/${item.name}` : item.name, item.action, item.reason || '-'];
}

/** What an action means at a glance on a terminal. */
function actionTone(action: string): Tone | undefined {
  if (action === PlanAction.Create) return 'good';
  if (action === PlanAction.Update) return 'busy';
  if (action === PlanAction.Prune) return 'bad';
  return undefined;
}

function planSummary(items: readonly PlanItem[]): string {
  const count = (a: string) => items.filter((i) => i.action === a).length;
  const kept = count('keep') ? `, ${count('keep')} kept` : '';
  return `plan: ${count('create')} to create, ${count('update')} to update, ${count('prune')} to prune, ${count('unchanged')} unchanged${kept}`;
}

export function planView(items: readonly PlanItem[], opts: { diff: boolean; context: string }): View {
  const human: Block[] = [
    { line: `${planSummary(items)} (context ${opts.context})` },
    {
      table: {
        headers: ['kind', 'name', 'action', 'reason'],
        rows: items.map(toPlanRow),
        shrink: 'reason',
        tones: { action: actionTone },
      },
    },
  ];
  if (opts.diff) for (const i of items) if (i.diff) human.push({ line: i.diff.trimEnd() });
  human.push({
    next: hasChanges(items)
      ? ['branch-follower plan --diff', 'branch-follower apply --confirm --wait']
      : ['branch-follower status'],
  });
  const names = items.map((i) => kubectlName(i.kind, i.name));
  return { data: { context: opts.context, changes: hasChanges(items), items }, human, names };
}

/** Synthesizes and plans against the cluster of the kube route. */
export async function planFor(ctx: VerbContext, loaded: LoadedRegistry) {
  const { synthesize } = await import('../../synth/manifests.ts');
  const { ownerLabels } = await import('../../synth/props.ts');
  const client = connect(ctx, loaded);
  const manifests = synthesize(loaded);
  const items = await computePlan(client, manifests, loaded.registry.controller.namespace, ownerLabels(loaded));
  return { client, manifests, items };
}

// Synthesizes and diffs against the live cluster (server-side dry-run apply per object).
export function registerPlan(program: Command, ctx: VerbContext): void {
  program
    .command('plan')
    .summary('synthesize and diff against the live cluster')
    .description(
      'Synthesize the controller and compare every object with the live cluster using a server-side ' +
        'dry-run apply (server-owned fields such as managedFields, resourceVersion and status are ignored; ' +
        'the live data of the state ConfigMap is never drift). Prints kind, namespace/name and action: ' +
        'create, update, unchanged, prune (labelled as ours, no longer synthesized) or keep (would be ' +
        'pruned but holds state). Writes nothing.\n\n' +
        'Exit codes: 0 nothing to change, 1 changes, 2 and above an error.',
    )
    .option('--diff', 'show a field-level unified diff of each change (Secret values never shown)')
    .addHelpText('after', '\nExamples:\n  branch-follower plan\n  branch-follower plan --diff --context unidesk-jd01\n')
    .action(async (opts: { diff?: boolean }) => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      const loaded = loadRegistry(ctx.globals().config, ctx.io.cwd);
      const { client, items } = await planFor(ctx, loaded);
      ctx.print(planView(items, { diff: opts.diff === true, context: client.route.context }));
      if (hasChanges(items)) ctx.setExitCode(ExitCode.Changes);
    });
}
