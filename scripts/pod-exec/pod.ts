import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeClient } from '../../core/kube/client.ts';
import type { EnterMount } from './enter.ts';
import { passwdAndGroup, type ImageSpec } from './image.ts';
import { formatMapping, mappingTable, type MappingRow } from './mapping.ts';
import { hostsFile, resolvConf } from './network.ts';
import { COMPLETION_INDEX_ANNOTATION } from '../../constructs/controller-cron-job.ts';
import type { Container, CronJobPod, PodSpec } from './pod-spec.ts';
import { sandboxArgv, sortMounts } from './sandbox.ts';
import { makeVolumes, mountSource, SERVICE_ACCOUNT_MOUNT, SERVICE_ACCOUNT_VOLUME, type MadeVolume } from './volumes.ts';

/** The API server as the pod reaches it (kubelet's KUBERNETES_SERVICE_HOST/PORT and the CA it mounts). */
export interface ApiServer {
  readonly host: string;
  readonly port: number;
  /** PEM. */
  readonly caCert: string;
}

/** The API server of a kubeconfig's current context. */
export function apiServerOf(kubeconfig: string): ApiServer {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const cluster = kc.getCurrentCluster();
  if (!cluster?.caData)
    throw new Error(`kubeconfig ${kubeconfig}: the current cluster has no certificate-authority-data`);
  const url = new URL(cluster.server);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: Number(url.port || 443),
    caCert: Buffer.from(cluster.caData, 'base64').toString('utf8'),
  };
}

/** A token for a ServiceAccount from the TokenRequest API (kubelet asks for 3607 s). */
export async function requestServiceAccountToken(
  client: KubeClient,
  namespace: string,
  serviceAccount: string,
  expirationSeconds = 3607,
): Promise<string> {
  const res = await client.post<{ status: { token: string } }>(
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(serviceAccount)}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds } },
    'create',
    `token of ServiceAccount ${namespace}/${serviceAccount}`,
  );
  return res.status.token;
}

export interface PodExecOptions {
  readonly pod: CronJobPod;
  /** The pod's name: its hostname and HOSTNAME. */
  readonly podName: string;
  /**
   * Which pod of an Indexed Job this is (0 … completions-1; required then, refused otherwise): the Job
   * controller's completion-index annotation and JOB_COMPLETION_INDEX, as it sets them on that pod.
   */
  readonly completionIndex?: number;
  /** kubelet's reads of the ConfigMaps and Secrets the volumes name (done in preparePod, before any container). */
  readonly client: KubeClient;
  /** The token of spec.serviceAccountName, when the pod automounts one (requestServiceAccountToken). */
  readonly serviceAccountToken: string;
  readonly apiServer: ApiServer;
  /** PersistentVolumeClaim name → the local directory standing in for its volume. */
  readonly claims: Readonly<Record<string, string>>;
  readonly image: ImageSpec;
  /** Names the pod resolves to 127.0.0.1 (its /etc/hosts). */
  readonly hosts: readonly string[];
  /** Where volumes and sandboxes are made (default: a fresh temp dir, removed by dispose). */
  readonly workDir?: string;
  /** Verbose lines (the mapping table, each container's start and end). */
  readonly log?: (line: string) => void;
}

interface ContainerResult {
  readonly name: string;
  readonly init: boolean;
  /** null when killed by a signal or never started. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly startedAt: number;
  readonly finishedAt: number;
}

export interface PodResult {
  readonly phase: 'Succeeded' | 'Failed';
  /** Why it failed, as the Job controller or kubelet would say it. */
  readonly reason: 'InitContainerFailed' | 'ContainerFailed' | 'DeadlineExceeded' | null;
  /** The containers that ran, in order. */
  readonly containers: readonly ContainerResult[];
}

/** A container, as a hook sees it: the process and its view of the filesystem, before it runs. */
interface StartedContainer {
  readonly name: string;
  /** Host PID of the container's process. */
  readonly pid: number;
  /** `/proc/<pid>/root`: the container's root filesystem, as the container sees it. */
  readonly root: string;
}

