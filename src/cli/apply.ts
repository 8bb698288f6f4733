import type { Command } from 'commander';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { ConfirmationRequiredError } from '../../core/errors.ts';
import { accessQuestions, reviewAccess, type PassPermission } from '../../core/kube/access-review.ts';
import { applyPlan, type Applied } from '../../core/kube/apply.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { objectReadiness } from '../../core/kube/readiness.ts';
import { describeObject, resourceType } from '../../core/kube/resources.ts';
import { waitUntilReady, type ReadinessCheck } from '../../core/kube/wait.ts';
import type { View } from '../../core/output/view.ts';
import type { Manifest } from '../../core/kube/manifest.ts';
import { planFor, planView } from './plan.ts';
import { TIMEOUT_FLAG, waitBudget } from './timeouts.ts';
import type { VerbContext } from './verb.ts';

/** One readiness check per applied object, plus the pass's RBAC as its own ServiceAccount sees it. */
function readinessChecks(
  client: KubeClient,
  loaded: LoadedRegistry,
  manifests: readonly Manifest[],
  applied: readonly Applied[],
  permissions: readonly PassPermission[],
  registryConfigMaps: readonly string[],
): ReadinessCheck[] {
  const c = loaded.registry.controller;
  const checks: ReadinessCheck[] = manifests.map((m) => {
    const type = resourceType(m.apiVersion, m.kind);
    const ns = type.namespaced ? m.metadata.namespace : undefined;
    const generation = applied.find((a) => a.kind === m.kind && a.name === m.metadata.name)?.live?.metadata.generation;
    return {
      label: describeObject(m.kind, ns, m.metadata.name),
      check: async () => objectReadiness(m, await client.get(type, ns, m.metadata.name), generation),
    };
  });
  const questions = accessQuestions(permissions, registryConfigMaps);
  checks.push({
    label: `RBAC of ServiceAccount ${c.namespace}/${c.serviceAccount.name}`,
    check: async () => {
      const wrong = await reviewAccess(client, c.namespace, c.serviceAccount.name, questions);
      return wrong.length === 0
        ? { ready: true, detail: `exactly what the pass needs (${questions.length} access reviews)` }
        : { ready: false, detail: wrong.join('; ') };
    },
  });
  return checks;
}

function appliedView(applied: readonly Applied[], waited: { ms: number; checks: number } | undefined): View {
  const changed = applied.filter((a) => a.result !== 'unchanged' && a.result !== 'kept').length;
  return {
    data: {
      applied: applied.map(({ live: _live, ...a }) => a),
      ready: waited ? { checks: waited.checks, seconds: waited.ms / 1000 } : null,
    },
    human: [
      {
        line:
          changed === 0 ? 'apply: nothing to change' : `apply: ${changed} object${changed === 1 ? '' : 's'} changed`,
      },
      {
        table: {
          headers: ['kind', 'name', 'result'],
          rows: applied.map((a) => [a.kind, a.namespace ? `${a.namespace}/${a.name}` : a.name, a.result]),
        },
      },
      ...(waited ? [{ line: `ready: ${waited.checks} checks passed in ${(waited.ms / 1000).toFixed(1)}s` }] : []),
      { next: ['branch-follower status', 'branch-follower plan'] },
    ],
  };
}

// Server-side applies the synthesized controller, prunes what it no longer synthesizes, and waits.
export function registerApply(program: Command, ctx: VerbContext): void {
  program
    .command('apply')
    .summary('server-side apply the controller, then wait until it is ready')
    .description(
      'Server-side apply every synthesized object in dependency order (Namespace first) under the field ' +
        'manager "branch-follower", delete labelled objects no longer synthesized (never the state ' +
        'ConfigMap), and never wipe the live state records or the Lease holder. Without --confirm it ' +
        'prints the plan and exits 4, writing nothing.\n\n' +
        'With --wait it then polls until every object is ready (Namespace Active, objects at the applied ' +
        'generation, CronJob suspended exactly as declared) and the controller ServiceAccount, asked ' +
        'through SelfSubjectAccessReviews with its own token, can do exactly what the pass needs. The ' +
        'budget is controller.apply.waitSeconds; on timeout it names what is not ready and exits 5.',
    )
    .option('--confirm', 'carry out the apply (without it nothing is written)')
    .option('--wait', 'poll every object until ready, within controller.apply.waitSeconds')
    .option(...TIMEOUT_FLAG)
    .addHelpText('after', '\nExamples:\n  branch-follower apply\n  branch-follower apply --confirm --wait\n')
    .action(async (opts: { confirm?: boolean; wait?: boolean; timeout?: string }) => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      const loaded = loadRegistry(ctx.globals().config, ctx.io.cwd);
      const { waitSeconds, pollIntervalSeconds } = loaded.registry.controller.apply;
      const budget = waitBudget(opts, { waitSeconds, path: 'controller.apply.waitSeconds' });
      const { client, manifests, items } = await planFor(ctx, loaded);
      if (!opts.confirm) {
        ctx.print(planView(items, { diff: false, context: client.route.context }));
        throw new ConfirmationRequiredError('apply');
      }
      ctx.progress(`applying to context ${client.route.context} (${client.route.server}) ...`);
      const applied = await applyPlan(client, manifests, items, (a) => {
        if (a.result !== 'unchanged')
          ctx.progress(`  ${a.result.padEnd(10)} ${describeObject(a.kind, a.namespace, a.name)}`);
      });
      let waited: { ms: number; checks: number } | undefined;
      if (opts.wait) {
        // The rules the synthesized Role grants, as the chart settled them.
        const { controllerChart } = await import('../../synth/manifests.ts');
        const chart = controllerChart(loaded);
        const checks = readinessChecks(
          client,
          loaded,
          manifests,
          applied,
          chart.rbac.permissions,
          chart.registryConfigMapNames,
        );
        ctx.progress(`waiting for ${checks.length} checks (${budget.said}) ...`);
        const limit = { ms: budget.seconds * 1000, path: budget.path };
        const ms = await waitUntilReady(checks, {
          budget: limit,
          pollMs: pollIntervalSeconds * 1000,
          heartbeatMs: loaded.registry.controller.progress.heartbeatSeconds * 1000,
          onReady: (e) =>
            ctx.progress(
              `  ready ${e.readyCount}/${e.total} ${e.label}: ${e.detail} (${(e.elapsedMs / 1000).toFixed(1)}s)`,
            ),
          progress: (line) => ctx.progress(line),
        });
        waited = { ms, checks: checks.length };
      }
      ctx.print(appliedView(applied, waited));
    });
}
