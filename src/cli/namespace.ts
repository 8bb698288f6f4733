import type { Command } from 'commander';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { UsageError } from '../../core/errors.ts';
import { verbName } from './output-choice.ts';
import type { VerbContext } from './verb.ts';

// `-n/--namespace`, as kubectl has it: the namespace the read verbs look in, overriding the registry's
// controller.namespace for one run. The verbs that write (or synthesize) work where the registry says;
// -n cannot move them, and saying it there is an error rather than something silently ignored.

/** The verbs -n applies to (directly under the program). */
const READ_VERBS = ['status', 'events', 'logs'] as const;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Refuses -n for a verb it cannot apply to, before that verb runs. */
export function refuseNamespaceOutsideReads(program: Command): void {
  program.hook('preAction', (_root, action) => {
    const ns = program.opts<{ namespace?: string }>().namespace;
    if (ns === undefined) return;
    const verb = verbName(program, action);
    if (action.parent === program && (READ_VERBS as readonly string[]).includes(verb)) return;
    throw new UsageError(
      `-n/--namespace "${ns}" applies only to ${READ_VERBS.join(', ')}; ${verb} always uses the registry's ` +
        'controller.namespace: change it there instead',
    );
  });
}

/** The registry as a read verb sees it: controller.namespace replaced by -n when it was given. */
export function withNamespace(ctx: VerbContext, loaded: LoadedRegistry): LoadedRegistry {
  const ns = ctx.globals().namespace;
  if (ns === undefined) return loaded;
  if (ns.length > 63 || !DNS_LABEL.test(ns))
    throw new UsageError(
      `-n/--namespace "${ns.slice(0, 80)}": a namespace is a DNS-1123 label (lowercase letters, digits and '-', ` +
        'at most 63 characters)',
    );
  const controller = { ...loaded.registry.controller, namespace: ns };
  return { ...loaded, registry: { ...loaded.registry, controller } };
}
