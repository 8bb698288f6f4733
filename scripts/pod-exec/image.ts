import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

// The runner image, played by the host: no container engine runs here, so the image's content is the
// host's system directories (read-only) plus what image/Dockerfile adds, each bound at the path the
// image has it, and its configuration (ENV, WORKDIR, USER, the user it creates) read from that
// Dockerfile rather than restated: Node 22 at /usr/local/bin/node (the project's Node 22), only the
// production packages (`npm ci --omit=dev`) under <APP_DIR>/node_modules, and the image user in
// /etc/passwd (OpenSSH refuses to run for a uid without one: "No user exists for uid 10001").

/** One host path standing in for image content. */
interface ImageBind {
  readonly source: string;
  /** Its path in the image. */
  readonly target: string;
  readonly readOnly: boolean;
  /** What it stands for, in words. */
  readonly what: string;
}

export interface ImageUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}

export interface ImageSpec {
  /** Where this description comes from. */
  readonly source: string;
  /** Host top-level directories that make up the image's root filesystem (read-only). */
  readonly rootfs: readonly string[];
  readonly binds: readonly ImageBind[];
  /** The image's environment (PATH included): the runtime starts every container with it. */
  readonly env: Readonly<Record<string, string>>;
  /** WORKDIR: a container without workingDir starts there. */
  readonly workingDir: string;
  /** USER: who a container runs as when the pod does not say. */
  readonly user: { readonly uid: number; readonly gid: number };
  /** Users the image creates, added to the host's /etc/passwd and /etc/group. */
  readonly users: readonly ImageUser[];
  /** Directories the build makes (every WORKDIR, root-owned; a `chown` in a RUN gives its owner). */
  readonly dirs: readonly {
    readonly path: string;
    readonly uid: number;
    readonly gid: number;
    readonly mode: number;
  }[];
}

/** The host's system directories: what a Debian-based image holds besides what its Dockerfile adds. */
const SYSTEM_DIRS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'usr', 'etc', 'var'] as const;

/** PATH of the node:22 images (Docker's default), and where they keep node. */
const NODE_IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const NODE_IMAGE_NODE = '/usr/local/bin/node';

/** A directory of CLI programs a derived image adds (the UniDesk CLIs), prepended to PATH. */
interface CliDir {
  readonly source: string;
  /** Where it is in the image; `<at>/bin` goes on PATH. */
  readonly at: string;
  readonly readOnly: boolean;
  readonly what: string;
}

export interface DockerfileImageOptions {
  /** image/Dockerfile. */
  readonly dockerfile: string;
  /** The project whose package-lock.json and node_modules the image installs. */
  readonly projectRoot: string;
  readonly cliDirs?: readonly CliDir[];
}

/** ARG defaults, ENV, the last WORKDIR, USER and the useradd line of a Dockerfile, ${VAR}s expanded. */
function readDockerfile(text: string): {
  from: string;
  args: Map<string, string>;
  env: Record<string, string>;
  workdirs: string[];
  chowns: Map<string, string>;
  user: string;
  useradd: string | undefined;
  omitDev: boolean;
} {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim());
  const args = new Map<string, string>();
  const sub = (s: string) =>
    s
      .replace(
        /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
        (m, a?: string, b?: string) => args.get((a ?? b)!) ?? m,
      )
      .replace(/^"(.*)"$/, '$1');
  const env: Record<string, string> = {};
  let from = '';
  const workdirs: string[] = [];
  const chowns = new Map<string, string>();
  let user = '0:0';
  for (const line of lines) {
    const [word, ...rest] = line.split(/\s+/);
    const value = rest.join(' ');
    if (word === 'ARG') {
      const [k, v] = value.split('=');
      if (v !== undefined) args.set(k!, v);
    } else if (word === 'FROM') from = sub(value);
    else if (word === 'ENV')
      for (const pair of value.split(/\s+/)) env[pair.split('=')[0]!] = sub(pair.split('=').slice(1).join('='));
    else if (word === 'WORKDIR') workdirs.push(sub(value));
    else if (word === 'USER') user = sub(value);
    else if (word === 'RUN')
      for (const m of value.matchAll(/chown\s+"?([^"\s]+)"?\s+"?([^"\s&]+)"?/g)) chowns.set(sub(m[2]!), sub(m[1]!));
  }
  const useradd = lines.map((l) => /useradd (.*?)(?:&&|$)/.exec(l)?.[1]).find((m) => m !== undefined);
  return {
    from,
    args,
    env,
    workdirs,
    chowns,
    user,
    useradd: useradd === undefined ? undefined : sub(useradd.replace(/"\$\{(\w+)\}"/g, '${$1}')),
    omitDev: /npm ci\b[^\n]*--omit=dev/.test(text),
  };
}

