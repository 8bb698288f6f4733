import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { ControllerConfig } from '../config/schema.ts';
import { BranchFollowerError } from '../errors.ts';
import { clientNodeAuth } from './client-node-auth.ts';
import { KubeconfigAuth, type KubeAuth } from './kube-auth.ts';
import { readKubeconfig } from './kubeconfig.ts';
import type { RetryPolicy } from './retry.ts';

/** Where the CLI talks to, and why there. */
export interface KubeRoute {
  readonly kubeconfig: string;
  readonly context: string;
  /** `registry` (controller.kubeRoute.context) or `--context`. */
  readonly contextSource: 'registry' | 'flag';
  readonly server: string;
  readonly user: string;
  /** One try of a request still unanswered after this counts as unreachable. */
  readonly requestTimeoutMs: number;
  /** How every request is retried after a transient failure (controller.kubeRoute.retry). */
  readonly retry: RetryPolicy;
}

/** What a route takes from the registry's controller.kubeRoute (context aside). */
type RouteBudgets = Pick<ControllerConfig['kubeRoute'], 'requestTimeoutSeconds' | 'retry'>;

const retryPolicy = (r: RouteBudgets['retry']): RetryPolicy => ({
  budgetMs: r.budgetSeconds * 1000,
  initialBackoffMs: r.initialBackoffMilliseconds,
  maxBackoffMs: r.maxBackoffMilliseconds,
});

function routeError(message: string): BranchFollowerError {
  return new BranchFollowerError(message, { reason: 'KubeRoute', retryable: false });
}

/** kubectl's order: --kubeconfig, else $KUBECONFIG (a path list, merged), else ~/.kube/config. */
export function kubeconfigFiles(flag: string | undefined, env: NodeJS.ProcessEnv): { files: string[]; from: string } {
  if (flag) return { files: [flag], from: '--kubeconfig' };
  const list = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p.length > 0);
  if (list.length > 0) return { files: list, from: '$KUBECONFIG' };
  return { files: [join(homedir(), '.kube', 'config')], from: 'the default ~/.kube/config' };
}

/** Where a pod finds its ServiceAccount credentials (the kubelet mounts them there). */
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

// The route of the pass pod (`--controller` without --kubeconfig): its own ServiceAccount, as the
// kubelet mounted it, and the API server the pod's environment names. Asked for explicitly, never
// a fallback.
export function inClusterRoute(
  kubeRoute: RouteBudgets,
  env: NodeJS.ProcessEnv,
  dir = SERVICE_ACCOUNT_DIR,
): { auth: KubeconfigAuth; route: KubeRoute } {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(join(dir, 'token'))) {
    throw routeError(
      `--controller without --kubeconfig runs in a pod: it needs KUBERNETES_SERVICE_HOST/PORT and a ServiceAccount ` +
        `token in ${dir}; outside a pod pass --kubeconfig`,
    );
  }
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const file = '(in-cluster)';
  const auth = new KubeconfigAuth(
    { name: 'in-cluster', server, caFile: join(dir, 'ca.crt'), insecureSkipTlsVerify: false, file },
    // Read per try: the kubelet rotates the token.
    { name: 'in-cluster', tokenFile: join(dir, 'token'), file },
    { timeoutMs: kubeRoute.retry.budgetSeconds * 1000, env },
  );
  return {
    auth,
    route: {
      kubeconfig: '(in-cluster)',
      context: 'in-cluster',
      contextSource: 'flag',
      server,
      user: 'ServiceAccount (in-cluster)',
      requestTimeoutMs: kubeRoute.requestTimeoutSeconds * 1000,
      retry: retryPolicy(kubeRoute.retry),
    },
  };
}

// Resolves the kube route: the context the registry declares (controller.kubeRoute.context), which
// only an explicit --context overrides, in the kubeconfig kubectl would use (or --kubeconfig).
// Never falls back to in-cluster config or a default server.
export function resolveRoute(
  opts: { kubeconfig?: string | undefined; context?: string | undefined },
  kubeRoute: RouteBudgets & { readonly context: string },
  env: NodeJS.ProcessEnv,
): { auth: KubeAuth; route: KubeRoute } {
  const { files, from } = kubeconfigFiles(opts.kubeconfig, env);
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0)
    throw routeError(`no kubeconfig: ${files.join(', ')} (from ${from}) does not exist; pass --kubeconfig <file>`);
  const kc = readKubeconfig(present);
  const context = opts.context ?? kubeRoute.context;
  const contextSource = opts.context ? 'flag' : 'registry';
  const ctx = kc.contexts.get(context);
  if (!ctx) {
    const known = [...kc.contexts.keys()].join(', ') || 'none';
    const why = contextSource === 'registry' ? ' (controller.kubeRoute.context; override with --context)' : '';
    throw routeError(`context "${context}"${why} is not in kubeconfig ${present.join(', ')} (contexts: ${known})`);
  }
  const cluster = kc.clusters.get(ctx.cluster);
  if (!cluster)
    throw routeError(
      `context "${context}" names cluster "${ctx.cluster}", which kubeconfig ${present.join(', ')} lacks`,
    );
  const user = kc.users.get(ctx.user) ?? { name: ctx.user, file: ctx.file };
  // A legacy auth-provider or a proxy is left to @kubernetes/client-node, which reads them.
  const auth =
    user.authProvider !== undefined || cluster.proxyUrl
      ? clientNodeAuth(present, context)
      : new KubeconfigAuth(cluster, user, { timeoutMs: kubeRoute.retry.budgetSeconds * 1000, env });
  return {
    auth,
    route: {
      kubeconfig: present.join(delimiter),
      context,
      contextSource,
      server: cluster.server,
      user: ctx.user,
      requestTimeoutMs: kubeRoute.requestTimeoutSeconds * 1000,
      retry: retryPolicy(kubeRoute.retry),
    },
  };
}
