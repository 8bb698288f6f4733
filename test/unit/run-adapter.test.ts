import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { NO_LITERALS } from '../../runner/adapters/redact.ts';
import { AdapterError, readStatus, runAdapterCommand, trigger } from '../../runner/adapters/run-adapter.ts';
import { loadRegistry } from '../../core/config/load.ts';
import { renderArgv } from '../../core/config/placeholders.ts';
import type { AdapterConfig, FollowerConfig } from '../../core/config/schema.ts';
import { staticValues } from '../../core/config/template-values.ts';
import { ExitCode, exitCodeOf } from '../../src/cli/exit-codes.ts';
import { makeFakeControlPlane, type LaneConfig } from '../../scripts/world/fake-control-plane-harness.ts';
import { REGISTRY, ROOT } from '../../scripts/world/registry.ts';

// The adapter runner against real processes: the fake control plane stands in for the UniDesk CLIs.

const loaded = loadRegistry(REGISTRY, ROOT);
const fake = makeFakeControlPlane();
// The fake is a Node 22 script (`#!/usr/bin/env node`): put this Node first after the fake's bin.
const PATH = [fake.binDir, dirname(process.execPath), process.env.PATH ?? ''].join(':');
const SHA = '0123456789abcdef0123456789abcdef01234567';
const OTHER_SHA = 'fedcba9876543210fedcba9876543210fedcba98';
const PLANTED_TOKEN = 'PLANTED-abc123';
const PLANTED_KEY = 'PLANTEDKEYMATERIALb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ';
const PLANTED_LEAK = [
  `token=${PLANTED_TOKEN}`,
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  PLANTED_KEY,
  '-----END OPENSSH PRIVATE KEY-----',
].join('\n');

afterAll(() => fake.remove());
beforeEach(() => fake.reset());

function follower(id: string): FollowerConfig {
  const f = loaded.registry.followers.find((x) => x.id === id);
  if (!f) throw new Error(`no follower ${id} in the shipped registry`);
  return f;
}

function adapterOf(f: FollowerConfig): AdapterConfig {
  const a = loaded.registry.adapters.find((x) => x.id === f.adapter);
  if (!a) throw new Error(`no adapter ${f.adapter}`);
  return a;
}

/** The placeholder values a pass would have for one follower acting on `sha`. */
function valuesFor(f: FollowerConfig, sha = SHA): Map<string, string> {
  const target = loaded.targets.get(f.id);
  if (!target) throw new Error(`no target for ${f.id}`);
  const values = staticValues(f, target);
  values.set('sha', sha);
  values.set('snapshotRef', `refs/branch-follower/snapshots/${f.id}/${sha}`);
  return values;
}

/** Options for the runner for one shipped follower, optionally with a modified adapter. */
function optionsFor(id: string, patch: Partial<AdapterConfig> = {}, sha = SHA) {
  const f = follower(id);
  return {
    adapter: { ...adapterOf(f), ...patch },
    followerId: f.id,
    values: valuesFor(f, sha),
    env: { PATH },
    literals: NO_LITERALS,
  };
}

function laneOf(id: string): string {
  return String(loaded.targets.get(id)?.lane);
}

function configureLane(id: string, cfg: LaneConfig): void {
  fake.configure({ lanes: { [laneOf(id)]: cfg } });
}

/** Runs `fn`, expecting an AdapterError, and returns it. */
async function adapterError(fn: () => Promise<unknown>): Promise<AdapterError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof AdapterError) return e;
    throw e;
  }
  throw new Error('expected an AdapterError, got success');
}

const SHIPPED = [
  { id: 'hwlab-jd01-v03', cli: 'hwlab' },
  { id: 'agentrun-jd01-v02', cli: 'agentrun' },
  { id: 'web-probe-sentinel-master', cli: 'web-probe' },
] as const;

describe.each(SHIPPED)('the shipped adapter of $id', ({ id, cli }) => {
  it('renders its status command and parses the control plane status before any run', async () => {
    configureLane(id, { initialTargetSha: OTHER_SHA });
    const status = await readStatus(optionsFor(id));
    expect(status).toEqual({
      targetSha: OTHER_SHA,
      deployedSha: OTHER_SHA,
      run: null,
      mirror: { pendingFlush: false, githubInSync: true },
    });
  });

  it('triggers exactly once, recording the sha and snapshot ref, and the run then shows in status', async () => {
    const f = follower(id);
    const started = await trigger(optionsFor(id));
    expect(started.run.sha).toBe(SHA);
    const records = fake.triggers();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      cli,
      lane: laneOf(id),
      sha: SHA,
      snapshotRef: `refs/branch-follower/snapshots/${f.id}/${SHA}`,
    });
    expect(records[0]?.argv).toEqual(renderArgv(adapterOf(f).commands.trigger, valuesFor(f)));
    const status = await readStatus(optionsFor(id));
    expect(status.run).toEqual({ name: started.run.name, sha: SHA, phase: 'Succeeded' });
    expect(status.targetSha).toBe(SHA);
    expect(status.deployedSha).toBe(SHA);
  });
});

