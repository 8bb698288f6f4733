import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { envtestAssets } from '../../scripts/envtest/assets.ts';
import { startControlPlane, stopControlPlane, type ControlPlaneInfo } from '../../scripts/envtest/control-plane.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    controlPlane: ControlPlaneInfo;
    envtestAssets: string;
  }
}

// One real kube-apiserver + etcd for the whole run; tests isolate by namespace. It is stopped when
// the run ends, failed or not, and a guard process stops it if the run itself dies.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const assets = envtestAssets();
  const dir = mkdtempSync(join(tmpdir(), 'bf-envtest-'));
  const started = Date.now();
  const info = await startControlPlane({
    assets,
    dir,
    contextAliases: ['unidesk-jd01'],
    guardParent: true,
    readyTimeoutMs: 60_000,
  });
  console.log(`envtest: kube-apiserver ${info.server} ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  project.provide('controlPlane', info);
  project.provide('envtestAssets', assets);
  return async () => {
    await stopControlPlane(info);
    rmSync(dir, { recursive: true, force: true });
  };
}
