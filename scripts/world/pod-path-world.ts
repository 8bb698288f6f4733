import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { parse } from 'yaml';
import { gitopsRefOf, loadRegistry, type LoadedRegistry } from '../../core/config/load.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { resourceType } from '../../core/kube/resources.ts';
import {
  apiServerOf,
  assertPortFree,
  cronJobPod,
  dockerfileImage,
  hostsFile,
  podEndpoints,
  preparePod,
  requestServiceAccountToken,
  serverSandbox,
  type CronJobPod,
  type Endpoint,
  type PreparedPod,
} from '../pod-exec/index.ts';
import { makeFakeControlPlane, type FakeConfig, type FakeControlPlane } from './fake-control-plane-harness.ts';
import { startConnectProxy, type ConnectProxy } from './connect-proxy.ts';
import { hermeticGit, startGitServer, type GitServer } from './git-server.ts';
import { REGISTRY, ROOT } from './registry.ts';
import { startSshUpstream, type SshUpstream } from './ssh-upstream.ts';

// The outside world of the synthesized pass pod, on this machine, at the names and ports the shipped
// registry and dist/ declare (nothing of them is edited):
//   git-mirror.<ns>.svc.cluster.local:9418 → git daemon over the mirror cache claim's directory,
//       run as the pod's uid (git serves only repositories its user owns; the pods create them);
//   egress-proxy.…:3128                    → tinyproxy, in a mount namespace whose /etc/hosts
//       resolves ssh.github.com to 127.0.0.1 (the pod itself cannot resolve ssh.github.com);
//   ssh.github.com:443                     → sshd, in a mount namespace whose /etc/passwd has the
//       registry's SSH user (`git`, uid 0 there) and where /pikasTech is the upstream repositories'
//       directory, so `ssh://git@ssh.github.com:443/pikasTech/<name>.git` resolves as on GitHub;
//   the UniDesk CLIs                        → the fake control planes, self-contained, owned by the pod's uid.

const CONFIG_MAP = resourceType('v1', 'ConfigMap');
const SECRET = resourceType('v1', 'Secret');

/** One shipped follower, as the fake and the repositories see it. */
export interface FollowerFacts {
  readonly id: string;
  readonly adapter: string;
  readonly branch: string;
  /** `pikasTech/<name>.git`: under the cache, the served mirror and the upstream alike. */
  readonly repo: string;
  /** `<cli>:<lane>`, the fake's key. */
  readonly fakeKey: string;
  readonly gitopsRef: string;
}

export interface PodPathWorld {
  readonly loaded: LoadedRegistry;
  readonly pod: CronJobPod;
  /** The registry the pod runs: the ConfigMap's bytes as the API server holds them. */
  readonly registryText: string;
  readonly endpoints: readonly Endpoint[];
  readonly followers: readonly FollowerFacts[];
  /** The mirror cache claim's local directory. */
  readonly cacheDir: string;
  readonly git: GitServer;
  readonly ssh: SshUpstream;
  readonly proxy: ConnectProxy;
  readonly fake: FakeControlPlane;
  /** Where the fake's directory is in the pod's image. */
  readonly fakeAt: string;
  /** The pod's uid and fsGroup. */
  readonly uid: number;
  readonly gid: number;
  upstreamRef(repo: string, ref: string): Promise<string | undefined>;
  mirrorRef(repo: string, ref: string): Promise<string | undefined>;
  /** Commits on a branch upstream (as a push to GitHub would); returns the sha. */
  pushUpstream(repo: string, branch: string, message: string): Promise<string>;
  /** The fake's config, with every follower publishing its GitOps commit into the mirror cache as the pod sees it. */
  configure(cfg: FakeConfig): void;
  dispose(): Promise<void>;
}

/** The shipped followers with their repositories, fake keys and GitOps refs, from the registry. */
function followerFacts(loaded: LoadedRegistry): FollowerFacts[] {
  return loaded.registry.followers.map((f) => {
    const mirror = loaded.registry.mirrors.find((m) => m.id === f.source.mirror)!;
    const adapter = loaded.registry.adapters.find((a) => a.id === f.adapter)!;
    return {
      id: f.id,
      adapter: f.adapter,
      branch: f.source.branch,
      repo: mirror.cachePath,
      fakeKey: `${adapter.commands.trigger[0]}:${String(loaded.targets.get(f.id)!.lane)}`,
      gitopsRef: gitopsRefOf(loaded, f.id),
    };
  });
}