/** The packages `npm ci` installs at the top of node_modules (with `omitDev`, the production ones only). */
function installedPackages(projectRoot: string, omitDev: boolean): string[] {
  const lock = JSON.parse(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(
      ([path, p]) =>
        path.startsWith('node_modules/') &&
        !path.slice('node_modules/'.length).includes('node_modules/') &&
        !(omitDev && p.dev === true),
    )
    .map(([path]) => path.slice('node_modules/'.length))
    .filter((name) => existsSync(join(projectRoot, 'node_modules', name)));
}

// The runner image as image/Dockerfile builds it.
export function dockerfileImage(o: DockerfileImageOptions): ImageSpec {
  const df = readDockerfile(readFileSync(o.dockerfile, 'utf8'));
  if (!/^node:22[.-]/.test(df.from))
    throw new Error(
      `${o.dockerfile}: FROM ${df.from}: pod-exec plays only node:22 images (Node 22 at ${NODE_IMAGE_NODE})`,
    );
  const appDir = df.args.get('APP_DIR');
  if (!appDir) throw new Error(`${o.dockerfile}: no ARG APP_DIR (where node_modules is installed)`);
  const [uid, gid] = df.user.split(':').map(Number) as [number, number];
  const u = df.useradd ?? '';
  const cli = o.cliDirs ?? [];
  const node = realpathSync(join(o.projectRoot, 'node_modules', '.bin', 'node'));
  const packages = installedPackages(o.projectRoot, df.omitDev);
  return {
    source: o.dockerfile,
    rootfs: SYSTEM_DIRS,
    binds: [
      {
        source: node,
        target: NODE_IMAGE_NODE,
        readOnly: true,
        what: `Node 22 (the base image's node; here the project's ${process.version})`,
      },
      ...packages.map((name) => ({
        source: join(o.projectRoot, 'node_modules', name),
        target: `${appDir}/node_modules/${name}`,
        readOnly: true,
        what: `npm ci${df.omitDev ? ' --omit=dev' : ''}: ${name}`,
      })),
      ...cli.map((c) => ({ source: c.source, target: c.at, readOnly: c.readOnly, what: c.what })),
    ],
    env: { PATH: [...cli.map((c) => `${c.at}/bin`), NODE_IMAGE_PATH].join(':'), ...df.env },
    workingDir: df.workdirs.at(-1) ?? '/',
    user: { uid, gid },
    dirs: [...new Set([...df.workdirs, ...df.chowns.keys()])].map((path) => {
      const [ou, og] = (df.chowns.get(path) ?? '0:0').split(':').map(Number) as [number, number];
      return { path, uid: ou, gid: og, mode: 0o755 };
    }),
    users: [
      {
        name: /\s(\S+)\s*$/.exec(u)?.[1] ?? 'image-user',
        uid,
        gid,
        home: /--home-dir\s+(\S+)/.exec(u)?.[1] ?? '/',
        shell: /--shell\s+(\S+)/.exec(u)?.[1] ?? '/usr/sbin/nologin',
      },
    ],
  };
}

/** The host's /etc/passwd and /etc/group plus the image's users (an existing uid or gid is kept as it is). */
export function passwdAndGroup(users: readonly ImageUser[]): { passwd: string; group: string } {
  let passwd = readFileSync('/etc/passwd', 'utf8');
  let group = readFileSync('/etc/group', 'utf8');
  const has = (text: string, id: number) => text.split('\n').some((l) => l.split(':')[2] === String(id));
  for (const u of users) {
    if (!has(passwd, u.uid))
      passwd += `${passwd.endsWith('\n') ? '' : '\n'}${u.name}:x:${u.uid}:${u.gid}::${u.home}:${u.shell}\n`;
    if (!has(group, u.gid)) group += `${group.endsWith('\n') ? '' : '\n'}${u.name}:x:${u.gid}:\n`;
  }
  return { passwd, group };
}