describe('runAdapterCommand', () => {
  it('passes the rendered argv to the program without a shell, element by element', async () => {
    const f = follower('web-probe-sentinel-master');
    const result = await runAdapterCommand({ ...optionsFor(f.id), verb: 'trigger' });
    const target = loaded.targets.get(f.id) ?? {};
    expect(result.argv).toEqual([
      'web-probe',
      'sentinel',
      'publish-current',
      '--node',
      String(target.node),
      '--lane',
      String(target.lane),
      '--sentinel',
      String(target.name),
      '--snapshot-ref',
      `refs/branch-follower/snapshots/${f.id}/${SHA}`,
      '--confirm',
      '--json',
    ]);
    expect(fake.triggers()[0]?.argv).toEqual(result.argv);
    expect(result.durationMs).toBeGreaterThan(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ run: { sha: SHA } });
  });

  it('runs each command in a fresh empty directory of its own, removed afterwards, with only PATH, HOME and LANG', async () => {
    process.env.BF_TEST_CANARY = 'x';
    // Something another process left in the shared temp dir: no command may see it.
    const stray = mkdtempSync(join(tmpdir(), 'bf-stray-'));
    try {
      const adapter = {
        ...adapterOf(follower('hwlab-jd01-v03')),
        commands: { status: ['hwlab', 'env-dump'], trigger: ['hwlab', 'env-dump'] },
      };
      const opts = {
        adapter,
        followerId: 'hwlab-jd01-v03',
        values: new Map<string, string>(),
        env: { PATH },
        literals: NO_LITERALS,
      };
      const run = async () =>
        JSON.parse((await runAdapterCommand({ ...opts, verb: 'status' })).stdout) as {
          cwd: string;
          entries: string[];
          env: Record<string, string>;
        };
      const [dump, second] = [await run(), await run()];
      expect(dump.entries).toEqual([]);
      expect(dirname(dump.cwd)).toBe(join(tmpdir(), 'bf-adapter'));
      expect(basename(dump.cwd)).toMatch(new RegExp(`^${process.pid}-`));
      expect(dump.cwd).not.toBe(second.cwd);
      expect(existsSync(dump.cwd)).toBe(false);
      expect(existsSync(second.cwd)).toBe(false);
      expect(realpathSync(process.cwd())).not.toBe(dump.cwd);
      expect(dump.env).toEqual({ PATH, HOME: dump.cwd, LANG: 'C.UTF-8' });
      expect(dump.env).not.toHaveProperty('BF_TEST_CANARY');
      // The same output through the contract is not a status.
      const error = await adapterError(() => readStatus(opts));
      expect(error.reason).toBe('AdapterOutput');
    } finally {
      delete process.env.BF_TEST_CANARY;
      rmSync(stray, { recursive: true, force: true });
    }
  });
});

describe('the fake control plane', () => {
  const id = 'agentrun-jd01-v02';

  it('records concurrent triggers as whole lines and numbers their runs without gaps', async () => {
    const shas = ['1', '2', '3', '4', '5', '6'].map((c) => c.repeat(40));
    const runs = await Promise.all(shas.map((sha) => trigger(optionsFor(id, {}, sha))));
    const records = fake.triggers();
    expect(records.map((r) => r.sha).sort()).toEqual(shas);
    expect(runs.map((r) => r.run.name).sort()).toEqual(shas.map((_, i) => `agentrun-${laneOf(id)}-${i + 1}`).sort());
  });

  it('hides a run for lagSeconds, shows it Running for runSeconds, then ends it per outcome', async () => {
    configureLane(id, { lagSeconds: 600, initialTargetSha: OTHER_SHA });
    await trigger(optionsFor(id));
    expect(await readStatus(optionsFor(id))).toMatchObject({ targetSha: OTHER_SHA, deployedSha: OTHER_SHA, run: null });

    configureLane(id, { runSeconds: 600, initialTargetSha: OTHER_SHA });
    expect(await readStatus(optionsFor(id))).toMatchObject({
      targetSha: SHA,
      deployedSha: OTHER_SHA,
      run: { sha: SHA, phase: 'Running' },
    });

    configureLane(id, {
      outcome: 'fail',
      initialTargetSha: OTHER_SHA,
      mirror: { pendingFlush: true, githubInSync: false },
    });
    expect(await readStatus(optionsFor(id))).toMatchObject({
      targetSha: SHA,
      deployedSha: OTHER_SHA,
      run: { sha: SHA, phase: 'Failed' },
      mirror: { pendingFlush: true, githubInSync: false },
    });
  });
});

