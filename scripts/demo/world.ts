import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveRoute } from '../../core/kube/route.ts';
import { KubeClient } from '../../core/kube/client.ts';
import { shippedRegistry } from '../world/registry.ts';
import { passPodIndexes, preparePassPod, startPodPathWorld, type PodPathWorld } from '../world/pod-path-world.ts';
import { envtestAssets } from '../envtest/assets.ts';
import { startControlPlane, stopControlPlane, type ControlPlaneInfo } from '../envtest/control-plane.ts';
import { hostsFile, serverSandbox, type PodResult, type RunHooks } from '../pod-exec/index.ts';

// Everything the demo runs against, on this machine: the real kube-apiserver + etcd the tests use,
// and the pass pod's outside world at the names and ports the shipped registry declares (the git
// mirror, an SSH upstream standing in for GitHub, the CONNECT proxy, the UniDesk CLI doubles) — the
// same world the pod-path test builds (scripts/world/pod-path-world.ts). dist/ is applied as it is.

export const ROOT = resolve(import.meta.dirname, '../..');

export interface DemoWorld {
  readonly cp: ControlPlaneInfo;
  readonly admin: KubeClient;
  readonly pods: PodPathWorld;
  /** Wraps an argv so it runs with an /etc/hosts that resolves the cluster names to the loopback servers. */
  readonly withClusterDns: (argv: readonly string[]) => string[];
  /**
   * Runs the synthesized CronJob's Job once (pod-exec): one pod per completion index (shard), side by side,
   * streaming their output; Succeeded when every pod succeeded, else the first failure's reason.
   */
  runPassPod(name: string, hooks: RunHooks): Promise<PodResult>;
  dispose(): Promise<void>;
}

export async function startControlPlaneForDemo(
  say: (line: string) => void,
): Promise<{ cp: ControlPlaneInfo; admin: KubeClient; dir: string }> {
  const assets = envtestAssets();
  const dir = mkdtempSync(join(tmpdir(), 'bf-demo-cp-'));
  const started = Date.now();
  const cp = await startControlPlane({
    assets,
    dir,
    contextAliases: ['unidesk-jd01'],
    guardParent: true,
    readyTimeoutMs: 60_000,
  });
  say(`kube-apiserver + etcd ready at ${cp.server} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  // The shipped registry's kube route budgets, on the admin context of the demo's cluster.
  const { kubeRoute } = shippedRegistry().registry.controller;
  const { auth, route } = resolveRoute({ kubeconfig: cp.kubeconfig }, { ...kubeRoute, context: 'envtest' }, {});
  return { cp, admin: new KubeClient(auth, route, { progress: say }), dir };
}

export async function startWorld(
  cp: ControlPlaneInfo,
  admin: KubeClient,
  cpDir: string,
  say: (line: string) => void,
): Promise<DemoWorld> {
  const pods = await startPodPathWorld(admin);
  for (const e of pods.endpoints) say(`${e.host}:${e.port}  ${e.what}`);
  const hosts = join(cpDir, 'demo-hosts');
  writeFileSync(
    hosts,
    hostsFile(
      'demo',
      pods.endpoints.map((e) => e.host),
    ),
  );
  // The operator's CLI sees the project (and Node in its node_modules) and the generated hosts file.
  const withClusterDns = serverSandbox(join(cpDir, 'cli-sandbox'), [
    { source: ROOT, target: ROOT, readOnly: false },
    { source: hosts, target: '/etc/hosts', readOnly: true },
  ]);
  const prepared: { dispose(): Promise<void> }[] = [];
  return {
    cp,
    admin,
    pods,
    withClusterDns,
    async runPassPod(name, hooks) {
      const results = await Promise.all(
        passPodIndexes(pods).map(async (completionIndex) => {
          const podName = `${name}-${completionIndex}`;
          const pod = await preparePassPod(pods, { admin, kubeconfig: cp.kubeconfig, podName, completionIndex });
          prepared.push(pod);
          return pod.run(hooks);
        }),
      );
      const failed = results.find((r) => r.phase === 'Failed');
      return {
        phase: failed ? 'Failed' : 'Succeeded',
        reason: failed?.reason ?? null,
        containers: results.flatMap((r) => r.containers),
      };
    },
    async dispose() {
      for (const p of prepared) await p.dispose().catch(() => undefined);
      await pods.dispose();
      await stopControlPlane(cp);
      rmSync(cpDir, { recursive: true, force: true });
    },
  };
}
