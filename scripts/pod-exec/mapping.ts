import type { ImageSpec } from './image.ts';
import type { ApiServer, ContainerPlan } from './pod.ts';
import type { CronJobPod } from './pod-spec.ts';
import type { MadeVolume } from './volumes.ts';

// The one place that says what each thing of the pod became here. Built from the same plans the
// sandboxes are started from, so it cannot describe something other than what runs; every row that
// is not faithful says so. Any difference between this table and the pod spec is a bug.

export interface MappingRow {
  /** The thing of the pod (spec path, or what kubelet/the runtime add). */
  readonly pod: string;
  /** What stands for it here. */
  readonly here: string;
  /** false: not what a cluster does (the row says how it differs). */
  readonly faithful: boolean;
}

export interface MappingInput {
  readonly pod: CronJobPod;
  readonly podName: string;
  /** What the Job controller annotated the pod with (the completion index of an Indexed Job). */
  readonly annotations: Readonly<Record<string, string>>;
  readonly apiServer: ApiServer;
  readonly image: ImageSpec;
  readonly hosts: readonly string[];
  readonly volumes: ReadonlyMap<string, MadeVolume>;
  readonly plans: readonly ContainerPlan[];
  readonly workDir: string;
}

const row = (pod: string, here: string, faithful = true): MappingRow => ({ pod, here, faithful });

/** The image binds, one row each, except node_modules packages: one row for all of them. */
function summarizeBinds(image: ImageSpec): MappingRow[] {
  const packages = image.binds.filter((b) => b.what.startsWith('npm ci'));
  const rows = image.binds
    .filter((b) => !packages.includes(b))
    .map((b) => row(`image content: ${b.what}`, `${b.target} ← ${b.source}${b.readOnly ? ' (ro)' : ' (rw)'}`));
  if (packages.length > 0) {
    const dir = packages[0]!.target.slice(
      0,
      packages[0]!.target.lastIndexOf('/node_modules/') + '/node_modules'.length,
    );
    const from = packages[0]!.source.slice(
      0,
      packages[0]!.source.lastIndexOf('/node_modules/') + '/node_modules'.length,
    );
    rows.push(
      row(
        `image content: ${packages[0]!.what.split(':')[0]} (${packages.length} packages)`,
        `${dir}/<package> ← ${from}/<package> (ro), each bound alone: ` +
          `${packages.map((b) => b.target.slice(dir.length + 1)).join(' ')}`,
      ),
    );
  }
  return rows;
}

