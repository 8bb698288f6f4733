import { spawn, type ChildProcess } from 'node:child_process';

/** One child process to run: no shell, exactly this environment, a budget and an output cap. */
export interface ProcessSpec {
  readonly file: string;
  readonly args: readonly string[];
  /** The child's whole environment: nothing of the spawning process is added. */
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** What the child reads on stdin; without it the child gets no stdin. */
  readonly input?: string;
  /** The child is killed (SIGKILL) when it has not finished within this. */
  readonly timeoutMs: number;
  /** The child is killed (SIGKILL) once stdout or stderr holds more than this; absent: no cap. */
  readonly maxOutputBytes?: number;
}

/** How a child ended and what it printed (each stream cut at maxOutputBytes). */
export interface ProcessResult {
  /** Its exit code when it exited by itself; undefined when killed or never started. */
  readonly exitCode: number | undefined;
  /** The signal that ended it, if one did. */
  readonly signal: string | undefined;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  /** Killed at timeoutMs. */
  readonly timedOut: boolean;
  /** The stream that went over maxOutputBytes (the child was killed for it). */
  readonly overflowed: 'stdout' | 'stderr' | undefined;
  /** Why it could not be started (ENOENT, EACCES, …); undefined when it started. */
  readonly startError: string | undefined;
  readonly durationMs: number;
}

/** The child ran and exited 0. */
export const succeeded = (r: ProcessResult): boolean =>
  r.exitCode === 0 && !r.timedOut && r.overflowed === undefined && r.startError === undefined;

// Runs one child from this process. Resolves in every case (the result says how it ended): callers
// decide what an exit code means. A child that hangs or floods is killed with SIGKILL, which it
// cannot catch, and its result says which limit it hit. `live` holds the child while it runs (the
// helper kills what is left when its caller goes away).
export function runDirect(spec: ProcessSpec, live?: Set<ChildProcess>): Promise<ProcessResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(spec.file, [...spec.args], {
      shell: false,
      cwd: spec.cwd,
      env: { ...spec.env },
      stdio: [spec.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    live?.add(child);
    const out: Record<'stdout' | 'stderr', { chunks: Buffer[]; bytes: number }> = {
      stdout: { chunks: [], bytes: 0 },
      stderr: { chunks: [], bytes: 0 },
    };
    let timedOut = false;
    let overflowed: 'stdout' | 'stderr' | undefined;
    let startError: string | undefined;
    let killed = false;
    const kill = () => {
      killed = true;
      child.kill('SIGKILL');
    };
    // A killed child's own children may still hold its pipes open: once it has exited, what they would
    // still print is not waited for.
    child.on('exit', () => {
      if (!killed) return;
      child.stdout?.destroy();
      child.stderr?.destroy();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, spec.timeoutMs);
    for (const name of ['stdout', 'stderr'] as const) {
      child[name]?.on('data', (chunk: Buffer) => {
        const o = out[name];
        const room = spec.maxOutputBytes === undefined ? chunk.length : spec.maxOutputBytes - o.bytes;
        if (room > 0) o.chunks.push(room >= chunk.length ? chunk : chunk.subarray(0, room));
        o.bytes += chunk.length;
        if (spec.maxOutputBytes !== undefined && o.bytes > spec.maxOutputBytes && overflowed === undefined) {
          overflowed = name;
          kill();
        }
      });
    }
    // A child that exits without reading its stdin closes the pipe: that is not this run's failure.
    child.stdin?.on('error', () => {});
    child.stdin?.end(spec.input);
    child.on('error', (error: NodeJS.ErrnoException) => {
      startError ??= error.code ?? error.message;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live?.delete(child);
      resolve({
        exitCode: startError === undefined ? (code ?? undefined) : undefined,
        signal: signal ?? undefined,
        stdout: Buffer.concat(out.stdout.chunks),
        stderr: Buffer.concat(out.stderr.chunks),
        timedOut,
        overflowed,
        startError,
        durationMs: performance.now() - started,
      });
    });
  });
}
