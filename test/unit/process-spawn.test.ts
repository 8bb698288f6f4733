import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDirect, succeeded, type ProcessSpec } from '../../core/process/run-direct.ts';
import { runInHelper } from '../../core/process/spawner.ts';

// One contract, two ways to run a child: from this process, and through the spawn helper the product
// uses. Every case runs real processes through both and must come out the same.
const cwd = realpathSync(mkdtempSync(join(tmpdir(), 'bf-spawn-test-')));
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

const PATH = '/usr/bin:/bin';
const sh = (script: string, over: Partial<ProcessSpec> = {}): ProcessSpec => ({
  file: 'sh',
  args: ['-c', script],
  env: { PATH },
  cwd,
  timeoutMs: 20_000,
  ...over,
});

describe.each([
  ['directly', runDirect],
  ['through the spawn helper', runInHelper],
])('a child run %s', (_, run) => {
  it('exit codes: 0 succeeds, any other is the child’s own code', async () => {
    const ok = await run(sh('echo out; echo err >&2'));
    expect(ok).toMatchObject({ exitCode: 0, timedOut: false, overflowed: undefined, startError: undefined });
    expect(ok.stdout.toString()).toBe('out\n');
    expect(ok.stderr.toString()).toBe('err\n');
    expect(succeeded(ok)).toBe(true);
    const three = await run(sh('exit 3'));
    expect(three.exitCode).toBe(3);
    expect(succeeded(three)).toBe(false);
  });

  it('stdin is the given input, or nothing at all', async () => {
    expect((await run(sh('cat', { input: 'line one\nline two\n' }))).stdout.toString()).toBe('line one\nline two\n');
    const none = await run(sh('cat; echo "read done"'));
    expect(none.stdout.toString()).toBe('read done\n');
  });

  it('only the env given reaches the child, in the cwd given', async () => {
    process.env.BF_SPAWN_TEST_LEAK = 'from the parent';
    try {
      const r = await run({ file: 'env', args: [], env: { PATH, ONLY: 'this' }, cwd, timeoutMs: 20_000 });
      expect(r.stdout.toString().split('\n').filter(Boolean).sort()).toEqual([`ONLY=this`, `PATH=${PATH}`]);
    } finally {
      delete process.env.BF_SPAWN_TEST_LEAK;
    }
    expect((await run(sh('pwd'))).stdout.toString()).toBe(`${cwd}\n`);
  });

  it('a child past its timeout is killed with SIGKILL, even one that ignores SIGTERM', async () => {
    const r = await run(sh("trap '' TERM; echo started; exec sleep 30", { timeoutMs: 300 }));
    expect(r).toMatchObject({ timedOut: true, signal: 'SIGKILL', exitCode: undefined });
    expect(r.stdout.toString()).toBe('started\n');
    expect(succeeded(r)).toBe(false);
  });

  it('output over maxOutputBytes kills the child and names the stream, kept up to the cap', async () => {
    const out = await run(sh('head -c 100000 /dev/zero; sleep 30', { maxOutputBytes: 1000 }));
    expect(out).toMatchObject({ overflowed: 'stdout', timedOut: false });
    expect(out.stdout.length).toBe(1000);
    const err = await run(sh('head -c 5000 /dev/zero >&2; sleep 30', { maxOutputBytes: 1000 }));
    expect(err).toMatchObject({ overflowed: 'stderr' });
    expect(err.stderr.length).toBe(1000);
    expect(succeeded(err)).toBe(false);
    const within = await run(sh('head -c 1000 /dev/zero', { maxOutputBytes: 1000 }));
    expect(within).toMatchObject({ overflowed: undefined, exitCode: 0 });
  });

  it('a command that is not on PATH could not be started, with the reason', async () => {
    const r = await run({ file: 'bf-no-such-command', args: [], env: { PATH }, cwd, timeoutMs: 20_000 });
    expect(r).toMatchObject({ startError: 'ENOENT', exitCode: undefined });
    expect(succeeded(r)).toBe(false);
  });

  it('output is passed byte for byte, and runs side by side each get their own answer', async () => {
    const bytes = await run(sh("printf '\\377\\000\\303('"));
    expect([...bytes.stdout]).toEqual([0xff, 0x00, 0xc3, 0x28]);
    const many = await Promise.all(Array.from({ length: 12 }, (_, i) => run(sh(`sleep 0.0${i % 3}; echo ${i}`))));
    expect(many.map((r) => r.stdout.toString())).toEqual(Array.from({ length: 12 }, (_, i) => `${i}\n`));
  });
});