export function mappingTable(m: MappingInput): MappingRow[] {
  const rows: MappingRow[] = [];
  const spec = m.pod.spec;
  rows.push(
    row(
      `pod ${m.pod.namespace}/${m.podName} (CronJob ${m.pod.cronJobName}'s Job template)`,
      `sandboxes under ${m.workDir}: per container unshare --mount --uts --ipc --pid, then enter.ts (root) → ` +
        `pivot_root → setpriv → env -i -C → argv`,
    ),
    row(
      'Job spec.completionMode',
      m.pod.indexedCompletions === null
        ? 'NonIndexed: one pod'
        : `Indexed, ${m.pod.indexedCompletions} completions: this is the pod of index ` +
            `${Object.values(m.annotations).join('')} (annotations ${JSON.stringify(m.annotations)}, ` +
            'JOB_COMPLETION_INDEX in every container, downward-API fieldRefs resolved from them); the caller runs ' +
            'one pod per index, each its own preparePod',
    ),
    row(
      'spec.restartPolicy Never',
      'containers run once, in order; a non-zero init container stops the pod (InitContainerFailed)',
    ),
    row(
      'Job spec.activeDeadlineSeconds',
      m.pod.activeDeadlineSeconds === undefined
        ? 'none'
        : `the running container is SIGKILLed ${m.pod.activeDeadlineSeconds}s after the pod started (DeadlineExceeded)`,
    ),
    row('spec.hostPID/hostIPC false', 'own PID namespace (the container is PID 1, a fresh /proc) and IPC namespace'),
    row(
      'spec.hostNetwork false',
      `NOT FAITHFUL: the host's network namespace (loopback); the pod's names resolve to 127.0.0.1 through ` +
        `/etc/hosts: ${m.hosts.join(', ')}`,
      false,
    ),
    row(
      'kubelet /etc/hosts, /etc/hostname, /etc/resolv.conf',
      `generated in ${m.workDir}/pod, bound read-write; hostname ${m.podName} in the UTS namespace; resolv.conf has ` +
        `the cluster search path and a nameserver (127.0.0.1:53) nothing answers on`,
    ),
    row(
      'kubelet: kubernetes service env (KUBERNETES_SERVICE_HOST/PORT, KUBERNETES_PORT_*)',
      `${m.apiServer.host}:${m.apiServer.port}: the real API server, not a Service IP`,
    ),
    row('runtime: HOSTNAME', m.podName),
    row(
      `image ${m.pod.spec.containers[0]?.image ?? '(none)'}`,
      `NOT AN IMAGE: as ${m.image.source} builds it: the host's ${m.image.rootfs.map((d) => `/${d}`).join(' ')} ` +
        'bound read-only (the base image and its apt packages: git, ssh), ' +
        'empty /tmp /run /root /home /opt /mnt /srv /media, plus the binds below',
      false,
    ),
    row(
      'image ENV',
      Object.entries(m.image.env)
        .map(([k, v]) => `${k}=${v}`)
        .join(' '),
    ),
    row(
      'image WORKDIR, USER',
      `${m.image.workingDir}, ${m.image.user.uid}:${m.image.user.gid} (used when the spec does not say)`,
    ),
    row('image directories', m.image.dirs.map((d) => `${d.path} (${d.uid}:${d.gid})`).join(', ')),
    ...summarizeBinds(m.image),
    ...m.image.users.map((u) =>
      row(
        `image user ${u.name} ${u.uid}:${u.gid}`,
        `/etc/passwd and /etc/group = the host's + ${u.name}:x:${u.uid}:${u.gid} (home ${u.home}, shell ${u.shell}), ` +
          `bound read-only`,
      ),
    ),
  );
  const psc = spec.securityContext ?? {};
  rows.push(
    row(
      `spec.securityContext runAsUser ${psc.runAsUser} runAsGroup ${psc.runAsGroup} fsGroup ${psc.fsGroup}`,
      'setpriv --reuid/--regid/--groups (fsGroup and supplementalGroups as supplementary groups); volumes ' +
        "group-owned by fsGroup with kubelet's modes (g+rw, or g+r for ConfigMap/Secret/token; directories g+x " +
        'and setgid)',
    ),
    row(
      `spec.serviceAccountName ${spec.serviceAccountName ?? 'default'}, automountServiceAccountToken ` +
        `${spec.automountServiceAccountToken}`,
      `${'/var/run/secrets/kubernetes.io/serviceaccount'}/{token,ca.crt,namespace} (read-only): the caller's ` +
        `TokenRequest token (not bound to a Pod object: there is none), the API server's CA, the namespace`,
      false,
    ),
  );
  for (const v of m.volumes.values()) rows.push(row(`volume ${v.name} (${v.kind})`, `${v.dir}: ${v.from}`));
  for (const p of m.plans) {
    const c = `${p.init ? 'initContainer' : 'container'} ${p.name}`;
    rows.push(
      row(`${c} command`, `argv ${JSON.stringify(p.argv)} (no shell; found on PATH by env)`),
      row(`${c} env`, `${Object.keys(p.env).sort().join(' ')} (nothing else from the host)`),
      row(`${c} workingDir`, p.workingDir),
      row(
        `${c} securityContext`,
        `uid ${p.user.uid} gid ${p.user.gid} groups ` +
          `[${p.user.groups.join(',')}]${p.noNewPrivs ? ', no_new_privs' : ''}` +
          `${p.dropAllCapabilities ? ', no capabilities (bounding and inheritable sets cleared)' : ''}, ` +
          `root filesystem ${p.readOnlyRoot ? 'read-only' : 'read-write (its host-backed parts stay read-only)'}`,
      ),
      ...p.mounts
        .filter((mt) => !mt.what.startsWith('image: npm ci'))
        .map((mt) => row(`${c} mount ${mt.target}`, `${mt.source}${mt.readOnly ? ' (ro)' : ' (rw)'}: ${mt.what}`)),
      row(
        `${c} mount <image node_modules>`,
        `${p.mounts.filter((mt) => mt.what.startsWith('image: npm ci')).length} package binds (ro), as above`,
      ),
    );
  }
  for (const n of m.pod.notEnforced)
    rows.push(row(`${n.path} = ${JSON.stringify(n.value)}`, `NOT ENFORCED: ${n.why}`, false));
  return rows;
}

/** The table for people: one row per line, `pod thing  →  local thing`. */
export function formatMapping(rows: readonly MappingRow[]): string {
  const width = Math.min(70, Math.max(...rows.map((r) => r.pod.length)));
  return ['pod-exec mapping (pod → here):', ...rows.map((r) => `  ${r.pod.padEnd(width)}  →  ${r.here}`)].join('\n');
}
