import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Builds (or finds cached) kube-apiserver, etcd and kubectl; returns their directory. */
export function envtestAssets(): string {
  const out = execFileSync('bash', [join(import.meta.dirname, 'build.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const dir = out.trim().split('\n').pop();
  if (!dir) throw new Error('scripts/envtest/build.sh printed no asset directory');
  return dir;
}
