import { createRequire } from 'node:module';
import type { KubeConfig } from '@kubernetes/client-node';

// @kubernetes/client-node takes about a second to import (its index loads every generated API
// class), so it is loaded at the first kubeconfig a verb reads, not when the CLI starts: --help,
// validate and every error found before the cluster is reached never pay for it. It is required,
// not imported, so route resolution stays synchronous; require() of this ES module returns the same
// module instance an `import` of it gets.
const require = createRequire(import.meta.url);

/** A new, empty KubeConfig; the library is loaded on the first call. */
export function newKubeConfig(): KubeConfig {
  const lib = require('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
  return new lib.KubeConfig();
}
