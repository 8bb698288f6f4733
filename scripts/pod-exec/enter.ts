// The inside of one sandbox: run as root by `unshare` (a fresh mount namespace, and for a container
// also UTS, IPC and PID), it builds the root filesystem the plan describes, mounts every volume at its
// real path, pivots into it, then execs the plan's argv — for a container through setpriv (the pod's
// uid/gid/groups, no_new_privs, no capabilities) and `env -i -C` (exactly the container's environment
// and working directory). Nothing it mounts is seen outside the namespace, and it never writes to the
// host's filesystem: a mount point that does not exist in a host directory is made by covering that
// directory with a tmpfs that re-binds its entries ("explode"), never by mkdir on the host.
//
//   node enter.ts <plan.json>
//
// Only node: builtins and util-linux/coreutils binaries; it runs before anything else is available.
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readSync,
  readdirSync,
  readlinkSync,
  rmdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
  chownSync,
  chmodSync,
} from 'node:fs';
import { join, posix } from 'node:path';

/** One bind mount: a host path at a path of the new root. */
export interface EnterMount {
  /** Host path (a file or directory); symlinks already resolved by the caller. */
  readonly source: string;
  /** Absolute path in the new root (symlinks in it are followed inside the new root). */
  readonly target: string;
  readonly readOnly: boolean;
}

/** The process to exec once the root is built. */
export interface EnterExec {
  readonly argv: readonly string[];
  /** The whole environment; null keeps the caller's (servers). */
  readonly env: Readonly<Record<string, string>> | null;
  readonly workingDir: string;
  /** Drop to this uid/gid/supplementary groups with setpriv; null stays root (servers). */
  readonly user: { readonly uid: number; readonly gid: number; readonly groups: readonly number[] } | null;
  readonly noNewPrivs: boolean;
  readonly dropAllCapabilities: boolean;
}

/** What one sandbox is made of; written as JSON by sandbox.ts. */
export interface EnterPlan {
  /** An empty host directory the new root's tmpfs is mounted on (it stays empty on the host). */
  readonly rootDir: string;
  /** Top-level host entries that make up the root filesystem (dirs bound, symlinks copied). */
  readonly include: readonly string[];
  /** Host top-level entries bound read-only (the image is read-only to the container). */
  readonly hostReadOnly: boolean;
  /** Top-level directories that exist empty in the new root (tmp, run, …). */
  readonly emptyDirs: readonly string[];
  /** A fresh /proc (the sandbox has its own PID namespace), else the host's. */
  readonly freshProc: boolean;
  /** Directories the image itself has (WORKDIR, mkdir in its build), made in the root before the mounts. */
  readonly imageDirs: readonly {
    readonly path: string;
    readonly uid: number;
    readonly gid: number;
    readonly mode: number;
  }[];
  /** In this order (the caller sorts parents first). */
  readonly mounts: readonly EnterMount[];
  /** Set in the UTS namespace; null leaves it. */
  readonly hostname: string | null;
  /** Remount the new root (and every tmpfs made for it) read-only before exec. */
  readonly readOnlyRoot: boolean;
  /** Write `ready <host pid>\n` here when built, then wait for one byte before exec; null: no handshake. */
  readonly handshakeFd: number | null;
  readonly exec: EnterExec;
}

const MOUNT = '/usr/bin/mount';
const UMOUNT = '/usr/bin/umount';
const OLD_ROOT = '/.host';
/** Always set up by the runtime, never taken from the include list. */
const RUNTIME_DIRS = new Set(['proc', 'dev', 'sys']);