export interface RunHooks {
  /** Streams every chunk of output as it comes. */
  onOutput?(container: string, stream: 'stdout' | 'stderr', text: string): void;
  /** Called once the container's sandbox is built, before its command runs (like an exec into a paused container). */
  onStarted?(c: StartedContainer): void | Promise<void>;
}

export interface PreparedPod {
  readonly workDir: string;
  readonly volumes: ReadonlyMap<string, MadeVolume>;
  /** Pod thing → local thing, every one (also what is not faithful). */
  readonly mapping: readonly MappingRow[];
  /** The mapping as a table. */
  describe(): string;
  /** Runs the init containers, then the main container, once. */
  run(hooks?: RunHooks): Promise<PodResult>;
  /** Kills a running container and removes the work dir (the claims' directories stay). */
  dispose(): Promise<void>;
}

/** What one container runs: the sandbox and the exec inside it. */
export interface ContainerPlan {
  readonly name: string;
  readonly init: boolean;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workingDir: string;
  readonly user: { readonly uid: number; readonly gid: number; readonly groups: readonly number[] };
  readonly noNewPrivs: boolean;
  readonly dropAllCapabilities: boolean;
  readonly readOnlyRoot: boolean;
  /** Every mount, parents first, with what it stands for. */
  readonly mounts: readonly (EnterMount & { readonly what: string })[];
}

/** What the Job controller adds to the pod of an Indexed Job: its annotation and, in every container, JOB_COMPLETION_INDEX. */
interface PodIdentity {
  readonly annotations: Readonly<Record<string, string>>;
  readonly jobEnv: readonly NonNullable<Container['env']>[number][];
}

function podIdentity(pod: CronJobPod, index: number | undefined): PodIdentity {
  if (pod.indexedCompletions === null) {
    if (index !== undefined)
      throw new Error(`completionIndex ${index} given, but CronJob ${pod.cronJobName}'s Job is not an Indexed Job`);
    return { annotations: {}, jobEnv: [] };
  }
  if (index === undefined || !Number.isInteger(index) || index < 0 || index >= pod.indexedCompletions)
    throw new Error(
      `CronJob ${pod.cronJobName}'s Job is Indexed (${pod.indexedCompletions} completions): give a completionIndex ` +
        `0 … ${pod.indexedCompletions - 1}, got ${index}`,
    );
  return {
    annotations: { [COMPLETION_INDEX_ANNOTATION]: String(index) },
    jobEnv: [
      {
        name: 'JOB_COMPLETION_INDEX',
        valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${COMPLETION_INDEX_ANNOTATION}']` } },
      },
    ],
  };
}

/** kubelet's downward-API resolution of a fieldRef (the paths FIELD_REFS admits); an absent annotation is "". */
function fieldValue(path: string, o: { podName: string; namespace: string; annotations: Record<string, string> }) {
  if (path === 'metadata.name') return o.podName;
  if (path === 'metadata.namespace') return o.namespace;
  const key = /^metadata\.annotations\['([^']+)'\]$/.exec(path)?.[1];
  if (key === undefined) throw new Error(`fieldRef ${path} is not resolved by pod-exec`);
  return o.annotations[key] ?? '';
}

/** kubelet's $(VAR) expansion in command, args and env values; $$ escapes. */
function expand(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && name in vars ? vars[name]! : m,
  );
}

/** The variables kubelet injects for the kubernetes service (always, even with enableServiceLinks: false). */
function serviceEnv(api: ApiServer): Record<string, string> {
  const { host, port } = api;
  const tcp = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    KUBERNETES_SERVICE_HOST: host,
    KUBERNETES_SERVICE_PORT: String(port),
    KUBERNETES_SERVICE_PORT_HTTPS: String(port),
    KUBERNETES_PORT: tcp,
    [`KUBERNETES_PORT_${port}_TCP`]: tcp,
    [`KUBERNETES_PORT_${port}_TCP_PROTO`]: 'tcp',
    [`KUBERNETES_PORT_${port}_TCP_PORT`]: String(port),
    [`KUBERNETES_PORT_${port}_TCP_ADDR`]: host,
  };
}

