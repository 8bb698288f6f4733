import { parse } from 'yaml';

// The part of a Kubernetes PodSpec that pod-exec carries out, and the check that a spec asks for
// nothing more: every field is either carried out, or knowingly not enforced (and then shown in the
// mapping table), or refused here with its path. A field pod-exec silently ignored would make the
// run differ from the pod, which is the one thing it must never do.

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  /** Only a downward-API fieldRef is carried out (FIELD_REFS). */
  readonly valueFrom?: { readonly fieldRef?: { readonly fieldPath: string; readonly apiVersion?: string } };
}

/** The downward-API fields pod-exec resolves: the pod's name and namespace, and any of its annotations. */
const FIELD_REFS = /^(metadata\.name|metadata\.namespace|metadata\.annotations\['[^']+'\])$/;

interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
  readonly subPath?: string;
}

interface SecurityContext {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly allowPrivilegeEscalation?: boolean;
  readonly privileged?: boolean;
  readonly readOnlyRootFilesystem?: boolean;
  readonly capabilities?: { readonly drop?: readonly string[]; readonly add?: readonly string[] };
}

export interface Container {
  readonly name: string;
  readonly image?: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly workingDir?: string;
  readonly securityContext?: SecurityContext;
  readonly volumeMounts?: readonly VolumeMount[];
}

export interface KeyToPath {
  readonly key: string;
  readonly path: string;
  readonly mode?: number;
}

export interface Volume {
  readonly name: string;
  readonly emptyDir?: { readonly sizeLimit?: string; readonly medium?: string };
  readonly configMap?: {
    readonly name: string;
    readonly items?: readonly KeyToPath[];
    readonly defaultMode?: number;
    readonly optional?: boolean;
  };
  readonly secret?: {
    readonly secretName: string;
    readonly items?: readonly KeyToPath[];
    readonly defaultMode?: number;
    readonly optional?: boolean;
  };
  readonly persistentVolumeClaim?: { readonly claimName: string; readonly readOnly?: boolean };
  /** Only ConfigMap sources are carried out. */
  readonly projected?: {
    readonly sources: readonly {
      readonly configMap?: {
        readonly name: string;
        readonly items?: readonly KeyToPath[];
        readonly optional?: boolean;
      };
    }[];
    readonly defaultMode?: number;
  };
}

interface PodSecurityContext {
  readonly runAsUser?: number;
  readonly runAsGroup?: number;
  readonly runAsNonRoot?: boolean;
  readonly fsGroup?: number;
  readonly supplementalGroups?: readonly number[];
}

export interface PodSpec {
  readonly containers: readonly Container[];
  readonly initContainers?: readonly Container[];
  readonly volumes?: readonly Volume[];
  readonly securityContext?: PodSecurityContext;
  readonly serviceAccountName?: string;
  readonly automountServiceAccountToken?: boolean;
  readonly restartPolicy?: string;
  readonly enableServiceLinks?: boolean;
}

/** The pod a CronJob starts, with what the Job around it adds. */
export interface CronJobPod {
  /** The CronJob's namespace: the pod runs there. */
  readonly namespace: string;
  readonly cronJobName: string;
  /** The Job's activeDeadlineSeconds: the pod is killed after it. */
  readonly activeDeadlineSeconds: number | undefined;
  /**
   * The Job's completions when it is an Indexed Job (one pod per index 0 … completions-1, each told its
   * index by the Job controller), else null: one pod.
   */
  readonly indexedCompletions: number | null;
  readonly spec: PodSpec;
  /** Fields of the spec that are accepted but not enforced, by path, with why. */
  readonly notEnforced: readonly { path: string; value: unknown; why: string }[];
}

/** A field pod-exec does not carry out. */
class UnsupportedPodFieldError extends Error {
  constructor(path: string, value: unknown, why = 'pod-exec does not implement it') {
    super(`pod-exec cannot run this pod: ${path} = ${JSON.stringify(value)}: ${why}`);
    this.name = 'UnsupportedPodFieldError';
  }
}

type Found = { path: string; value: unknown; why: string }[];
type Rule = 'run' | { notEnforced: string } | ((value: unknown, path: string, found: Found) => void);
type Rules = Readonly<Record<string, Rule>>;

