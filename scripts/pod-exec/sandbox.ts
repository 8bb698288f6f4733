import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EnterExec, EnterMount, EnterPlan } from './enter.ts';

// How a sandbox is started: `unshare` (util-linux) makes the namespaces, then enter.ts — as root, with
// the plan written next to it — builds the root filesystem and execs the process. The pod's
// containers get mount, UTS, IPC and PID namespaces (the container is PID 1: when it exits, the
// kernel kills whatever it left behind); a test server gets only a mount namespace, so it can see a
// different /etc/hosts or /etc/passwd, or a directory at a path the host does not have.

const ENTER_SCRIPT = join(import.meta.dirname, 'enter.ts');
const UNSHARE = '/usr/bin/unshare';

export interface SandboxOptions {
  /** Where the plan and the (host-empty) root mount point are kept; one per sandbox. */
  readonly dir: string;
  readonly include: readonly string[];
  readonly hostReadOnly: boolean;
  readonly emptyDirs: readonly string[];
  readonly imageDirs?: EnterPlan['imageDirs'];
  /** UTS, IPC and PID namespaces too (a container), or only the mount namespace (a server). */
  readonly container: boolean;
  readonly mounts: readonly EnterMount[];
  readonly hostname: string | null;
  readonly readOnlyRoot: boolean;
  /** Ready/go handshake over fd 3 (a container: so the caller can look at it before it runs). */
  readonly handshake: boolean;
  readonly exec: EnterExec;
}

/** Parents before children, as the runtime mounts them (stable for equal depth). */
export function sortMounts<T extends { target: string }>(mounts: readonly T[]): T[] {
  const depth = (p: string) => p.split('/').filter((x) => x !== '').length;
  return [...mounts]
    .map((m, i) => ({ m, i }))
    .sort((a, b) => depth(a.m.target) - depth(b.m.target) || a.i - b.i)
    .map((x) => x.m);
}

/** Writes the plan; returns the argv that starts the sandbox. */
export function sandboxArgv(o: SandboxOptions): string[] {
  mkdirSync(o.dir, { recursive: true });
  const rootDir = join(o.dir, 'root');
  mkdirSync(rootDir, { recursive: true });
  const plan: EnterPlan = {
    rootDir,
    include: o.include,
    hostReadOnly: o.hostReadOnly,
    emptyDirs: o.emptyDirs,
    imageDirs: o.imageDirs ?? [],
    freshProc: o.container,
    mounts: sortMounts(o.mounts),
    hostname: o.hostname,
    readOnlyRoot: o.readOnlyRoot,
    handshakeFd: o.handshake ? 3 : null,
    exec: o.exec,
  };
  const planFile = join(o.dir, 'plan.json');
  writeFileSync(planFile, `${JSON.stringify(plan, null, 2)}\n`);
  const ns = o.container ? ['--uts', '--ipc', '--pid', '--fork', '--kill-child'] : [];
  return [
    UNSHARE,
    '--mount',
    '--propagation',
    'private',
    ...ns,
    '--',
    process.execPath,
    '--no-warnings',
    ENTER_SCRIPT,
    planFile,
  ];
}

/** The directories a server sandbox is made of: the host's, with /tmp and /run (servers keep state there). */
const SERVER_ROOTFS = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'usr', 'etc', 'var', 'tmp', 'run'];

// A wrapper for a test server's argv: the server runs as root on the host's files (read-write), but
// sees `mounts` (e.g. a generated /etc/hosts, an /etc/passwd with one more user, a directory at
// /pikasTech). Each call writes a fresh plan into `dir`; the server's environment is the caller's.
export function serverSandbox(dir: string, mounts: readonly EnterMount[]): (argv: readonly string[]) => string[] {
  let n = 0;
  return (argv) =>
    sandboxArgv({
      dir: join(dir, `start-${++n}`),
      include: SERVER_ROOTFS,
      hostReadOnly: false,
      emptyDirs: [],
      container: false,
      mounts,
      hostname: null,
      readOnlyRoot: false,
      handshake: false,
      exec: { argv, env: null, workingDir: '/', user: null, noNewPrivs: false, dropAllCapabilities: false },
    });
}
