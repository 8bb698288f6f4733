import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Socket } from 'node:net';
import type { ProcessResult, ProcessSpec } from './run-direct.ts';
import { scriptBeside } from './script-path.ts';
import { decodeAnswer, encodeRequest } from './wire.ts';

const HELPER_MAIN = scriptBeside(import.meta.url, 'helper-main');

// Forking this process costs page-table copies in proportion to its memory, and libuv's spawn blocks
// the event loop until the child has exec'd: at the few hundred MiB a pass holds that is several
// milliseconds per child, during which nothing else of the pass (API calls, Lease renewals) runs
// (docs/performance.md, "Cost of one subprocess"). So every child is run by one small helper process,
// started on the first run and kept while this process lives; asking it costs a line on a pipe.
//
// The helper is never what keeps this process alive: its pipes are unref'd while nothing waits on
// it, and it exits when this process does (its stdin ends). If it dies, the runs it held answer as
// children that could not be started, and the next run starts a new helper.

interface Helper {
  readonly child: ChildProcess;
  readonly waiting: Map<number, (r: ProcessResult) => void>;
}

let helper: Helper | undefined;
let nextId = 0;

const lost = (why: string): ProcessResult => ({
  exitCode: undefined,
  signal: undefined,
  stdout: Buffer.alloc(0),
  stderr: Buffer.alloc(0),
  timedOut: false,
  overflowed: undefined,
  startError: why,
  durationMs: 0,
});

function hold(h: Helper, on: boolean): void {
  for (const s of [h.child.stdin, h.child.stdout] as unknown as Socket[]) {
    if (on) s.ref();
    else s.unref();
  }
  if (on) h.child.ref();
  else h.child.unref();
}

function start(): Helper {
  // Nothing of this process's environment reaches the helper: each child gets exactly its spec's env.
  const child = spawn(process.execPath, [HELPER_MAIN], { stdio: ['pipe', 'pipe', 'inherit'], env: {} });
  const h: Helper = { child, waiting: new Map() };
  createInterface({ input: child.stdout!, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
    const { id, result } = decodeAnswer(line);
    h.waiting.get(id)?.(result);
    h.waiting.delete(id);
    if (h.waiting.size === 0) hold(h, false);
  });
  child.stdin!.on('error', () => {});
  child.on('exit', (code, signal) => {
    if (helper === h) helper = undefined;
    for (const answer of h.waiting.values()) answer(lost(`the spawn helper exited (${signal ?? `code ${code}`})`));
    h.waiting.clear();
  });
  return h;
}

/** Runs one child through the spawn helper (started on first use); same contract as runDirect. */
export function runInHelper(spec: ProcessSpec): Promise<ProcessResult> {
  helper ??= start();
  const h = helper;
  const id = nextId++;
  return new Promise((resolve) => {
    h.waiting.set(id, resolve);
    hold(h, true);
    h.child.stdin!.write(`${encodeRequest(id, spec)}\n`);
  });
}
