import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../envtest/control-plane.ts';
import { acceptsTcp, stopChild } from './processes.ts';

// A real HTTP CONNECT proxy on loopback for the git-mirror tests: Debian's tinyproxy
// (scripts/install-test-deps.sh) in the foreground with a generated config, CONNECT allowed only
// to the one declared port (tinyproxy's ConnectPort), every request logged to a temp file.
//
// "Refuses the first N CONNECTs": tinyproxy starts with `ConnectPort 1` (never the target, so it
// answers `403 Access violation`); once its log shows N refusals the helper rewrites the config
// with the real port and sends SIGUSR1 (tinyproxy's in-place config reload: no listening gap; SIGHUP
// would kill it in -d mode). The log is polled every 10ms, so a client that retries faster than
// that may see one extra refusal: tests should assert "failed, then succeeded", not an exact count.

const TINYPROXY = 'tinyproxy';
const READY_TIMEOUT_MS = 10_000;
const POLL_MS = 10;
const NEVER_THE_TARGET = 1;

export interface ConnectProxy {
  readonly port: number;
  readonly logFile: string;
  /** CONNECT requests tinyproxy has received so far (allowed or refused), across restarts. */
  connectCount(): number;
  /** CONNECT requests tinyproxy refused (403) so far. */
  refusedCount(): number;
  stop(): Promise<void>;
  /** Starts tinyproxy again on the same port and config (refusals already used up stay used up). */
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

function countLines(file: string, pattern: RegExp): number {
  if (!existsSync(file)) return 0;
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => pattern.test(l)).length;
}

const REQUEST = /Request \(file descriptor \d+\): CONNECT /;
const REFUSED = /Refused CONNECT method on port/;
const RELOADED = /Reloading config file finished/;

// `connectPort` is the only port CONNECT may reach (the ssh upstream's); `refuseFirst` as above;
// `port`: listen there instead of a free port; `wrap`: run tinyproxy through this argv (e.g. a mount
// namespace whose /etc/hosts resolves the upstream's name).
export async function startConnectProxy(opts: {
  connectPort: number;
  refuseFirst?: number;
  port?: number;
  wrap?: (argv: readonly string[]) => string[];
}): Promise<ConnectProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'bf-connect-proxy-'));
  const port = opts.port ?? (await freePort());
  const config = join(dir, 'tinyproxy.conf');
  const logFile = join(dir, 'tinyproxy.log');
  const writeConfig = (connectPort: number): void =>
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'Listen 127.0.0.1',
        'Timeout 60',
        'Allow 127.0.0.1',
        `ConnectPort ${connectPort}`,
        'MaxClients 50',
        `LogFile "${logFile}"`,
        'LogLevel Info',
        `PidFile "${join(dir, 'tinyproxy.pid')}"`,
        'DisableViaHeader Yes',
        '',
      ].join('\n'),
    );
  const refuseFirst = opts.refuseFirst ?? 0;
  writeConfig(refuseFirst > 0 ? NEVER_THE_TARGET : opts.connectPort);

  let child: ChildProcess | undefined;
  let watcher: NodeJS.Timeout | undefined;
  if (refuseFirst > 0) {
    watcher = setInterval(() => {
      if (countLines(logFile, REFUSED) < refuseFirst || !child) return;
      clearInterval(watcher);
      watcher = undefined;
      writeConfig(opts.connectPort);
      child.kill('SIGUSR1');
    }, POLL_MS);
    watcher.unref();
  }

  const start = async (): Promise<void> => {
    const reloadsBefore = countLines(logFile, RELOADED);
    const argv = [TINYPROXY, '-d', '-c', config];
    const [cmd, ...args] = opts.wrap ? opts.wrap(argv) : argv;
    const proc = spawn(cmd!, args, { stdio: 'ignore' });
    proc.on('error', () => undefined);
    child = proc;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    // Ready = config loaded (logged) and the port accepts.
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(
          `tinyproxy exited (${proc.exitCode ?? proc.signalCode}) before listening:\n${readLog(logFile)}`,
        );
      }
      if (countLines(logFile, RELOADED) > reloadsBefore && (await acceptsTcp(port))) return;
      if (Date.now() > deadline) throw new Error(`tinyproxy not ready on 127.0.0.1:${port}:\n${readLog(logFile)}`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    await stopChild(proc);
  };
  await start();

  return {
    port,
    logFile,
    connectCount: () => countLines(logFile, REQUEST),
    refusedCount: () => countLines(logFile, REFUSED),
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    dispose: async () => {
      if (watcher) clearInterval(watcher);
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readLog(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '(no log)';
}
