import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REGISTRY, ROOT } from '../../scripts/world/registry.ts';

// A throw-away copy of the shipped registry and the owning files it references, laid out as in the
// project (`<tmp>/config/...`), so a test can break one of them without touching the real ones.

export { REGISTRY };
export const HWLAB_LANES = 'config/hwlab-node-lanes.yaml';
export const AGENTRUN = 'config/agentrun.yaml';
export const SENTINELS = 'config/hwlab-web-probe-sentinel/jd01.yaml';
const FIXTURE_FILES = [REGISTRY, HWLAB_LANES, AGENTRUN, SENTINELS] as const;
export type FixtureFile = (typeof FIXTURE_FILES)[number];

/** The shipped text of one fixture file. */
function shipped(file: FixtureFile): string {
  return readFileSync(join(ROOT, file), 'utf8');
}

/** One text edit: replace the `nth` (0-based, default 0) occurrence of `from` in `file`. */
export interface Edit {
  readonly file?: FixtureFile;
  readonly from: string | RegExp;
  readonly to: string;
  readonly nth?: number;
}

/** Replaces one occurrence, failing loudly when it is not there (so a stale fixture never passes). */
function replaceNth(text: string, from: string | RegExp, to: string, nth = 0): string {
  if (from instanceof RegExp) {
    if (!from.test(text)) throw new Error(`fixture edit: ${String(from)} matches nothing`);
    return text.replace(from, to);
  }
  let at = -1;
  for (let i = 0; i <= nth; i++) {
    at = text.indexOf(from, at + 1);
    if (at < 0) throw new Error(`fixture edit: occurrence ${nth} of ${JSON.stringify(from)} not found`);
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** 1-based line and column where `marker` starts in `text`; the marker must occur exactly once. */
export function positionOf(text: string, marker: string): { line: number; column: number } {
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`marker ${JSON.stringify(marker)} not found`);
  if (text.indexOf(marker, at + 1) >= 0) throw new Error(`marker ${JSON.stringify(marker)} is not unique`);
  const before = text.slice(0, at).split('\n');
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}

const made: string[] = [];

/** A temp project holding the fixture files after `edits`; returns its root and the final texts. */
export function makeFixture(edits: readonly Edit[] = []): { root: string; texts: Record<FixtureFile, string> } {
  const texts = Object.fromEntries(FIXTURE_FILES.map((f) => [f, shipped(f)])) as Record<FixtureFile, string>;
  for (const e of edits) {
    const file = e.file ?? REGISTRY;
    texts[file] = replaceNth(texts[file], e.from, e.to, e.nth);
  }
  const root = mkdtempSync(join(tmpdir(), 'registry-malformed-'));
  made.push(root);
  for (const f of FIXTURE_FILES) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), texts[f]);
  }
  return { root, texts };
}

/** Removes every temp project made so far (call from afterAll). */
export function removeFixtures(): void {
  for (const root of made.splice(0)) rmSync(root, { recursive: true, force: true });
}
