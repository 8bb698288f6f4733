import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { ControllerChart } from '../../constructs/controller-chart.ts';
import { REGISTRY_PART_BYTES, registryPartRefs, splitRegistryText } from '../../constructs/registry-parts.ts';
import { ASSEMBLE_REGISTRY } from '../../constructs/runner-pod.ts';
import type { LoadedRegistry } from '../../core/config/load.ts';
import { controllerChartPropsOf } from '../../synth/props.ts';
import { shippedRegistry } from '../../scripts/world/registry.ts';

type Obj = { kind: string; metadata: { name: string }; data?: Record<string, string>; [k: string]: any };

const KIB_512 = 512 * 1024;

// The shipped registry's text with `n` followers: follower i is a copy of shipped entry i mod 3, under
// its own id and branch. Only the text is generated; the chart is built from the shipped registry's
// props with this text, which is all the registry ConfigMaps and the pod take from it.
function registryTextOf(text: string, n: number): string {
  const at = text.indexOf('\nfollowers:\n');
  const head = text.slice(0, at + '\nfollowers:\n'.length);
  const entries = text
    .slice(head.length)
    .replace(/\n+$/, '\n')
    .split(/\n(?= {2}- id: )/)
    .map((e) => `${e.replace(/\n+$/, '')}\n`);
  expect(entries).toHaveLength(3);
  const copies = Array.from({ length: n }, (_, i) =>
    entries[i % entries.length]!.replace(/^( {2}- id: )(\S+)/, `$1$2-${i}`).replace(
      /(branch: )([^,}\s]+)/,
      `$1$2-gen-${i}`,
    ),
  );
  return head + copies.join('\n');
}

function synth(loaded: LoadedRegistry, text: string, shards: number): Obj[] {
  const c = loaded.registry.controller;
  const props = controllerChartPropsOf({
    ...loaded,
    text,
    registry: {
      ...loaded.registry,
      controller: { ...c, pass: { ...c.pass, shards }, state: { ...c.state, objects: shards } },
    },
  });
  return Testing.synth(new ControllerChart(Testing.app(), 'test', props)) as Obj[];
}

/** Runs the pod's assemble-registry program here, on part files laid out as the projected volume shows them. */
function assemble(parts: readonly { key: string; text: string }[], sha256: string) {
  const dir = mkdtempSync(join(tmpdir(), 'bf-assemble-'));
  mkdirSync(join(dir, 'parts'));
  for (const p of parts) writeFileSync(join(dir, 'parts', p.key), p.text);
  const target = join(dir, 'registry.yaml');
  const r = spawnSync(
    process.execPath,
    ['-e', ASSEMBLE_REGISTRY, target, sha256, ...parts.map((p) => join(dir, 'parts', p.key))],
    { encoding: 'utf8' },
  );
  return { ...r, target };
}

