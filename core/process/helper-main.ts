import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { runDirect } from './run-direct.ts';
import { decodeRequest, encodeAnswer } from './wire.ts';

// The spawn helper: a small Node process started once, which runs each child it is asked for with
// runDirect and answers with its result, one JSON line each way. Forking is cheap here (this process
// holds little memory) and blocks only this event loop, not the caller's. It owns no decision: what a
// result means is for the caller. When the caller goes away (stdin ends) it kills what still runs.

const live = new Set<ChildProcess>();

createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
  const { id, spec } = decodeRequest(line);
  void runDirect(spec, live).then((result) => process.stdout.write(`${encodeAnswer(id, result)}\n`));
});

process.stdin.on('end', () => {
  for (const child of live) child.kill('SIGKILL');
  process.exit(0);
});