// The registry file the pod will run, as the API server holds it: the one registry ConfigMap's key, or
// its parts in the order the pod's projected volume lists them (constructs/registry-parts.ts).
async function podRegistryText(admin: KubeClient, pod: CronJobPod): Promise<string> {
  const volume = pod.spec.volumes?.find((v) => v.name === 'registry' || v.name === 'registry-parts');
  const refs = volume?.configMap
    ? [volume.configMap]
    : (volume?.projected?.sources ?? []).map((source) => source.configMap!);
  if (refs.length === 0) throw new Error(`the pass pod of CronJob ${pod.cronJobName} mounts no registry ConfigMap`);
  let text = '';
  for (const ref of refs) {
    const key = ref.items?.[0]?.key;
    const cm = await admin.get(CONFIG_MAP, pod.namespace, ref.name);
    const part = key === undefined ? undefined : (cm?.data as Record<string, string> | undefined)?.[key];
    if (part === undefined)
      throw new Error(`ConfigMap ${pod.namespace}/${ref.name} has no ${key ?? '(no key named)'}: apply dist/ first`);
    text += part;
  }
  return text;
}

const sh = (args: string[]) => execFileSync(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });

// Starts the servers on the declared ports (failing, naming the port, when one is taken), creates the
// upstream repositories of the shipped followers and the mirror cache's `pikasTech/unidesk.git` whose
// `master` is this checkout's committed HEAD, and the githubSsh Secret in the controller's namespace.
export async function startPodPathWorld(admin: KubeClient): Promise<PodPathWorld> {
  const loaded = loadRegistry(REGISTRY, ROOT);
  const c = loaded.registry.controller;
  const pod = cronJobPod(readFileSync(join(ROOT, 'dist', `cronjob-${c.cronJob.name}.yaml`), 'utf8'));
  const registryText = await podRegistryText(admin, pod);
  const endpoints = podEndpoints(pod.spec, registryText);
  for (const e of endpoints) await assertPortFree(e);
  const portOf = (what: string) => endpoints.find((e) => e.what.includes(what))!;

  const uid = pod.spec.securityContext!.runAsUser!;
  const gid = pod.spec.securityContext!.fsGroup!;
  const base = mkdtempSync(join(tmpdir(), 'bf-pod-path-'));
  const cacheDir = join(base, 'git-mirror-cache');
  mkdirSync(cacheDir);
  chmodSync(base, 0o755); // the git daemon runs as the pod's uid
  chownSync(cacheDir, uid, gid);
  const stopAll: (() => Promise<void>)[] = [];
  const dispose = async () => {
    for (const stop of stopAll.reverse()) await stop().catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  };
  try {
    const git = await startGitServer({ port: portOf('git mirror').port, root: cacheDir, runAs: { uid, gid } });
    stopAll.push(() => git.dispose());

    const regDoc = parse(registryText) as {
      controller: { source: { githubSsh: { user: string } } };
      mirrors: { upstream: string }[];
    };
    const sshUser = regDoc.controller.source.githubSsh.user;
    const upstreamTops = [...new Set(regDoc.mirrors.map((m) => new URL(m.upstream).pathname.split('/')[1]!))];
    const sshEp = portOf('SSH upstream');
    const ssh = await startSshUpstream({
      port: sshEp.port,
      user: sshUser,
      wrap: (argv, { dir, repos }) => {
        const passwd = join(dir, 'passwd');
        writeFileSync(
          passwd,
          `${readFileSync('/etc/passwd', 'utf8')}${sshUser}:x:0:0:ssh upstream (test):${join(dir, 'home')}:/bin/sh\n`,
        );
        const mounts = [{ source: passwd, target: '/etc/passwd', readOnly: true }];
        for (const top of upstreamTops) {
          mkdirSync(join(repos, top), { recursive: true });
          mounts.push({ source: join(repos, top), target: posix.join('/', top), readOnly: false });
        }
        return serverSandbox(join(dir, 'sandbox'), mounts)(argv);
      },
    });
    stopAll.push(() => ssh.dispose());

    const proxyEp = portOf('CONNECT proxy');
    const proxyHosts = join(base, 'proxy-hosts');
    writeFileSync(
      proxyHosts,
      hostsFile(
        'egress-proxy',
        endpoints.filter((e) => e.reachedBy === 'proxy').map((e) => e.host),
      ),
    );
    const proxy = await startConnectProxy({
      connectPort: sshEp.port,
      port: proxyEp.port,
      wrap: serverSandbox(join(base, 'proxy-sandbox'), [{ source: proxyHosts, target: '/etc/hosts', readOnly: true }]),
    });
    stopAll.push(() => proxy.dispose());

    const fake = makeFakeControlPlane({ selfContained: true, owner: { uid, gid } });
    stopAll.push(async () => fake.remove());

    const followers = followerFacts(loaded);
    const refIn = async (dir: string, ref: string) =>
      (await hermeticGit(['--git-dir', dir, 'for-each-ref', '--format=%(objectname)', ref], { home: git.home })) ||
      undefined;
    for (const repo of new Set(followers.map((f) => f.repo))) await ssh.createRepo(repo);

    // The controller's own source: upstream and the served mirror hold this checkout's HEAD as master.
    // Seeded here because nothing in the product writes refs/heads/<source.mirror.ref> into the served
    // cache repository (sync writes refs/mirror-stage/* and snapshots only), yet clone-source clones it.
    const sourceMirror = loaded.registry.mirrors.find((m) => m.id === c.source.mirror.mirror)!;
    const head = await hermeticGit(['-C', ROOT, 'rev-parse', 'HEAD'], { home: git.home });
    const sourceRef = `refs/heads/${c.source.mirror.ref}`;
    await hermeticGit(
      [
        '--git-dir',
        ssh.repoPath(sourceMirror.cachePath),
        'fetch',
        '--no-tags',
        '--quiet',
        ROOT,
        `+${head}:${sourceRef}`,
      ],
      { home: git.home },
    );
    const served = join(cacheDir, sourceMirror.cachePath);
    mkdirSync(dirname(served), { recursive: true });
    await hermeticGit(['init', '--quiet', '--bare', served], { home: git.home });
    await hermeticGit(
      [
        '--git-dir',
        served,
        'fetch',
        '--no-tags',
        '--quiet',
        ssh.repoPath(sourceMirror.cachePath),
        `+${sourceRef}:${sourceRef}`,
      ],
      { home: git.home },
    );
    // As the pods that share the claim would have left it: theirs (git serves only its user's repositories).
    sh(['chown', '-R', `${uid}:${gid}`, cacheDir]);

    const secretName = c.source.githubSsh.identity.name;
    const hostKey = readFileSync(ssh.knownHostsFile, 'utf8').trim().split(' ').slice(1).join(' ');
    await admin.post(
      `/api/v1/namespaces/${pod.namespace}/secrets`,
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: secretName, namespace: pod.namespace },
        type: 'Opaque',
        data: {
          [c.source.githubSsh.identity.key]: readFileSync(ssh.identityFile).toString('base64'),
          [c.source.githubSsh.knownHosts.key]: Buffer.from(
            `[${c.source.githubSsh.host}]:${c.source.githubSsh.port} ${hostKey}\n`,
          ).toString('base64'),
        },
      },
      'create',
      `Secret ${pod.namespace}/${secretName}`,
    );
    stopAll.push(async () => void (await admin.delete(SECRET, pod.namespace, secretName)));

    const fakeAt = '/opt/unidesk-cli';
    const mountPath = c.gitMirror.mountPath;
    const publish = Object.fromEntries(
      followers.map((f) => [f.fakeKey, { gitDir: posix.join(mountPath, f.repo), ref: f.gitopsRef }]),
    );
    return {
      loaded,
      pod,
      registryText,
      endpoints,
      followers,
      cacheDir,
      git,
      ssh,
      proxy,
      fake,
      fakeAt,
      uid,
      gid,
      upstreamRef: (repo, ref) => ssh.refSha(repo, ref),
      mirrorRef: (repo, ref) => refIn(join(cacheDir, repo), ref),
      pushUpstream: (repo, branch, message) => ssh.commit(repo, branch, message),
      configure: (cfg) => fake.configure({ ...cfg, publish }),
      dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** The completion indexes of the pass's Indexed Job, one pod each: 0 … controller.pass.shards-1. */
export function passPodIndexes(world: PodPathWorld): number[] {
  return Array.from({ length: world.pod.indexedCompletions ?? 1 }, (_, k) => k);
}

// The synthesized pass pod of this world for one completion index (its shard), prepared to run once:
// a fresh TokenRequest token of its ServiceAccount, the mirror cache claim's directory, the runner
// image from image/Dockerfile with the UniDesk CLI doubles on its PATH, and the cluster names the pod
// reaches resolving to loopback. The pass's Job runs one such pod per index (passPodIndexes), as the
// Job controller would; it names each `<job>-<index>-<suffix>`, here the caller does.
export async function preparePassPod(
  world: PodPathWorld,
  o: {
    admin: KubeClient;
    kubeconfig: string;
    podName: string;
    completionIndex: number;
    log?: (line: string) => void;
  },
): Promise<PreparedPod> {
  const token = await requestServiceAccountToken(o.admin, world.pod.namespace, world.pod.spec.serviceAccountName!);
  return preparePod({
    pod: world.pod,
    podName: o.podName,
    completionIndex: o.completionIndex,
    client: o.admin,
    serviceAccountToken: token,
    apiServer: apiServerOf(o.kubeconfig),
    claims: { [world.loaded.registry.controller.gitMirror.claimName]: world.cacheDir },
    image: dockerfileImage({
      dockerfile: join(ROOT, 'image/Dockerfile'),
      projectRoot: ROOT,
      cliDirs: [
        {
          source: join(world.fake.binDir, '..'),
          at: world.fakeAt,
          readOnly: false,
          what: 'the UniDesk CLIs (the fake control planes) and their state',
        },
      ],
    }),
    hosts: world.endpoints.filter((e) => e.reachedBy === 'pod').map((e) => e.host),
    ...(o.log ? { log: o.log } : {}),
  });
}
