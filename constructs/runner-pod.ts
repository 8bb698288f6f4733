import { posix } from 'node:path';
import { k8s } from 'cdk8s-plus-28';
import { checkoutDir, mountOverlaps, TMP_DIR } from '../core/pod-mounts.ts';
import type { RegistryPartRef } from './registry-parts.ts';

// The pod both the reconcile pass (the CronJob) and a git-mirror stage Job run in: the controller
// source cloned from the mirror into an EmptyDir, the registry ConfigMap mounted over the clone's
// registry file (or, for a registry in several parts, the parts put back together over it by an init
// container), the mirror cache claim and the githubSsh Secret keys, under `restricted` Pod Security.
// One module, so the two pods cannot drift apart.

/** Volume names of the pod, as tests and other constructs refer to them. */
const VOLUME = {
  checkout: 'checkout',
  tmp: 'tmp',
  registry: 'registry',
  registryParts: 'registry-parts',
  mirrorCache: 'git-mirror-cache',
  sshIdentity: 'github-ssh-identity',
  sshKnownHosts: 'github-ssh-known-hosts',
} as const;

/** Mode of the mounted Secret keys: owner and group read (the group is the pod's fsGroup), nobody else. */
export const SSH_KEY_MODE = 0o440;

/** The CLI a runner pod runs, from its checkout: the committed bundle (npm run build), not the TypeScript sources. */
export const CLI_IN_CHECKOUT = 'build/branch-follower.js';

/** Requests and limits of one container, as Kubernetes quantities (the registry's `resources` shape). */
export interface ContainerResources {
  /** What the scheduler reserves (`<resources>.requests.cpu`, `<resources>.requests.memory`). */
  readonly requests: { readonly cpu: string; readonly memory: string };
  /** The most the container may use (`<resources>.limits.cpu`, `<resources>.limits.memory`). */
  readonly limits: { readonly cpu: string; readonly memory: string };
}

/** A key of a Secret, mounted alone as a file. */
interface SecretKeyMount {
  /** The Secret (`controller.source.githubSsh.<identity|knownHosts>.name`). */
  readonly secretName: string;
  /** The key, also the file name (`controller.source.githubSsh.<identity|knownHosts>.key`). */
  readonly key: string;
}

/** Props of {@link runnerPodSpec}. Every value comes from the registry; none has a default. */
export interface RunnerPodProps {
  /** The runner image and its user (`controller.image`). */
  readonly image: {
    /** Image reference, pinned by digest (`controller.image.ref`). */
    readonly ref: string;
    /** imagePullPolicy of both containers (`controller.image.pullPolicy`). */
    readonly pullPolicy: 'Always' | 'IfNotPresent' | 'Never';
    /** Where the image keeps node_modules; the checkout is `<appDir>/checkout` (`controller.image.appDir`). */
    readonly appDir: string;
    /** Non-root UID of the pod (`controller.image.runAsUser`). */
    readonly runAsUser: number;
    /** GID and fsGroup of the pod (`controller.image.runAsGroup`). */
    readonly runAsGroup: number;
  };
  /** Where the controller source is cloned from (`controller.source.mirror`). */
  readonly source: {
    /** The clone URL of the mirror that `controller.source.mirror.mirror` names (`mirrors[].url`). */
    readonly url: string;
    /** Branch or tag to clone (`controller.source.mirror.ref`). */
    readonly ref: string;
  };
  /** The registry ConfigMaps (one, or the parts of the file), and the path inside the clone the file goes to. */
  readonly registry: {
    /**
     * The ConfigMaps carrying the registry file, in order (constructs/registry-parts.ts): one holds the
     * whole file (named `controller.configMaps.registry`), several hold its parts.
     */
    readonly parts: readonly RegistryPartRef[];
    /** SHA-256 (hex) of the whole file: the pod checks the parts it put together against it. */
    readonly sha256: string;
    /** Path of the registry inside the controller source, relative to the checkout (not in the YAML). */
    readonly overlayPath: string;
  };
  /** Resources of the clone init container (`controller.resources.clone`). */
  readonly cloneResources: ContainerResources;
  /** Size limits of the writable EmptyDirs (`controller.scratch`). */
  readonly scratch: {
    /** Of the checkout (`controller.scratch.checkoutSizeLimit`). */
    readonly checkoutSizeLimit: string;
    /** Of /tmp (`controller.scratch.tmpSizeLimit`). */
    readonly tmpSizeLimit: string;
  };
  /**
   * The mirror cache claim and the mounted githubSsh Secret keys (`controller.gitMirror`,
   * `controller.source.githubSsh`).
   */
  readonly gitMirror: {
    /** PersistentVolumeClaim of the mirror cache, mounted read-write (`controller.gitMirror.claimName`). */
    readonly claimName: string;
    /** Where the claim is mounted (`controller.gitMirror.mountPath`). */
    readonly mountPath: string;
    /** Parent of `identity/<key>` and `known-hosts/<key>` (`controller.gitMirror.sshMountPath`). */
    readonly sshMountPath: string;
    /** The Secret key of the SSH private key (`controller.source.githubSsh.identity`). */
    readonly identity: SecretKeyMount;
    /** The Secret key of the upstream's known_hosts lines (`controller.source.githubSsh.knownHosts`). */
    readonly knownHosts: SecretKeyMount;
  };
}

