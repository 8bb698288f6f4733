import { createRequire } from 'node:module';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { BranchFollowerError } from '../errors.ts';
import type { KubeAuth } from './kube-auth.ts';

// The kubeconfigs the project's own reader leaves to @kubernetes/client-node: a user with a legacy
// auth-provider (oidc, azure, gcp) or a cluster behind a proxy-url. The library takes about a second
// to import (its index loads every generated API class), so it is loaded only for such a route.
// It is required, not imported, so route resolution stays synchronous; require() of this ES module
// returns the same module instance an `import` of it gets.
const require = createRequire(import.meta.url);
const lib = () => require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');

class ClientNodeAuth implements KubeAuth {
  private readonly kc: KubeConfig;

  constructor(kc: KubeConfig) {
    this.kc = kc;
  }

  async applyTo(opts: RequestOptions): Promise<void> {
    await this.kc.applyToHTTPSOptions(opts);
  }

  withToken(token: string, identity: string): KubeAuth {
    const cluster = this.kc.getCurrentCluster()!;
    const kc = new (lib().KubeConfig)();
    kc.loadFromOptions({
      clusters: [cluster],
      users: [{ name: identity, token }],
      contexts: [{ name: identity, cluster: cluster.name, user: identity }],
      currentContext: identity,
    });
    return new ClientNodeAuth(kc);
  }
}

/** The route's credentials as @kubernetes/client-node reads the files (merged in order). */
export function clientNodeAuth(files: readonly string[], context: string): KubeAuth {
  const kc = new (lib().KubeConfig)();
  for (const file of files) {
    const one = new (lib().KubeConfig)();
    try {
      one.loadFromFile(file);
      kc.mergeConfig(one, true);
    } catch (err) {
      throw new BranchFollowerError(`cannot read kubeconfig ${file}: ${(err as Error).message}`, {
        reason: 'KubeRoute',
        retryable: false,
      });
    }
  }
  kc.setCurrentContext(context);
  return new ClientNodeAuth(kc);
}