describe('the registry in parts', () => {
  it('keeps a registry that fits in one ConfigMap as it always was: one part, the unsuffixed name', () => {
    const { text } = shippedRegistry();
    expect(splitRegistryText(text)).toEqual([text]);
    expect(registryPartRefs('reg', 'r.yaml', 1)).toEqual([{ configMapName: 'reg', key: 'r.yaml' }]);
    expect(registryPartRefs('reg', 'r.yaml', 2)).toEqual([
      { configMapName: 'reg-0', key: 'r.yaml.part-000' },
      { configMapName: 'reg-1', key: 'r.yaml.part-001' },
    ]);
  });

  it('cuts only at line boundaries, weighs lines as JSON escapes them, and gives the exact text back', () => {
    // GIVEN lines heavy with quotes (each weighs twice in JSON) and a last line without "\n"
    const text = `${'"q"\n'.repeat(50)}tail`;
    const parts = splitRegistryText(text, 64);
    expect(parts.join('')).toBe(text);
    for (const p of parts) {
      expect(Buffer.byteLength(JSON.stringify(p)) - 2).toBeLessThanOrEqual(64);
      expect(p.endsWith('\n') || p === parts.at(-1)).toBe(true);
    }
    expect(parts.length).toBeGreaterThan(Math.ceil(Buffer.byteLength(text) / 64));
    expect(() => splitRegistryText(`short\n${'x'.repeat(100)}\n`, 64)).toThrow(
      'the registry has a line of 102 bytes (as JSON counts them): more than a registry ConfigMap part holds (64)',
    );
  });

  it('synthesizes a registry of 10,000 followers with no object over 512 KiB, and the pod rebuilds the exact file', () => {
    const loaded = shippedRegistry();
    const text = registryTextOf(loaded.text, 10_000);
    expect(Buffer.byteLength(text)).toBeGreaterThan(5 * 1024 * 1024);
    const objs = synth(loaded, text, 16);

    // every object, as JSON (what the API server receives; etcd's protobuf is smaller), is at most 512 KiB
    for (const o of objs)
      expect(Buffer.byteLength(JSON.stringify(o)), `${o.kind}/${o.metadata.name}`).toBeLessThanOrEqual(KIB_512);

    // the registry ConfigMaps are the parts, in order, each one key of plain text, and give the file back
    const maps = objs.filter((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('branch-follower-registry'));
    expect(maps.length).toBeGreaterThan(Buffer.byteLength(text) / REGISTRY_PART_BYTES);
    expect(maps.map((m) => m.metadata.name)).toEqual(maps.map((_, k) => `branch-follower-registry-${k}`));
    const parts = maps.map((m) => {
      expect(Object.keys(m).sort()).toEqual(['apiVersion', 'data', 'kind', 'metadata']);
      const [[key, value]] = Object.entries(m.data!) as [[string, string]];
      return { key, text: value };
    });
    expect(parts.map((p) => p.text).join('')).toBe(text);
    expect(objs.filter((o) => o.kind === 'ConfigMap' && o.metadata.name === 'branch-follower-registry')).toEqual([]);

    // the pod's init container names the same parts, in the same order, and the file's SHA-256
    const cronJob = objs.find((o) => o.kind === 'CronJob')!;
    const pod = cronJob.spec.jobTemplate.spec.template.spec;
    const [, step] = pod.initContainers;
    expect(step.name).toBe('assemble-registry');
    const sha256 = createHash('sha256').update(text).digest('hex');
    const partsDir = step.volumeMounts.find((m: any) => m.name === 'registry-parts').mountPath;
    expect(step.command.slice(3)).toEqual([
      '/opt/branch-follower/checkout/config/cicd-branch-followers.yaml',
      sha256,
      ...parts.map((p) => posix.join(partsDir, p.key)),
    ]);
    const sources = pod.volumes.find((v: any) => v.name === 'registry-parts').projected.sources;
    expect(sources.map((s: any) => s.configMap.name)).toEqual(maps.map((m) => m.metadata.name));

    // WHEN the pod's program runs on the parts THEN the file is the registry, byte for byte
    const ok = assemble(parts, sha256);
    expect(ok.status, ok.stderr).toBe(0);
    expect(readFileSync(ok.target)).toEqual(Buffer.from(text));
    expect(ok.stdout).toContain(`from ${parts.length} parts, ${Buffer.byteLength(text)} bytes, sha256 ${sha256}`);
  });

  it('the pod refuses parts that are not the synthesized registry (a part from another apply), writing nothing', () => {
    const loaded = shippedRegistry();
    const text = registryTextOf(loaded.text, 1_000);
    const parts = splitRegistryText(text).map((t, k) => ({ key: `p${k}`, text: t }));
    expect(parts.length).toBeGreaterThan(1);
    const sha256 = createHash('sha256').update(text).digest('hex');
    // GIVEN part 1 from an older registry (one follower fewer) WHEN put together THEN exit 1, named, no file
    const stale = parts.map((p, k) => (k === 1 ? { ...p, text: p.text.replace(/\n {2}- id: [\s\S]*?\n\n/, '\n') } : p));
    const r = assemble(stale, sha256);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`registry parts give sha256`);
    expect(r.stderr).toContain(`not the synthesized ${sha256}: a part ConfigMap is from another apply`);
    expect(existsSync(r.target)).toBe(false);
    // the untouched parts do give the file
    expect(stale[1]!.text).not.toBe(parts[1]!.text);
    expect(assemble(parts, sha256).status).toBe(0);
  });
});