function run(cmd: string, args: readonly string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${cmd} ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

const mount = (...args: string[]) => run(MOUNT, args);

function exists(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Host-backed directories of the new root (new-root path → host path as seen now). */
const hostBacked = new Map<string, string>();
/** tmpfs mounts made for the root (remounted read-only with it). */
const skeleton: string[] = [];
/** Mount points of the plan's mounts, once mounted. */
const placed = new Set<string>();
let plan: EnterPlan;

/** Makes `dst` show `src` (a host entry): directories bound, symlinks copied, files bound or copied. */
function replicate(src: string, dst: string, recursive: boolean, copyFiles: boolean): void {
  const st = lstatSync(src);
  if (st.isSymbolicLink()) {
    symlinkSync(readlinkSync(src), dst);
    lchownSync(dst, st.uid, st.gid);
    return;
  }
  if (st.isFile() && copyFiles) {
    // Image content, copied into the tmpfs that covers its directory (cheaper than one mount per file).
    copyFileSync(src, dst);
    chownSync(dst, st.uid, st.gid);
    chmodSync(dst, st.mode & 0o7777);
    return;
  }
  if (st.isDirectory()) mkdirSync(dst);
  else writeFileSync(dst, '');
  mount(recursive ? '--rbind' : '--bind', ...(plan.hostReadOnly ? ['-o', 'ro'] : []), src, dst);
  if (st.isDirectory()) hostBacked.set(dst, src);
}

/**
 * Covers a host-backed directory with a tmpfs holding its entries (so new entries can be made in it).
 * The tmpfs is filled beside the root and moved over `dir` at the end, so `dir` — /usr, say, which
 * holds mount itself — stays usable while it is being rebuilt.
 */
let staged = 0;
function explode(dir: string): void {
  const hidden = [...placed].filter((p) => p === dir || p.startsWith(`${dir}/`));
  if (hidden.length > 0)
    throw new Error(`covering ${dir} with a tmpfs would hide what is already mounted there: ${hidden.join(', ')}`);
  const src = hostBacked.get(dir)!;
  const st = statSync(src);
  const stage = `/.stage-${++staged}`;
  mkdirSync(stage);
  mount('-t', 'tmpfs', '-o', `mode=${(st.mode & 0o7777).toString(8)}`, 'tmpfs', stage);
  chownSync(stage, st.uid, st.gid);
  for (const name of readdirSync(src)) replicate(join(src, name), join(stage, name), true, plan.hostReadOnly);
  mount('--move', stage, dir);
  rmdirSync(stage);
  hostBacked.delete(dir);
  for (const [key, value] of [...hostBacked]) {
    if (!key.startsWith(`${stage}/`)) continue;
    hostBacked.delete(key);
    hostBacked.set(dir + key.slice(stage.length), value);
  }
  skeleton.push(dir);
}

/** The host-backed directory `dir` is in (itself or its nearest bound ancestor), if any. */
function backingOf(dir: string): string | undefined {
  let best: string | undefined;
  for (const key of hostBacked.keys())
    if ((dir === key || dir.startsWith(`${key}/`)) && (!best || key.length > best.length)) best = key;
  return best;
}

/** Lets a new entry be created in `dir` without writing to the host: explodes down to it. */
function writable(dir: string): void {
  // Each explode turns the next directory down into a host-backed directory of its own.
  for (let key = backingOf(dir); key !== undefined; key = backingOf(dir)) explode(key);
}

/**
 * Makes `target` exist as a directory or file in the new root, following symlinks inside it; with
 * `prepareOnly`, only makes the directory where it is missing writable (explodes it) and stops there.
 */
function ensure(target: string, kind: 'dir' | 'file', prepareOnly = false, depth = 0): string {
  if (depth > 40) throw new Error(`too many symlinks resolving ${target}`);
  const parts = target.split('/').filter((p) => p !== '');
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = posix.join(cur, parts[i]!);
    const last = i === parts.length - 1;
    const st = exists(next);
    if (st?.isSymbolicLink()) {
      const link = readlinkSync(next);
      const resolved = posix.isAbsolute(link) ? link : posix.join(cur, link);
      return ensure(posix.join(resolved, ...parts.slice(i + 1)), kind, prepareOnly, depth + 1);
    }
    if (!st) {
      writable(cur);
      if (prepareOnly) return cur;
      if (last && kind === 'file') writeFileSync(next, '');
      else mkdirSync(next);
    }
    cur = next;
  }
  return cur;
}

/** Every mount below `prefixes` that is still read-write, from the namespace's mountinfo. */
function readWriteMountsUnder(prefixes: readonly string[], except: ReadonlySet<string>): string[] {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  const unescapeOctal = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return lines
    .map((l) => l.split(' '))
    .map((f) => ({ point: unescapeOctal(f[4]!), opts: f[5]!.split(',') }))
    .filter(
      (m) =>
        m.opts.includes('rw') &&
        !except.has(m.point) &&
        prefixes.some((p) => m.point === p || m.point.startsWith(`${p}/`)),
    )
    .map((m) => m.point);
}

/** Waits (blocking) for one byte on the handshake fd; the parent's socket may be non-blocking. */
function waitForGo(fd: number): void {
  const buf = Buffer.alloc(1);
  for (;;) {
    try {
      if (readSync(fd, buf, 0, 1, null) === 1) return;
      throw new Error('the pod runner closed the handshake before saying go');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

function main(): void {
  plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as EnterPlan;
  // The host's /proc is still the one mounted: /proc/self is this process's pid as the host sees it.
  const hostPid = Number(readlinkSync('/proc/self'));
  const root = plan.rootDir;
  mount('-t', 'tmpfs', '-o', 'mode=0755', 'tmpfs', root);
  skeleton.push('/');
  for (const name of plan.include) {
    if (RUNTIME_DIRS.has(name) || !exists(`/${name}`)) continue;
    // An entry holding the root dir itself is bound without its submounts (else it would hold itself).
    replicate(`/${name}`, join(root, name), !(root === `/${name}` || root.startsWith(`/${name}/`)), false);
  }
  for (const name of ['proc', 'dev', 'sys', ...plan.emptyDirs]) {
    if (exists(join(root, name))) continue;
    mkdirSync(join(root, name));
    chmodSync(join(root, name), name === 'tmp' ? 0o1777 : 0o755);
  }
  mount('--rbind', '/dev', join(root, 'dev'));
  mount('--rbind', '/sys', join(root, 'sys'));
  mount('-o', 'remount,bind,ro', join(root, 'sys'));
  if (!plan.freshProc) mount('--rbind', '/proc', join(root, 'proc'));

  // pivot_root moves the root of every process of this namespace, this one included.
  mkdirSync(join(root, OLD_ROOT));
  process.chdir(root);
  run('/usr/sbin/pivot_root', ['.', `.${OLD_ROOT}`]);
  process.chdir('/');
  for (const [dir, src] of [...hostBacked]) {
    hostBacked.delete(dir);
    hostBacked.set(dir.slice(root.length) || '/', join(OLD_ROOT, src));
  }
  if (plan.freshProc) mount('-t', 'proc', 'proc', '/proc');

  for (const d of plan.imageDirs) {
    const made = !exists(d.path);
    const path = ensure(d.path, 'dir');
    if (made) {
      chownSync(path, d.uid, d.gid);
      chmodSync(path, d.mode);
    }
  }
  const kindOf = (m: EnterMount) => (statSync(join(OLD_ROOT, m.source)).isDirectory() ? 'dir' : 'file');
  // First every host directory a mount point must be made in is covered (exploded), so that no
  // tmpfs is laid over a mount placed before it; then the mounts, parents first.
  for (const m of plan.mounts) ensure(m.target, kindOf(m), true);
  for (const m of plan.mounts) {
    const source = join(OLD_ROOT, m.source);
    const target = ensure(m.target, kindOf(m));
    mount('--bind', source, target);
    if (m.readOnly) mount('-o', 'remount,bind,ro', target);
    placed.add(target);
  }
  if (plan.hostname !== null) writeFileSync('/proc/sys/kernel/hostname', plan.hostname);

  run(UMOUNT, ['-l', OLD_ROOT]);
  rmdirSync(OLD_ROOT);
  if (plan.hostReadOnly) {
    // A host submount (say a bind over /etc/resolv.conf) came along read-write: the image is read-only.
    for (const point of readWriteMountsUnder([...hostBacked.keys()], placed)) mount('-o', 'remount,bind,ro', point);
  }
  if (plan.readOnlyRoot) for (const dir of skeleton.reverse()) mount('-o', 'remount,ro', dir);

  if (plan.handshakeFd !== null) {
    writeSync(plan.handshakeFd, `ready ${hostPid}\n`);
    waitForGo(plan.handshakeFd);
    closeSync(plan.handshakeFd);
  }
  closeInheritedFds();
  process.umask(0o022);
  execContainer(plan.exec);
}

const O_CLOEXEC = 0o2000000;

// The runtime starts a container with stdin, stdout and stderr only. Whatever this process inherited
// without close-on-exec (from whoever started the test run) is closed; Node's own descriptors are
// close-on-exec already.
function closeInheritedFds(): void {
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd <= 2) continue;
    let flags: number;
    try {
      flags = parseInt(/^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1] ?? '0', 8);
    } catch {
      continue; // the directory's own descriptor, gone already
    }
    if ((flags & O_CLOEXEC) === 0) closeSync(fd);
  }
}

function execContainer(e: EnterExec): never {
  // `env -C` changes directory after setpriv, so the working directory is entered as the container's user.
  const envArgs = e.env === null ? [] : ['-i', ...Object.entries(e.env).map(([k, v]) => `${k}=${v}`)];
  const envCmd = ['/usr/bin/env', '-C', e.workingDir, ...envArgs, ...e.argv];
  const u = e.user;
  if (u === null) {
    process.execve!(envCmd[0]!, envCmd, e.env === null ? process.env : {});
    throw new Error('unreachable');
  }
  const setpriv = [
    '/usr/bin/setpriv',
    `--reuid=${u.uid}`,
    `--regid=${u.gid}`,
    u.groups.length > 0 ? `--groups=${u.groups.join(',')}` : '--clear-groups',
    ...(e.noNewPrivs ? ['--no-new-privs'] : []),
    ...(e.dropAllCapabilities ? ['--inh-caps=-all', '--bounding-set=-all'] : []),
    '--',
    ...envCmd,
  ];
  process.execve!(setpriv[0]!, setpriv, {});
  throw new Error('unreachable');
}

try {
  main();
} catch (err) {
  process.stderr.write(`pod-exec: sandbox setup failed: ${(err as Error).message}\n`);
  process.exit(128);
}
