import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadRegistry } from '../../core/config/load.ts';
import { NO_LITERALS, REDACTED, redactSecrets, secretLiterals } from '../../runner/adapters/redact.ts';
import { MemoryWorld, shaOf } from '../../runner/memory/world.ts';
import type { PassPorts } from '../../runner/ports.ts';
import { runRedactedPass } from '../../runner/redacted-pass.ts';
import { mountedSecretLiterals } from '../../runner/secret-literals.ts';

// The pass redacted at its edges: whatever path a secret value takes through the pass (here an
// in-memory adapter that does not redact at all), the state records, the Events, the progress
// lines, the result and the pass's error hold nothing of it.

const ROOT = join(import.meta.dirname, '../..');
const loaded = loadRegistry(join(ROOT, 'config/cicd-branch-followers.yaml'), ROOT);
const f = loaded.registry.followers.find((x) => x.id === 'hwlab-jd01-v03')!;
const { privateKey: KEY } = generateKeyPairSync('ed25519', {
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const LINE = KEY.split('\n')[1]!;
const literals = secretLiterals([KEY]);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function world() {
  const clock = { now: () => Date.parse('2026-01-01T00:00:00.000Z'), sleep: async () => {} };
  const w = new MemoryWorld(loaded, clock.now);
  w.mirror.push(f.source.mirror, f.source.branch, shaOf('tip'));
  return { w, ports: w.ports(clock) };
}

const opts = (progress: string[]) => ({
  followers: [f],
  dryRun: false,
  wait: false,
  identity: 'pass-a',
  shard: 0,
  progress: (l: string) => progress.push(l),
});

describe('a pass redacted at its edges', () => {
  it('writes no state, Event, progress line or result that holds a mounted Secret value', async () => {
    const { w, ports } = world();
    const leaky: PassPorts = {
      ...ports,
      adapters: {
        status: async () => ({ error: `status failed: key ${LINE}`, tail: `stderr ${KEY}` }),
        trigger: ports.adapters.trigger,
      },
    };
    const progress: string[] = [];
    const result = await runRedactedPass(leaky, loaded, opts(progress), literals);
    const everything = [
      JSON.stringify(w.state.value),
      JSON.stringify(w.events.created),
      progress.join('\n'),
      JSON.stringify(result),
    ].join('\n');
    expect(everything).toContain(`status failed: key ${REDACTED}`);
    expect(everything).not.toContain(LINE);
    // Without the literals the line has no shape a pattern knows: it would have come out.
    expect(redactSecrets(`key ${LINE}`, NO_LITERALS)).toContain(LINE);
  });

  it('redacts the error a pass ends with, message and stack', async () => {
    const { ports } = world();
    const failing: PassPorts = {
      ...ports,
      state: { ...ports.state, read: () => Promise.reject(new Error(`cannot read state: ${LINE}`)) },
    };
    const err = await runRedactedPass(failing, loaded, opts([]), literals).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe(`cannot read state: ${REDACTED}`);
    expect(err?.stack).not.toContain(LINE);
  });
});

describe('the mounted Secret values a pass knows', () => {
  function mounts(files: { identity?: string; knownHosts?: string }) {
    const sshRoot = mkdtempSync(join(tmpdir(), 'bf-literals-'));
    dirs.push(sshRoot);
    const s = loaded.registry.controller.source.githubSsh;
    if (files.identity !== undefined) {
      mkdirSync(join(sshRoot, 'identity'));
      writeFileSync(join(sshRoot, 'identity', s.identity.key), files.identity);
    }
    if (files.knownHosts !== undefined) {
      mkdirSync(join(sshRoot, 'known-hosts'));
      writeFileSync(join(sshRoot, 'known-hosts', s.knownHosts.key), files.knownHosts);
    }
    return { mirrorRoot: sshRoot, sshRoot };
  }

  it('are the githubSsh identity, read from its mount; the public known_hosts lines are not', () => {
    const host = 'ssh.github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
    const found = mountedSecretLiterals(loaded, mounts({ identity: KEY, knownHosts: `${host}\n` }));
    expect([...found]).toEqual([...literals]);
    expect(redactSecrets(`${LINE} ${host}`, found)).toBe(`${REDACTED} ${host}`);
  });

  it('are none where the identity is not mounted', () => {
    expect([...mountedSecretLiterals(loaded, mounts({}))]).toEqual([]);
  });
});
