import type { ProcessResult, ProcessSpec } from './run-direct.ts';

// What the caller and the spawn helper say to each other: one JSON line per request and per answer,
// matched by id (answers come back in the order children finish). Output bytes travel as base64, so
// a child's binary or invalid UTF-8 output reaches the caller byte for byte.

interface WireResult extends Omit<ProcessResult, 'stdout' | 'stderr'> {
  readonly stdout: string;
  readonly stderr: string;
}

export function encodeRequest(id: number, spec: ProcessSpec): string {
  return JSON.stringify({ id, spec });
}

export function decodeRequest(line: string): { id: number; spec: ProcessSpec } {
  return JSON.parse(line) as { id: number; spec: ProcessSpec };
}

export function encodeAnswer(id: number, r: ProcessResult): string {
  const wire: WireResult = { ...r, stdout: r.stdout.toString('base64'), stderr: r.stderr.toString('base64') };
  return JSON.stringify({ id, result: wire });
}

export function decodeAnswer(line: string): { id: number; result: ProcessResult } {
  const { id, result: r } = JSON.parse(line) as { id: number; result: WireResult };
  // JSON drops undefined fields: each is spelled out again, so both ways give the same object.
  return {
    id,
    result: {
      exitCode: r.exitCode ?? undefined,
      signal: r.signal ?? undefined,
      stdout: Buffer.from(r.stdout, 'base64'),
      stderr: Buffer.from(r.stderr, 'base64'),
      timedOut: r.timedOut,
      overflowed: r.overflowed ?? undefined,
      startError: r.startError ?? undefined,
      durationMs: r.durationMs,
    },
  };
}
