import type { LoadedRegistry } from '../../core/config/load.ts';
import { KubeClient } from '../../core/kube/client.ts';
import { resolveRoute } from '../../core/kube/route.ts';
import type { VerbContext } from './verb.ts';

// The cluster a verb talks to: the registry's kube route, overridden only by --kubeconfig/--context.
export function connect(ctx: VerbContext, loaded: LoadedRegistry): KubeClient {
  const g = ctx.globals();
  const { kc, route } = resolveRoute(
    { kubeconfig: g.kubeconfig, context: g.context },
    loaded.registry.controller.kubeRoute,
    ctx.io.env,
  );
  return new KubeClient(kc, route);
}