/** The one container that does the work, and how the pod around it is set up. */
export interface RunnerMainContainer {
  /** Container name (`reconcile-pass`, `git-mirror-sync`, …). */
  readonly name: string;
  /** argv, run in the checkout. */
  readonly command: readonly string[];
  /** Its resources (`controller.resources.pass`, `controller.gitMirror.resources`). */
  readonly resources: ContainerResources;
  /** The ServiceAccount the pod runs as (`controller.serviceAccount.name`). */
  readonly serviceAccountName: string;
  /** Whether the pod gets an API token: the pass needs one, a stage Job does not. */
  readonly automountServiceAccountToken: boolean;
  /** Variables of this container beyond the pod's own (HOME, GIT_TERMINAL_PROMPT), such as the pass's shard. */
  readonly env: readonly k8s.EnvVar[];
}

const q = (v: string) => k8s.Quantity.fromString(v);

const toResources = (r: ContainerResources): k8s.ResourceRequirements => ({
  requests: { cpu: q(r.requests.cpu), memory: q(r.requests.memory) },
  limits: { cpu: q(r.limits.cpu), memory: q(r.limits.memory) },
});

/** Where the source is cloned to inside the pod. */
export function checkoutDirOf(props: Pick<RunnerPodProps, 'image'>): string {
  return checkoutDir(props.image.appDir);
}

// The checks between props; everything else is taken as given (the registry schema checked it).
function checkProps(props: RunnerPodProps): string {
  const overlay = posix.normalize(props.registry.overlayPath);
  if (posix.isAbsolute(overlay) || overlay.startsWith('..')) {
    throw new Error(`registry.overlayPath must be a path inside the checkout, got "${props.registry.overlayPath}"`);
  }
  const g = props.gitMirror;
  const [overlap] = mountOverlaps(props.image.appDir, g);
  if (overlap?.kind === 'nested') {
    throw new Error(
      `gitMirror.mountPath "${g.mountPath}" and gitMirror.sshMountPath "${g.sshMountPath}" must not contain ` +
        `one another`,
    );
  }
  if (overlap?.kind === 'scratch') {
    throw new Error(
      `gitMirror.${overlap.mount} "${overlap.path}" must not overlap the checkout (${overlap.checkout}) nor be or ` +
        `hold ${TMP_DIR}`,
    );
  }
  return overlay;
}

/** Where the init container `assemble-registry` sees the registry parts (beside the checkout, never in it). */
function registryPartsDirOf(props: Pick<RunnerPodProps, 'image'>): string {
  return posix.join(props.image.appDir, 'registry-parts');
}

// The program of `assemble-registry`, run by the image's node (the image has no other tool to rely
// on, and no shell is needed): argv is the target file, the expected SHA-256, then the part files in
// order. It writes their concatenation over the clone's registry only if it is the synthesized file:
// kubelet reads each ConfigMap on its own, so a pod started while `apply` is between two parts could
// otherwise see lines of two registries, cut at line boundaries, that still parse as one.
export const ASSEMBLE_REGISTRY = [
  "const fs = process.getBuiltinModule('node:fs');",
  "const { createHash } = process.getBuiltinModule('node:crypto');",
  'const [target, sha256, ...parts] = process.argv.slice(1);',
  'const text = Buffer.concat(parts.map((p) => fs.readFileSync(p)));',
  "const got = createHash('sha256').update(text).digest('hex');",
  'if (got !== sha256) {',
  '  console.error(`assemble-registry: the ${parts.length} registry parts give sha256 ${got}, not the synthesized ` +',
  '    `${sha256}: a part ConfigMap is from another apply; the next pass reads them again`);',
  '  process.exit(1);',
  '}',
  'fs.writeFileSync(target, text);',
  'console.log(`assemble-registry: ${target} from ${parts.length} parts, ${text.length} bytes, sha256 ${got}`);',
].join('\n');

