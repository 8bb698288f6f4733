import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { KubeClient } from '../../core/kube/client.ts';
import { resourceType } from '../../core/kube/resources.ts';
import type { KeyToPath, PodSpec, Volume } from './pod-spec.ts';

// What kubelet does before a container starts: every volume of the pod made into a local directory,
// with kubelet's ownership rules. ConfigMaps and Secrets are read from the API server as it holds them
// (GET, with the caller's client: kubelet would use the node's identity) and laid out as kubelet's
// atomic writer does (`..<timestamp>/`, `..data` → it, each item's top-level name → `..data/<name>`).

/** The ServiceAccount token volume kubelet projects when the pod automounts one. */
export const SERVICE_ACCOUNT_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The name the mapping table shows for it (kubelet: kube-api-access-<random>). */
export const SERVICE_ACCOUNT_VOLUME = 'kube-api-access';

/** One volume, made. */
export interface MadeVolume {
  readonly name: string;
  readonly kind: 'emptyDir' | 'configMap' | 'secret' | 'persistentVolumeClaim' | 'projected';
  /** The local directory holding it. */
  readonly dir: string;
  /** Where it came from, in words (for the mapping table). */
  readonly from: string;
}

/** What makes the pod's volumes. */
export interface VolumeSources {
  readonly client: KubeClient;
  readonly namespace: string;
  /** PersistentVolumeClaim name → local directory standing in for its volume. */
  readonly claims: Readonly<Record<string, string>>;
  /** The ServiceAccount token, and the API server's CA certificate (PEM). */
  readonly serviceAccount: { readonly token: string; readonly caCert: string } | null;
  readonly fsGroup: number | undefined;
  /** Where EmptyDirs and the ConfigMap/Secret/token volumes are made. */
  readonly dir: string;
}

const RW_MASK = 0o660;
const RO_MASK = 0o440;
const EXEC_MASK = 0o110;
const SETGID = 0o2000;