const NOT_ENFORCED = {
  image: 'the image is played by the host root filesystem plus the declared image binds (see the mapping table)',
  imagePullPolicy: 'nothing is pulled',
  resources: 'no cgroup limits: CPU and memory requests and limits are not enforced',
  seccompProfile: 'no seccomp filter is installed (util-linux setpriv here has no --seccomp-filter)',
  sizeLimit:
    'an EmptyDir is a plain directory: its sizeLimit is not enforced (kubelet evicts, it does not block writes)',
  enableServiceLinks:
    'no Services exist to link: only the kubernetes service variables are injected, as kubelet always does',
} as const;

const must = (expected: unknown, why: string) => (value: unknown, path: string) => {
  if (value !== expected) throw new UnsupportedPodFieldError(path, value, why);
};

const POD: Rules = {
  containers: 'run',
  initContainers: 'run',
  volumes: 'run',
  securityContext: 'run',
  serviceAccountName: 'run',
  automountServiceAccountToken: 'run',
  restartPolicy: must('Never', 'only restartPolicy Never is carried out (no restarts)'),
  enableServiceLinks: { notEnforced: NOT_ENFORCED.enableServiceLinks },
  hostIPC: must(false, 'the sandbox always has its own IPC namespace'),
  hostPID: must(false, 'the sandbox always has its own PID namespace'),
  hostNetwork: must(false, 'only hostNetwork: false is accepted (see the mapping table for the network)'),
};
const POD_SECURITY: Rules = {
  runAsUser: 'run',
  runAsGroup: 'run',
  runAsNonRoot: 'run',
  fsGroup: 'run',
  supplementalGroups: 'run',
  seccompProfile: { notEnforced: NOT_ENFORCED.seccompProfile },
};
const CONTAINER: Rules = {
  name: 'run',
  image: { notEnforced: NOT_ENFORCED.image },
  imagePullPolicy: { notEnforced: NOT_ENFORCED.imagePullPolicy },
  resources: { notEnforced: NOT_ENFORCED.resources },
  command: 'run',
  args: 'run',
  env: 'run',
  workingDir: 'run',
  securityContext: 'run',
  volumeMounts: 'run',
};
const CONTAINER_SECURITY: Rules = {
  runAsUser: 'run',
  runAsGroup: 'run',
  runAsNonRoot: 'run',
  allowPrivilegeEscalation: 'run',
  readOnlyRootFilesystem: 'run',
  privileged: must(false, 'a privileged container is not carried out'),
  capabilities: (v, path, found) => {
    const c = v as SecurityContext['capabilities'];
    check(c, path, { drop: 'run', add: must(undefined, 'added capabilities are not carried out') }, found);
    if (JSON.stringify(c?.drop) !== JSON.stringify(['ALL']))
      throw new UnsupportedPodFieldError(`${path}.drop`, c?.drop, 'only drop: [ALL] is carried out');
  },
};
const ENV: Rules = {
  name: 'run',
  value: 'run',
  valueFrom: (v, path, found) =>
    check(
      v,
      path,
      {
        fieldRef: (ref, at, f) => {
          check(ref, at, { fieldPath: 'run', apiVersion: must('v1', 'only fieldRef apiVersion v1') }, f);
          const fieldPath = (ref as { fieldPath?: string }).fieldPath;
          if (!FIELD_REFS.test(fieldPath ?? ''))
            throw new UnsupportedPodFieldError(
              `${at}.fieldPath`,
              fieldPath,
              "only metadata.name, metadata.namespace and metadata.annotations['<key>'] are resolved",
            );
        },
      },
      found,
    ),
};
const MOUNT: Rules = { name: 'run', mountPath: 'run', readOnly: 'run', subPath: 'run' };
const ITEMS = (v: unknown, path: string, found: Found) =>
  (v as unknown[]).forEach((item, i) => {
    check(item, `${path}[${i}]`, { key: 'run', path: 'run', mode: 'run' }, found);
  });
const VOLUME: Rules = {
  name: 'run',
  emptyDir: (v, path, found) =>
    check(
      v,
      path,
      {
        sizeLimit: { notEnforced: NOT_ENFORCED.sizeLimit },
        medium: must('', 'only the default (disk) medium is carried out'),
      },
      found,
    ),
  configMap: (v, path, found) =>
    check(v, path, { name: 'run', items: ITEMS, defaultMode: 'run', optional: 'run' }, found),
  secret: (v, path, found) =>
    check(v, path, { secretName: 'run', items: ITEMS, defaultMode: 'run', optional: 'run' }, found),
  persistentVolumeClaim: (v, path, found) => check(v, path, { claimName: 'run', readOnly: 'run' }, found),
  projected: (v, path, found) =>
    check(
      v,
      path,
      {
        defaultMode: 'run',
        sources: (sources, at, f) =>
          (sources as unknown[]).forEach((source, i) => {
            check(
              source,
              `${at}[${i}]`,
              {
                configMap: (cm, cmAt, ff) => check(cm, cmAt, { name: 'run', items: ITEMS, optional: 'run' }, ff),
              },
              f,
            );
          }),
      },
      found,
    ),
};

