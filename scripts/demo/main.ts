// npm run demo: the whole story on one machine, in about a minute and a half once the control-plane
// binaries are cached. A real kube-apiserver + etcd; dist/ applied as it is, with --wait; status; a
// push closed out by a pass run through the synthesized CronJob pod (scripts/pod-exec); two quick
// pushes while a sha closes out (Superseded); run-once --dry-run, events and plan; then everything is
// stopped and removed, also when a step fails.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { PodResult } from '../pod-exec/index.ts';
import { ROOT, startControlPlaneForDemo, startWorld, type DemoWorld } from './world.ts';

const MAIN = join(ROOT, 'build/branch-follower.js');
const FOLLOWER = 'hwlab-jd01-v03';
const STEPS = 8;
const t0 = Date.now();
let step = 0;

const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
function header(title: string): void {
  step += 1;
  process.stdout.write(`\n== ${step}/${STEPS} ${title}   [${elapsed()}]\n`);
}
const say = (line: string) => process.stdout.write(`   ${line}\n`);

/** Runs the CLI as an operator would: its own process, the project as cwd, the cluster names resolvable. */
function cli(
  kubeconfig: string,
  wrap: ((argv: readonly string[]) => string[]) | null,
  args: string[],
  pathPrefix = '',
): Promise<number> {
  process.stdout.write(`\n$ branch-follower ${args.join(' ')}\n`);
  // The sandbox starts in /, so the registry is named by its absolute path.
  const argv = [
    process.execPath,
    MAIN,
    ...args,
    '--kubeconfig',
    kubeconfig,
    '--config',
    join(ROOT, 'config/cicd-branch-followers.yaml'),
  ];
  const [cmd, ...rest] = wrap ? wrap(argv) : argv;
  return new Promise((done, fail) => {
    const child = spawn(cmd!, rest, {
      cwd: ROOT,
      env: { PATH: `${pathPrefix}${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '/tmp', LANG: 'C.UTF-8' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.once('error', fail);
    child.once('exit', (code) => done(code ?? 70));
  });
}

async function must(code: Promise<number>, what: string, ok: readonly number[] = [0]): Promise<void> {
  const c = await code;
  if (!ok.includes(c)) throw new Error(`${what} exited ${c}`);
}

/** The pass container's lines, prefixed, as they come. */
function streamPass(name: string, line: string): void {
  process.stdout.write(`   [${name}] ${line}\n`);
}
function podHooks() {
  const partial = new Map<string, string>();
  return {
    onOutput(container: string, stream: 'stdout' | 'stderr', text: string) {
      const key = `${container}/${stream}`;
      const lines = `${partial.get(key) ?? ''}${text}`.split('\n');
      partial.set(key, lines.pop()!);
      for (const l of lines) streamPass(container, l);
    },
  };
}
function podDone(r: PodResult): void {
  for (const c of r.containers)
    say(
      `${c.init ? 'init container' : 'container'} ${c.name}: exit ${c.exitCode} in ` +
        `${((c.finishedAt - c.startedAt) / 1000).toFixed(1)}s`,
    );
  if (r.phase !== 'Succeeded') throw new Error(`the pass pod ended ${r.phase} (${r.reason})`);
}

async function story(w: DemoWorld, kubeconfig: string): Promise<void> {
  // The operator's machine has the UniDesk CLIs too (the doubles), for run-once --dry-run's status reads.
  const run = (args: string[], ok?: readonly number[]) =>
    must(cli(kubeconfig, w.withClusterDns, args, `${w.pods.fake.binDir}:`), `branch-follower ${args.join(' ')}`, ok);
  const hwlab = w.pods.followers.find((f) => f.id === FOLLOWER)!;

  header('status before the first pass');
  await run(['status']);

  header(`push one commit to ${hwlab.repo} ${hwlab.branch}; the synthesized CronJob pod runs one pass`);
  // Every control plane already runs its branch tip, so the pass has exactly one new sha.
  const lanes: Record<string, { initialTargetSha: string; runSeconds: number }> = {};
  for (const f of w.pods.followers) {
    const tip =
      (await w.pods.upstreamRef(f.repo, `refs/heads/${f.branch}`)) ??
      (await w.pods.pushUpstream(f.repo, f.branch, `${f.id} base`));
    lanes[f.fakeKey] = { initialTargetSha: tip, runSeconds: 3 };
  }
  w.pods.configure({ lanes });
  const sha = await w.pods.pushUpstream(hwlab.repo, hwlab.branch, 'demo: one new commit');
  say(`pushed ${sha.slice(0, 12)} upstream; running the pod (init container clone-source, then reconcile-pass)`);
  podDone(await w.runPassPod('branch-follower-demo-1', podHooks()));
  await run(['events', '--follower', FOLLOWER]);

  header('two pushes in quick succession while a sha is closing out: Superseded');
  w.pods.configure({ lanes: { ...lanes, [hwlab.fakeKey]: { initialTargetSha: sha, runSeconds: 12 } } });
  const first = await w.pods.pushUpstream(hwlab.repo, hwlab.branch, 'demo: change A');
  say(`pushed ${first.slice(0, 12)}; the pod's pass triggers it and follows its closeout`);
  const pod = w.runPassPod('branch-follower-demo-2', podHooks());
  for (const end = Date.now() + 60_000; !w.pods.fake.triggers().some((t) => t.sha === first); ) {
    if (Date.now() > end) throw new Error(`no trigger of ${first} within 60s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const b = await w.pods.pushUpstream(hwlab.repo, hwlab.branch, 'demo: change B');
  const c = await w.pods.pushUpstream(hwlab.repo, hwlab.branch, 'demo: change C');
  say(`pushed ${b.slice(0, 12)} and ${c.slice(0, 12)} while ${first.slice(0, 12)} is in flight`);
  podDone(await pod);
  await run(['events', '--follower', FOLLOWER]);

  header('what a pass would do now (dry run: writes nothing), and the drill-down');
  await run(['run-once', '--all', '--dry-run']);
  await run(['logs', '--follower', FOLLOWER]);

  header('status, the git mirror, and plan (the cluster still matches dist/)');
  await run(['status']);
  await run(['git-mirror', 'status']);
  await run(['plan']);

  header('what the UniDesk CLI doubles were asked to do');
  for (const t of w.pods.fake.triggers()) say(`${t.at}  ${t.cli} ${t.lane}  ${t.snapshotRef}`);
}

async function main(): Promise<void> {
  header('a real control plane; dist/ applied as it is, waiting until ready');
  const { cp, admin, dir } = await startControlPlaneForDemo(say);
  let w: DemoWorld | undefined;
  try {
    await must(cli(cp.kubeconfig, null, ['apply', '--confirm', '--wait']), 'apply');
    say("the pass pod's outside world, at the names and ports the registry declares:");
    w = await startWorld(cp, admin, dir, say);
    await story(w, cp.kubeconfig);
  } finally {
    header('tear down');
    if (w) await w.dispose();
    else await (await import('../envtest/control-plane.ts')).stopControlPlane(cp);
    say('control plane, git daemon, sshd, proxy and temp directories removed');
  }
  process.stdout.write(`\ndemo: done in ${elapsed()}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