interface PodFiles {
  readonly hosts: string;
  readonly hostname: string;
  readonly resolv: string;
  readonly passwd: string;
  readonly group: string;
}

function automounts(spec: PodSpec): boolean {
  // The ServiceAccount's own setting is not read: the synthesized pods always say it explicitly.
  return spec.automountServiceAccountToken !== false;
}

// One container's plan: identity from the security contexts, environment as kubelet and the runtime
// build it, every volumeMount plus what kubelet and the image add.
function containerPlan(
  o: PodExecOptions & { readonly workDir: string },
  c: Container,
  init: boolean,
  volumes: ReadonlyMap<string, MadeVolume>,
  identity: PodIdentity,
): ContainerPlan {
  const spec = o.pod.spec;
  const psc = spec.securityContext ?? {};
  const csc = c.securityContext ?? {};
  const uid = csc.runAsUser ?? psc.runAsUser ?? o.image.user.uid;
  const gid = csc.runAsGroup ?? psc.runAsGroup ?? (uid === o.image.user.uid ? o.image.user.gid : 0);
  if ((csc.runAsNonRoot ?? psc.runAsNonRoot) === true && uid === 0)
    throw new Error(
      `container ${c.name}: runAsNonRoot and the container would run as root: kubelet refuses to start it`,
    );
  const groups = [...new Set([...(psc.fsGroup === undefined ? [] : [psc.fsGroup]), ...(psc.supplementalGroups ?? [])])];

  // The runtime's order: the image's environment, then HOSTNAME, then what kubelet hands it (the
  // kubernetes service variables, then the container's env, each able to refer to those before it).
  const env: Record<string, string> = { ...o.image.env, HOSTNAME: o.podName, ...serviceEnv(o.apiServer) };
  // The Job controller appends JOB_COMPLETION_INDEX to every container of an Indexed Job's pod, unless declared.
  const declared = c.env ?? [];
  const jobEnv = identity.jobEnv.filter((j) => !declared.some((e) => e.name === j.name));
  const fields = { podName: o.podName, namespace: o.pod.namespace, annotations: { ...identity.annotations } };
  for (const e of [...declared, ...jobEnv])
    env[e.name] = e.valueFrom?.fieldRef
      ? fieldValue(e.valueFrom.fieldRef.fieldPath, fields)
      : expand(e.value ?? '', env);
  if (env.HOME === undefined) env.HOME = o.image.users.find((u) => u.uid === uid)?.home ?? '/';
  const argv = [...(c.command ?? []), ...(c.args ?? [])].map((a) => expand(a, env));

  const mounts: (EnterMount & { what: string })[] = [];
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (!v)
      throw new Error(
        `container ${c.name}: volumeMount ${m.mountPath} names volume ${m.name}, which the pod does not declare`,
      );
    mounts.push({
      source: mountSource(v, m.subPath),
      target: m.mountPath,
      readOnly: m.readOnly === true,
      what: `volume ${m.name}${m.subPath ? ` subPath ${m.subPath}` : ''}`,
    });
  }
  const sa = volumes.get(SERVICE_ACCOUNT_VOLUME);
  if (sa && automounts(spec) && !mounts.some((m) => m.target === SERVICE_ACCOUNT_MOUNT))
    mounts.push({
      source: sa.dir,
      target: SERVICE_ACCOUNT_MOUNT,
      readOnly: true,
      what: 'the automounted ServiceAccount token (kubelet)',
    });
  for (const b of o.image.binds)
    mounts.push({ source: b.source, target: b.target, readOnly: b.readOnly, what: `image: ${b.what}` });
  const podFile = (name: keyof PodFiles) => join(o.workDir, 'pod', name);
  mounts.push(
    { source: podFile('hosts'), target: '/etc/hosts', readOnly: false, what: 'kubelet-managed /etc/hosts' },
    { source: podFile('hostname'), target: '/etc/hostname', readOnly: false, what: 'kubelet-managed /etc/hostname' },
    {
      source: podFile('resolv'),
      target: '/etc/resolv.conf',
      readOnly: false,
      what: 'kubelet-managed /etc/resolv.conf',
    },
    {
      source: podFile('passwd'),
      target: '/etc/passwd',
      readOnly: true,
      what: 'image: /etc/passwd with the image user',
    },
    { source: podFile('group'), target: '/etc/group', readOnly: true, what: 'image: /etc/group with the image group' },
  );
  return {
    name: c.name,
    init,
    argv,
    env,
    workingDir: c.workingDir ?? o.image.workingDir,
    user: { uid, gid, groups },
    noNewPrivs: csc.allowPrivilegeEscalation === false,
    dropAllCapabilities: (csc.capabilities?.drop ?? []).includes('ALL'),
    readOnlyRoot: csc.readOnlyRootFilesystem === true,
    mounts: sortMounts(mounts),
  };
}

