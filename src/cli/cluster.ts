import type { LoadedRegistry } from '../../core/config/load.ts';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../core/kube/client.ts';
import { resolveRoute, type KubeRoute } from '../../core/kube/route.ts';
import type { VerbContext } from './verb.ts';

// The cluster a verb talks to: the registry's kube route, overridden only by --kubeconfig/--context.
export function connect(ctx: VerbContext, loaded: LoadedRegistry): KubeClient {
  const g = ctx.globals();
  const { kc, route } = resolveRoute(
    { kubeconfig: g.kubeconfig, context: g.context },
    loaded.registry.controller.kubeRoute,
    ctx.io.env,
  );
  return clientOn(ctx, kc, route);
}

/** A client on a route whose retries are told on the verb's progress stream (stderr). */
export function clientOn(ctx: VerbContext, kc: KubeConfig, route: KubeRoute): KubeClient {
  return new KubeClient(kc, route, { progress: (line) => ctx.progress(line) });
}