// Builds the pod spec: init container `clone-source`, the main container, and their volumes. The only
// writable paths are the two EmptyDirs and the mirror cache claim; the Secret keys are read-only files
// of mode 0440 whose group is the pod's fsGroup, so the non-root user can read them.
//
// The registry file reaches the clone in one of two ways. One ConfigMap: its key is mounted (subPath,
// read-only) over the clone's file. Several parts: one projected volume shows every part ConfigMap's
// key, and init container `assemble-registry` (after the clone, on the clone's resources) writes their
// concatenation over the clone's file, so the pass reads one file either way.
export function runnerPodSpec(props: RunnerPodProps, main: RunnerMainContainer): k8s.PodSpec {
  const overlay = checkProps(props);
  const checkoutDir = checkoutDirOf(props);
  const g = props.gitMirror;
  const parts = props.registry.parts;
  if (parts.length === 0) throw new Error('registry.parts must name at least one ConfigMap');
  const [whole] = parts.length === 1 ? parts : [];
  const containerSecurity: k8s.SecurityContext = {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
  };
  // git and node want a writable HOME; /tmp is an EmptyDir, the root filesystem stays read-only.
  const env: k8s.EnvVar[] = [
    { name: 'HOME', value: TMP_DIR },
    { name: 'GIT_TERMINAL_PROMPT', value: '0' },
  ];
  const checkoutMount = { name: VOLUME.checkout, mountPath: checkoutDir };
  const tmpMount = { name: VOLUME.tmp, mountPath: TMP_DIR };
  // optional: a missing Secret must not keep the pod from starting. The pass then still runs and its
  // sync fails with the transport error naming the missing key (MirrorSyncFailed), which status shows.
  const secretVolume = (name: string, ref: SecretKeyMount): k8s.Volume => ({
    name,
    secret: {
      secretName: ref.secretName,
      items: [{ key: ref.key, path: ref.key }],
      defaultMode: SSH_KEY_MODE,
      optional: true,
    },
  });
  const partsDir = registryPartsDirOf(props);
  const assemble: k8s.Container[] = whole
    ? []
    : [
        {
          name: 'assemble-registry',
          image: props.image.ref,
          imagePullPolicy: props.image.pullPolicy,
          workingDir: checkoutDir,
          command: [
            'node',
            '-e',
            ASSEMBLE_REGISTRY,
            posix.join(checkoutDir, overlay),
            props.registry.sha256,
            ...parts.map((p) => posix.join(partsDir, p.key)),
          ],
          env,
          resources: toResources(props.cloneResources),
          securityContext: containerSecurity,
          volumeMounts: [checkoutMount, tmpMount, { name: VOLUME.registryParts, mountPath: partsDir, readOnly: true }],
        },
      ];
  const registryVolume: k8s.Volume = whole
    ? {
        name: VOLUME.registry,
        configMap: { name: whole.configMapName, items: [{ key: whole.key, path: whole.key }] },
      }
    : {
        name: VOLUME.registryParts,
        projected: {
          sources: parts.map((p) => ({ configMap: { name: p.configMapName, items: [{ key: p.key, path: p.key }] } })),
        },
      };
  return {
    serviceAccountName: main.serviceAccountName,
    automountServiceAccountToken: main.automountServiceAccountToken,
    restartPolicy: 'Never',
    enableServiceLinks: false,
    hostNetwork: false,
    hostPid: false,
    hostIpc: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: props.image.runAsUser,
      runAsGroup: props.image.runAsGroup,
      fsGroup: props.image.runAsGroup,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    initContainers: [
      {
        name: 'clone-source',
        image: props.image.ref,
        imagePullPolicy: props.image.pullPolicy,
        command: [
          'git',
          'clone',
          '--depth',
          '1',
          '--single-branch',
          '--branch',
          props.source.ref,
          '--',
          props.source.url,
          checkoutDir,
        ],
        env,
        resources: toResources(props.cloneResources),
        securityContext: containerSecurity,
        volumeMounts: [checkoutMount, tmpMount],
      },
      ...assemble,
    ],
    containers: [
      {
        name: main.name,
        image: props.image.ref,
        imagePullPolicy: props.image.pullPolicy,
        workingDir: checkoutDir,
        command: [...main.command],
        env: [...env, ...main.env],
        resources: toResources(main.resources),
        securityContext: containerSecurity,
        volumeMounts: [
          checkoutMount,
          tmpMount,
          ...(whole
            ? [
                {
                  name: VOLUME.registry,
                  mountPath: posix.join(checkoutDir, overlay),
                  subPath: whole.key,
                  readOnly: true,
                },
              ]
            : []),
          { name: VOLUME.mirrorCache, mountPath: g.mountPath },
          { name: VOLUME.sshIdentity, mountPath: posix.join(g.sshMountPath, 'identity'), readOnly: true },
          { name: VOLUME.sshKnownHosts, mountPath: posix.join(g.sshMountPath, 'known-hosts'), readOnly: true },
        ],
      },
    ],
    volumes: [
      { name: VOLUME.checkout, emptyDir: { sizeLimit: q(props.scratch.checkoutSizeLimit) } },
      { name: VOLUME.tmp, emptyDir: { sizeLimit: q(props.scratch.tmpSizeLimit) } },
      registryVolume,
      { name: VOLUME.mirrorCache, persistentVolumeClaim: { claimName: g.claimName, readOnly: false } },
      secretVolume(VOLUME.sshIdentity, g.identity),
      secretVolume(VOLUME.sshKnownHosts, g.knownHosts),
    ],
  };
}
