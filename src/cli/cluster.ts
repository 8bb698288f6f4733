import type { LoadedRegistry } from '../../core/config/load.ts';
import { KubeClient } from '../../core/kube/client.ts';
import type { KubeAuth } from '../../core/kube/kube-auth.ts';
import { resolveRoute, type KubeRoute } from '../../core/kube/route.ts';
import { kubeRouteOf } from './timeouts.ts';
import type { VerbContext } from './verb.ts';

// The cluster a verb talks to: the registry's kube route, overridden only by --kubeconfig/--context
// (and its request timeout by --request-timeout).
export function connect(ctx: VerbContext, loaded: LoadedRegistry): KubeClient {
  const g = ctx.globals();
  const { auth, route } = resolveRoute(
    { kubeconfig: g.kubeconfig, context: g.context },
    kubeRouteOf(ctx, loaded.registry.controller.kubeRoute),
    ctx.io.env,
  );
  return clientOn(ctx, auth, route);
}

/** A client on a route whose retries are told on the verb's progress stream (stderr). */
export function clientOn(ctx: VerbContext, auth: KubeAuth, route: KubeRoute): KubeClient {
  return new KubeClient(auth, route, { progress: (line) => ctx.progress(line) });
}