const EMPTY_IMAGE_DIRS = ['tmp', 'run', 'root', 'home', 'opt', 'mnt', 'srv', 'media'];

// Does what kubelet does before the first container: checks the spec, makes every volume (GETs of the
// ConfigMaps and Secrets, the token volume), writes the pod's /etc files, and plans each container.
export async function preparePod(opts: PodExecOptions): Promise<PreparedPod> {
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), 'bf-pod-exec-'));
  const o = { ...opts, workDir };
  const spec = o.pod.spec;
  const say = o.log ?? (() => undefined);
  const identity = podIdentity(o.pod, o.completionIndex);
  mkdirSync(join(workDir, 'pod'), { recursive: true });
  const volumes = await makeVolumes(spec, {
    client: o.client,
    namespace: o.pod.namespace,
    claims: o.claims,
    serviceAccount: automounts(spec) ? { token: o.serviceAccountToken, caCert: o.apiServer.caCert } : null,
    fsGroup: spec.securityContext?.fsGroup,
    dir: workDir,
  });
  const { passwd, group } = passwdAndGroup(o.image.users);
  const files: PodFiles = {
    hosts: hostsFile(o.podName, o.hosts),
    hostname: `${o.podName}\n`,
    resolv: resolvConf(o.pod.namespace),
    passwd,
    group,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(workDir, 'pod', name), text, { mode: 0o644 });
  const plans = [
    ...(spec.initContainers ?? []).map((c) => containerPlan(o, c, true, volumes, identity)),
    ...spec.containers.map((c) => containerPlan(o, c, false, volumes, identity)),
  ];
  const mapping = mappingTable({
    pod: o.pod,
    podName: o.podName,
    annotations: identity.annotations,
    apiServer: o.apiServer,
    image: o.image,
    hosts: o.hosts,
    volumes,
    plans,
    workDir,
  });
  const describe = () => formatMapping(mapping);
  say(describe());

  let running: { child: ChildProcess; pid: number | undefined } | undefined;
  // The container's PID 1 itself: killing unshare is not enough, since a process that changed its
  // credentials (setpriv) loses unshare's parent-death signal. Its PID namespace then dies with it.
  const kill = (r: typeof running) => {
    if (!r) return;
    if (r.pid !== undefined) {
      try {
        process.kill(r.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    r.child.kill('SIGKILL');
  };
  const killRunning = () => kill(running);
  process.once('exit', killRunning);

  async function runOne(
    p: ContainerPlan,
    hooks: RunHooks,
    deadline: number | undefined,
  ): Promise<ContainerResult & { deadlineExceeded: boolean }> {
    const argv = sandboxArgv({
      dir: join(workDir, 'sandbox', p.name),
      include: o.image.rootfs,
      hostReadOnly: true,
      emptyDirs: EMPTY_IMAGE_DIRS,
      imageDirs: o.image.dirs,
      container: true,
      mounts: p.mounts.map(({ source, target, readOnly }) => ({ source, target, readOnly })),
      hostname: o.podName,
      readOnlyRoot: p.readOnlyRoot,
      handshake: true,
      exec: {
        argv: p.argv,
        env: p.env,
        workingDir: p.workingDir,
        user: p.user,
        noNewPrivs: p.noNewPrivs,
        dropAllCapabilities: p.dropAllCapabilities,
      },
    });
    const startedAt = Date.now();
    say(`pod-exec: container ${p.name} starting: ${p.argv.join(' ')}`);
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe', 'pipe'], env: {} });
    const me: NonNullable<typeof running> = { child, pid: undefined };
    running = me;
    let stdout = '';
    let stderr = '';
    let deadlineExceeded = false;
    const take = (stream: 'stdout' | 'stderr') => (chunk: string) => {
      if (stream === 'stdout') stdout += chunk;
      else stderr += chunk;
      hooks.onOutput?.(p.name, stream, chunk);
    };
    child.stdout!.setEncoding('utf8').on('data', take('stdout'));
    child.stderr!.setEncoding('utf8').on('data', take('stderr'));
    const control = child.stdio[3] as Readable & Writable;
    control.on('error', () => undefined);
    let said = '';
    control.setEncoding('utf8').on('data', (chunk: string) => {
      said += chunk;
      const m = /^ready (\d+)\n/.exec(said);
      if (!m) return;
      said = '';
      const pid = Number(m[1]);
      me.pid = pid;
      void Promise.resolve(hooks.onStarted?.({ name: p.name, pid, root: `/proc/${pid}/root` }))
        .catch((err: unknown) => {
          take('stderr')(`pod-exec: onStarted hook failed: ${(err as Error).message}\n`);
          kill(me);
        })
        .finally(() => control.write('g'));
    });
    const timer =
      deadline === undefined
        ? undefined
        : setTimeout(
            () => {
              deadlineExceeded = true;
              kill(me);
            },
            Math.max(0, deadline - Date.now()),
          );
    const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
      child.once('error', (err) => {
        take('stderr')(`pod-exec: cannot start ${argv[0]}: ${err.message}\n`);
        resolve([null, null]);
      });
      child.once('close', (code, sig) => resolve([code, sig]));
    });
    if (timer) clearTimeout(timer);
    running = undefined;
    say(
      `pod-exec: container ${p.name} ended: ${signal ?? `exit ${exitCode}`} after ${((Date.now() - startedAt) / 1000).toFixed(1)}s`,
    );
    return {
      name: p.name,
      init: p.init,
      exitCode,
      signal,
      stdout,
      stderr,
      startedAt,
      finishedAt: Date.now(),
      deadlineExceeded,
    };
  }

  return {
    workDir,
    volumes,
    mapping,
    describe,
    async run(hooks = {}) {
      const deadline =
        o.pod.activeDeadlineSeconds === undefined ? undefined : Date.now() + o.pod.activeDeadlineSeconds * 1000;
      const results: ContainerResult[] = [];
      for (const p of plans) {
        const { deadlineExceeded, ...r } = await runOne(p, hooks, deadline);
        results.push(r);
        if (deadlineExceeded) return { phase: 'Failed', reason: 'DeadlineExceeded', containers: results };
        // restartPolicy Never: a failed init container fails the pod; nothing after it runs.
        if (r.exitCode !== 0)
          return { phase: 'Failed', reason: p.init ? 'InitContainerFailed' : 'ContainerFailed', containers: results };
      }
      return { phase: 'Succeeded', reason: null, containers: results };
    },
    async dispose() {
      const r = running;
      if (r && r.child.exitCode === null && r.child.signalCode === null) {
        const gone = new Promise((done) => r.child.once('close', done));
        kill(r);
        await gone;
      }
      process.removeListener('exit', killRunning);
      if (!opts.workDir) rmSync(workDir, { recursive: true, force: true });
    },
  };
}