describe('adapter failures', () => {
  const id = 'hwlab-jd01-v03';
  const adapterId = 'hwlab-node-runtime';
  const statusCommand = () => `hwlab nodes control-plane status --node JD01 --lane ${laneOf(id)} --sha ${SHA} --json`;

  /** The message names the adapter, the follower and the exact command. */
  function expectNamed(error: AdapterError, command = statusCommand()): void {
    expect(error).toBeInstanceOf(AdapterError);
    expect(exitCodeOf(error)).toBe(ExitCode.Failed);
    expect(error.adapterId).toBe(adapterId);
    expect(error.followerId).toBe(id);
    expect(error.argv0).toBe('hwlab');
    expect(error.message).toContain(`adapter ${adapterId}`);
    expect(error.message).toContain(`follower ${id}`);
    expect(error.message).toContain(`\`${command}\``);
  }

  it('a non-zero exit is AdapterFailed, naming the exit code and quoting stderr', async () => {
    configureLane(id, { statusExit: 3 });
    const error = await adapterError(() => readStatus(optionsFor(id)));
    expectNamed(error);
    expect(error.reason).toBe('AdapterFailed');
    expect(error.retryable).toBe(true);
    expect(error.childExitCode).toBe(3);
    expect(error.message).toContain('exited with code 3');
    expect(error.message).toContain(`cannot read lane ${laneOf(id)} (configured statusExit)`);
    expect(error.stderrTail).toContain('configured statusExit');
    // Nothing unredacted rides along: the error keeps no cause holding the child's whole output.
    expect(error.cause).toBeUndefined();
  });

  it('a refused trigger is AdapterFailed and records no trigger', async () => {
    configureLane(id, { triggerExit: 1 });
    const error = await adapterError(() => trigger(optionsFor(id)));
    expect(error.reason).toBe('AdapterFailed');
    expect(error.verb).toBe('trigger');
    expect(error.message).toContain('trigger command `hwlab nodes control-plane trigger-current');
    expect(error.message).toContain('exited with code 1');
    expect(fake.triggers()).toEqual([]);
  });

  it('a command still running after timeoutSeconds is killed and is AdapterTimeout', async () => {
    configureLane(id, { statusHangSeconds: 30 });
    const started = Date.now();
    const error = await adapterError(() => readStatus(optionsFor(id, { timeoutSeconds: 1 })));
    expect(Date.now() - started).toBeLessThan(10_000);
    expectNamed(error);
    expect(error.reason).toBe('AdapterTimeout');
    expect(error.retryable).toBe(true);
    expect(error.childExitCode).toBeUndefined();
    expect(error.message).toContain('timed out after 1s');
  });

  it('output over maxOutputBytes is AdapterOutput, naming the limit and the stream', async () => {
    const error = await adapterError(() => readStatus(optionsFor(id, { maxOutputBytes: 40 })));
    expectNamed(error);
    expect(error.reason).toBe('AdapterOutput');
    expect(error.message).toContain('printed more than maxOutputBytes (40 bytes) on stdout');
  });

  it('output that is not JSON is AdapterOutput, saying so', async () => {
    configureLane(id, { statusGarbage: true });
    const error = await adapterError(() => readStatus(optionsFor(id)));
    expectNamed(error);
    expect(error.reason).toBe('AdapterOutput');
    expect(error.retryable).toBe(false);
    expect(error.childExitCode).toBe(0);
    expect(error.message).toContain('printed output that is not valid JSON');
  });

  it('a status off the contract is AdapterOutput naming the first bad field', async () => {
    configureLane(id, { statusPatch: { deployedSha: 'abc' } });
    const bad = await adapterError(() => readStatus(optionsFor(id)));
    expectNamed(bad);
    expect(bad.reason).toBe('AdapterOutput');
    expect(bad.message).toContain(
      'does not match the adapter contract: field deployedSha: must be a full 40-character sha',
    );

    configureLane(id, { statusPatch: { run: { name: 'r-1', sha: SHA, phase: 'Exploded' } } });
    const phase = await adapterError(() => readStatus(optionsFor(id)));
    expect(phase.message).toContain('field run.phase');

    configureLane(id, { statusPatch: { mirror: { pendingFlush: 'no' } } });
    const mirror = await adapterError(() => readStatus(optionsFor(id)));
    expect(mirror.message).toContain('field mirror.pendingFlush');
    expect(mirror.message).toContain('(and 1 more problem)');
  });

  it('a trigger output off the contract is AdapterOutput naming the field', async () => {
    configureLane(id, { triggerPatch: { run: { name: '', sha: SHA } } });
    const error = await adapterError(() => trigger(optionsFor(id)));
    expect(error.reason).toBe('AdapterOutput');
    expect(error.message).toContain('field run.name');
  });

  it('a program missing from PATH is AdapterFailed and not retryable', async () => {
    const adapter = {
      ...adapterOf(follower(id)),
      commands: { status: ['no-such-control-plane-cli'], trigger: ['no-such-control-plane-cli'] },
    };
    const error = await adapterError(() =>
      readStatus({ adapter, followerId: id, values: new Map(), env: { PATH }, literals: NO_LITERALS }),
    );
    expect(error.reason).toBe('AdapterFailed');
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('could not be started (ENOENT)');
  });
});