/** Walks one object: every key must have a rule; not-enforced ones are collected into `found`. */
function check(obj: unknown, path: string, rules: Rules, found: Found): void {
  if (obj === undefined || obj === null) return;
  for (const [key, value] of Object.entries(obj as Record<string, unknown>)) {
    const rule = rules[key];
    const at = `${path}.${key}`;
    if (rule === undefined) throw new UnsupportedPodFieldError(at, value);
    if (rule === 'run') continue;
    if (typeof rule === 'function') rule(value, at, found);
    else found.push({ path: at, value, why: rule.notEnforced });
  }
}

function checkContainer(c: Container, path: string, found: Found): void {
  check(c, path, CONTAINER, found);
  check(c.securityContext, `${path}.securityContext`, CONTAINER_SECURITY, found);
  for (const [i, e] of (c.env ?? []).entries()) check(e, `${path}.env[${i}]`, ENV, found);
  for (const [i, m] of (c.volumeMounts ?? []).entries()) check(m, `${path}.volumeMounts[${i}]`, MOUNT, found);
  if (!c.command || c.command.length === 0)
    throw new UnsupportedPodFieldError(
      `${path}.command`,
      c.command,
      'the image ENTRYPOINT is not known: a command is required',
    );
  if (c.command[0]!.startsWith('-') || c.command[0]!.includes('='))
    throw new UnsupportedPodFieldError(`${path}.command[0]`, c.command[0], 'not a program name');
}

/** Checks a pod spec against what pod-exec carries out; returns the fields it accepts but does not enforce. */
export function checkPodSpec(spec: PodSpec, path = 'spec'): Found {
  const found: Found = [];
  check(spec, path, POD, found);
  check(spec.securityContext, `${path}.securityContext`, POD_SECURITY, found);
  for (const [i, c] of (spec.initContainers ?? []).entries()) checkContainer(c, `${path}.initContainers[${i}]`, found);
  for (const [i, c] of spec.containers.entries()) checkContainer(c, `${path}.containers[${i}]`, found);
  if (spec.containers.length !== 1)
    throw new UnsupportedPodFieldError(
      `${path}.containers`,
      spec.containers.map((c) => c.name),
      'exactly one main container is carried out',
    );
  (spec.volumes ?? []).forEach((v, i) => {
    check(v, `${path}.volumes[${i}]`, VOLUME, found);
    const kinds = ['emptyDir', 'configMap', 'secret', 'persistentVolumeClaim', 'projected'].filter((k) => k in v);
    if (kinds.length !== 1)
      throw new UnsupportedPodFieldError(
        `${path}.volumes[${i}]`,
        v,
        'exactly one of emptyDir, configMap, secret, persistentVolumeClaim, projected',
      );
  });
  return found;
}

// The pod the synthesized CronJob would start (`dist/cronjob-<name>.yaml`): its Job template's pod spec.
export function cronJobPod(yamlText: string): CronJobPod {
  const doc = parse(yamlText) as {
    kind?: string;
    metadata?: { name?: string; namespace?: string };
    spec?: {
      jobTemplate?: {
        spec?: {
          activeDeadlineSeconds?: number;
          completionMode?: string;
          completions?: number;
          template?: { spec?: PodSpec };
        };
      };
    };
  };
  if (doc.kind !== 'CronJob') throw new Error(`expected a CronJob, got kind ${JSON.stringify(doc.kind)}`);
  const job = doc.spec?.jobTemplate?.spec;
  const spec = job?.template?.spec;
  if (!spec || !doc.metadata?.name || !doc.metadata.namespace)
    throw new Error('the CronJob has no name, namespace or spec.jobTemplate.spec.template.spec');
  const base = 'spec.jobTemplate.spec.template.spec';
  return {
    namespace: doc.metadata.namespace,
    cronJobName: doc.metadata.name,
    activeDeadlineSeconds: job.activeDeadlineSeconds,
    indexedCompletions: job.completionMode === 'Indexed' ? (job.completions ?? 1) : null,
    spec,
    notEnforced: checkPodSpec(spec, base),
  };
}
