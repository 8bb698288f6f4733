// npm run envtest -- up|down|status: a real kube-apiserver + etcd on loopback for the demo and
// for people, the same control plane the tests start.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { envtestAssets } from './assets.ts';
import { adminGet, alive, startControlPlane, stopControlPlane, type ControlPlaneInfo } from './control-plane.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const RUN_DIR = join(ROOT, '.cache/envtest/run');
const INFO = join(RUN_DIR, 'control-plane.json');

function current(): ControlPlaneInfo | undefined {
  return existsSync(INFO) ? (JSON.parse(readFileSync(INFO, 'utf8')) as ControlPlaneInfo) : undefined;
}

/** The registry's kube route context, so `--kubeconfig <printed>` works with the shipped registry. */
function registryContext(): string[] {
  const text = readFileSync(join(ROOT, 'config/cicd-branch-followers.yaml'), 'utf8');
  const context = (parse(text) as { controller?: { kubeRoute?: { context?: unknown } } }).controller?.kubeRoute
    ?.context;
  return typeof context === 'string' ? [context] : [];
}

async function up(): Promise<number> {
  const running = current();
  if (running && alive(running.pids.apiserver) && (await adminGet(running, '/readyz')).status === 200) {
    console.log(`envtest: already up at ${running.server}`);
    console.log(`export KUBECONFIG=${running.kubeconfig}`);
    return 0;
  }
  if (running) await stopControlPlane(running);
  rmSync(RUN_DIR, { recursive: true, force: true });
  const assets = envtestAssets();
  const started = Date.now();
  const info = await startControlPlane({
    assets,
    dir: RUN_DIR,
    contextAliases: registryContext(),
    guardParent: false,
    readyTimeoutMs: 60_000,
  });
  console.log(`envtest: kube-apiserver ready at ${info.server} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  console.log(`envtest: kubeconfig ${info.kubeconfig}`);
  console.log(`envtest: audit log ${info.auditLog}`);
  console.log(`export KUBECONFIG=${info.kubeconfig}`);
  return 0;
}

async function down(): Promise<number> {
  const info = current();
  if (!info) {
    console.log('envtest: not running');
    return 0;
  }
  await stopControlPlane(info);
  rmSync(RUN_DIR, { recursive: true, force: true });
  console.log('envtest: stopped');
  return 0;
}

async function status(): Promise<number> {
  const info = current();
  if (!info) {
    console.log('envtest: not running');
    return 1;
  }
  const ready = (await adminGet(info, '/readyz')).status === 200;
  console.log(
    `envtest: ${ready ? 'ready' : 'NOT ready'} at ${info.server} (etcd pid ${info.pids.etcd} ` +
      `${alive(info.pids.etcd) ? 'alive' : 'gone'}, kube-apiserver pid ${info.pids.apiserver} ` +
      `${alive(info.pids.apiserver) ? 'alive' : 'gone'})`,
  );
  console.log(`export KUBECONFIG=${info.kubeconfig}`);
  return ready ? 0 : 1;
}

const verbs: Record<string, () => Promise<number>> = { up, down, status };
const verb = process.argv[2] ?? '';
const run = verbs[verb];
if (!run) {
  console.error('usage: npm run envtest -- up|down|status');
  process.exitCode = 2;
} else {
  process.exitCode = await run();
}