describe('secrets in adapter output', () => {
  const id = 'agentrun-jd01-v02';

  /** Every string the caller can reach: the value itself, deeply inspected, cause chain included. */
  function expectClean(value: unknown): void {
    const everything = `${inspect(value, { depth: 20, showHidden: true, maxArrayLength: null, maxStringLength: null })}\n${
      value instanceof Error ? `${value.message}\n${value.stack ?? ''}` : JSON.stringify(value)
    }`;
    const bytes = Buffer.from(everything);
    for (const planted of [PLANTED_TOKEN, PLANTED_KEY, 'BEGIN OPENSSH PRIVATE KEY']) {
      expect(bytes.includes(Buffer.from(planted)), `${planted} leaked`).toBe(false);
    }
  }

  it('never returns a planted secret from stdout or stderr, and drops fields outside the contract', async () => {
    configureLane(id, { leak: PLANTED_LEAK });
    const raw = await runAdapterCommand({ ...optionsFor(id), verb: 'status' });
    expectClean(raw);
    expect(raw.stdout).toContain('[REDACTED]');
    expect(raw.stderrTail).toContain('token=[REDACTED]');
    const status = await readStatus(optionsFor(id));
    expectClean(status);
    expect(status).not.toHaveProperty('leak');
  });

  it('never puts a planted secret in an error, its stderr tail or its cause', async () => {
    configureLane(id, { leak: PLANTED_LEAK, statusExit: 4 });
    const failed = await adapterError(() => readStatus(optionsFor(id)));
    expect(failed.reason).toBe('AdapterFailed');
    expect(failed.message).toContain('token=[REDACTED]');
    expectClean(failed);

    configureLane(id, { leak: PLANTED_LEAK, statusGarbage: true });
    const garbage = await adapterError(() => readStatus(optionsFor(id)));
    expect(garbage.reason).toBe('AdapterOutput');
    expectClean(garbage);

    configureLane(id, { leak: PLANTED_LEAK, statusHangSeconds: 30 });
    const timedOut = await adapterError(() => readStatus(optionsFor(id, { timeoutSeconds: 1 })));
    expect(timedOut.reason).toBe('AdapterTimeout');
    expect(timedOut.message).toContain('token=[REDACTED]');
    expectClean(timedOut);

    // Output cut off by maxOutputBytes inside the key block (before its END line) is still redacted.
    configureLane(id, { leak: PLANTED_LEAK });
    const full = JSON.stringify({
      targetSha: null,
      deployedSha: null,
      run: null,
      mirror: { pendingFlush: false, githubInSync: true },
      leak: PLANTED_LEAK,
    });
    const cut = await adapterError(() => readStatus(optionsFor(id, { maxOutputBytes: Buffer.byteLength(full) - 20 })));
    expect(cut.reason).toBe('AdapterOutput');
    expect(cut.message).toContain('maxOutputBytes');
    expectClean(cut);
  });

  it('redacts secret-looking argv elements in the result and in errors', async () => {
    const adapter = {
      ...adapterOf(follower(id)),
      commands: {
        status: ['agentrun', 'env-dump', `--token=${PLANTED_TOKEN}`],
        trigger: ['agentrun', 'nope', `--token=${PLANTED_TOKEN}`],
      },
    };
    const opts = { adapter, followerId: id, values: new Map<string, string>(), env: { PATH }, literals: NO_LITERALS };
    const result = await runAdapterCommand({ ...opts, verb: 'status' });
    expect(result.argv).toEqual(['agentrun', 'env-dump', '--token=[REDACTED]']);
    expectClean(result);
    const error = await adapterError(() => trigger(opts));
    expect(error.reason).toBe('AdapterFailed');
    expect(error.message).toContain('`agentrun nope --token=[REDACTED]`');
    expectClean(error);
  });
});