// kubelet's SetVolumeOwnership (pkg/volume/volume_linux.go): group = fsGroup, files |= rw (or ro)
// for the group, directories also |= x and setgid; symlinks only change group.
function applyFsGroup(root: string, fsGroup: number, readOnly: boolean): void {
  const walk = (path: string) => {
    const st = lstatSync(path);
    if (st.isSymbolicLink()) {
      lchownSync(path, st.uid, fsGroup);
      return;
    }
    chownSync(path, st.uid, fsGroup);
    let mode = (st.mode & 0o7777) | (readOnly ? RO_MASK : RW_MASK);
    if (st.isDirectory()) mode |= EXEC_MASK | SETGID;
    chmodSync(path, mode);
    if (st.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  walk(root);
}

/** kubelet's AtomicWriter layout: `..<ts>/<path>`, `..data` → `..<ts>`, `<top>` → `..data/<top>`. */
function atomicWrite(dir: string, files: readonly { path: string; data: Buffer; mode: number }[]): void {
  const stamp = `..${new Date().toISOString().replace(/[-:]/g, '_').replace('T', '_').replace('Z', '')}`;
  const ts = join(dir, stamp);
  mkdirSync(ts, { recursive: true });
  chmodSync(ts, 0o755);
  for (const f of files) {
    const file = join(ts, f.path);
    if (relative(ts, file).startsWith('..')) throw new Error(`item path ${f.path} escapes its volume`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, f.data);
    chmodSync(file, f.mode);
  }
  symlinkSync(stamp, join(dir, '..data'));
  for (const top of new Set(files.map((f) => f.path.split('/')[0]!))) symlinkSync(join('..data', top), join(dir, top));
}

/** The files a ConfigMap or Secret volume shows: all keys, or exactly `items`. */
function projectKeys(
  data: ReadonlyMap<string, Buffer>,
  items: readonly KeyToPath[] | undefined,
  defaultMode: number,
  optional: boolean,
  what: string,
): { path: string; data: Buffer; mode: number }[] {
  if (!items) return [...data].map(([key, bytes]) => ({ path: key, data: bytes, mode: defaultMode }));
  const out: { path: string; data: Buffer; mode: number }[] = [];
  for (const item of items) {
    const bytes = data.get(item.key);
    if (bytes === undefined) {
      if (optional) continue;
      throw new Error(`${what} has no key ${item.key}: kubelet would not start the pod (the volume is not optional)`);
    }
    out.push({ path: item.path, data: bytes, mode: item.mode ?? defaultMode });
  }
  return out;
}

async function readObject(
  src: VolumeSources,
  kind: 'ConfigMap' | 'Secret',
  name: string,
): Promise<Map<string, Buffer> | undefined> {
  const obj = (await src.client.get(resourceType('v1', kind), src.namespace, name)) as
    | { data?: Record<string, string>; binaryData?: Record<string, string> }
    | undefined;
  if (!obj) return undefined;
  const map = new Map<string, Buffer>();
  if (kind === 'Secret') for (const [k, v] of Object.entries(obj.data ?? {})) map.set(k, Buffer.from(v, 'base64'));
  else {
    for (const [k, v] of Object.entries(obj.data ?? {})) map.set(k, Buffer.from(v, 'utf8'));
    for (const [k, v] of Object.entries(obj.binaryData ?? {})) map.set(k, Buffer.from(v, 'base64'));
  }
  return map;
}

async function makeVolume(v: Volume, src: VolumeSources): Promise<MadeVolume> {
  const dir = join(src.dir, 'volumes', v.name);
  const own = (readOnly: boolean) => src.fsGroup !== undefined && applyFsGroup(dir, src.fsGroup, readOnly);
  if (v.emptyDir) {
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o777); // kubelet makes an EmptyDir 0777
    own(false);
    return { name: v.name, kind: 'emptyDir', dir, from: 'a fresh directory' };
  }
  if (v.persistentVolumeClaim) {
    const local = src.claims[v.persistentVolumeClaim.claimName];
    if (local === undefined)
      throw new Error(
        `volume ${v.name}: no local directory for PersistentVolumeClaim ${v.persistentVolumeClaim.claimName} (pass ` +
          `it in claims)`,
      );
    // fsGroupChangePolicy Always (the default): the whole volume, every time it is mounted.
    if (src.fsGroup !== undefined) applyFsGroup(local, src.fsGroup, v.persistentVolumeClaim.readOnly === true);
    return {
      name: v.name,
      kind: 'persistentVolumeClaim',
      dir: local,
      from: `PersistentVolumeClaim ${v.persistentVolumeClaim.claimName}: the caller's directory`,
    };
  }
  if (v.projected) {
    // kubelet's projected volume: every source's files in one AtomicWriter layout.
    const mode = v.projected.defaultMode ?? 0o644;
    const files: { path: string; data: Buffer; mode: number }[] = [];
    const said: string[] = [];
    for (const source of v.projected.sources) {
      const cm = source.configMap!;
      const what = `ConfigMap ${src.namespace}/${cm.name}`;
      const data = await readObject(src, 'ConfigMap', cm.name);
      if (!data && cm.optional !== true)
        throw new Error(
          `volume ${v.name}: ${what} does not exist and the source is not optional: kubelet would not start the pod`,
        );
      if (data) files.push(...projectKeys(data, cm.items, mode, cm.optional === true, what));
      said.push(`${what}${cm.items ? ` items ${cm.items.map((i) => `${i.key}→${i.path}`).join(', ')}` : ' all keys'}`);
    }
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    atomicWrite(dir, files);
    own(true);
    return {
      name: v.name,
      kind: 'projected',
      dir,
      from: `projected, as the API server holds them (GET): ${said.join('; ')}, mode ${mode.toString(8).padStart(4, '0')}`,
    };
  }
  const ref = v.configMap
    ? {
        kind: 'ConfigMap' as const,
        name: v.configMap.name,
        items: v.configMap.items,
        mode: v.configMap.defaultMode ?? 0o644,
        optional: v.configMap.optional === true,
      }
    : {
        kind: 'Secret' as const,
        name: v.secret!.secretName,
        items: v.secret!.items,
        mode: v.secret!.defaultMode ?? 0o644,
        optional: v.secret!.optional === true,
      };
  const what = `${ref.kind} ${src.namespace}/${ref.name}`;
  const data = await readObject(src, ref.kind, ref.name);
  if (!data && !ref.optional)
    throw new Error(
      `volume ${v.name}: ${what} does not exist and the volume is not optional: kubelet would not start the pod`,
    );
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  atomicWrite(dir, data ? projectKeys(data, ref.items, ref.mode, ref.optional, what) : []);
  own(true);
  const keys = ref.items ? ` items ${ref.items.map((i) => `${i.key}→${i.path}`).join(', ')}` : ' all keys';
  return {
    name: v.name,
    kind: v.configMap ? 'configMap' : 'secret',
    dir,
    from:
      `${what} as the API server holds it (GET)${keys}, mode ` +
      `${ref.mode.toString(8).padStart(4, '0')}${data ? '' : ' (absent, optional: empty)'}`,
  };
}

// The automounted token: kubelet's kube-api-access projected volume (token, ca.crt, namespace; 0644).
function makeServiceAccountVolume(src: VolumeSources, sa: { token: string; caCert: string }): MadeVolume {
  const dir = join(src.dir, 'volumes', SERVICE_ACCOUNT_VOLUME);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  atomicWrite(dir, [
    { path: 'token', data: Buffer.from(sa.token), mode: 0o644 },
    { path: 'ca.crt', data: Buffer.from(sa.caCert), mode: 0o644 },
    { path: 'namespace', data: Buffer.from(src.namespace), mode: 0o644 },
  ]);
  if (src.fsGroup !== undefined) applyFsGroup(dir, src.fsGroup, true);
  return {
    name: SERVICE_ACCOUNT_VOLUME,
    kind: 'projected',
    dir,
    from: "a TokenRequest token for the pod's ServiceAccount, the API server's CA, the namespace",
  };
}

/** Makes every volume of the pod (and the token volume, when it automounts one). */
export async function makeVolumes(spec: PodSpec, src: VolumeSources): Promise<Map<string, MadeVolume>> {
  const made = new Map<string, MadeVolume>();
  for (const v of spec.volumes ?? []) made.set(v.name, await makeVolume(v, src));
  if (src.serviceAccount) made.set(SERVICE_ACCOUNT_VOLUME, makeServiceAccountVolume(src, src.serviceAccount));
  return made;
}

/** The host path a mount binds: the volume, or its subPath (symlinks resolved, never outside the volume). */
export function mountSource(volume: MadeVolume, subPath: string | undefined): string {
  if (!subPath) return volume.dir;
  // kubelet creates a missing subPath as a directory in the volume.
  if (!existsSync(join(volume.dir, subPath))) mkdirSync(join(volume.dir, subPath), { recursive: true });
  const base = realpathSync(volume.dir);
  const resolved = realpathSync(join(volume.dir, subPath));
  if (resolved !== base && !resolved.startsWith(base + sep))
    throw new Error(`subPath ${subPath} of volume ${volume.name} resolves outside the volume (${resolved})`);
  return resolved;
}
