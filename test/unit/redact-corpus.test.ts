import { generateKeyPairSync } from 'node:crypto';
import { dirname } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { loadRegistry } from '../../core/config/load.ts';
import { staticValues } from '../../core/config/template-values.ts';
import { NO_LITERALS, redactSecrets, redactStrings, secretLiterals } from '../../runner/adapters/redact.ts';
import { readStatus } from '../../runner/adapters/run-adapter.ts';
import { makeFakeControlPlane } from '../../scripts/world/fake-control-plane-harness.ts';
import { REGISTRY, ROOT } from '../../scripts/world/registry.ts';
import { leaksIn, plantedCorpus, secretValueCases } from '../helpers/redaction-corpus.ts';

// The corpus of planted secrets (test/helpers/redaction-corpus.ts), with the literal value of a
// mounted key among them, searched for after every path it can take through one adapter command:
// raw stdout or stderr, a string nested inside the status JSON, and the error a failing command
// raises. Not one byte of a planted value may come out.

const { privateKey: KEY } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const literals = secretLiterals([KEY]);
const CASES = [...secretValueCases(KEY, ''), ...plantedCorpus('')];

const loaded = loadRegistry(REGISTRY, ROOT);
const fake = makeFakeControlPlane();
const PATH = [fake.binDir, dirname(process.execPath), process.env.PATH ?? ''].join(':');
const f = loaded.registry.followers.find((x) => x.id === 'hwlab-jd01-v03')!;
const adapter = loaded.registry.adapters.find((a) => a.id === f.adapter)!;
const SHA = '0123456789abcdef0123456789abcdef01234567';
const values = staticValues(f, loaded.targets.get(f.id)!);
values.set('sha', SHA);
values.set('snapshotRef', `refs/unidesk/snapshots/${f.adapter}/${f.source.branch}/${SHA}`);
const lane = String(loaded.targets.get(f.id)?.lane);

afterAll(() => fake.remove());
beforeEach(() => fake.reset());

/** Everything an outcome carries, as any output format or log would show it. */
const everything = (x: unknown) =>
  `${JSON.stringify(x)}\n${inspect(x, { depth: 20, showHidden: true, maxArrayLength: null, maxStringLength: null })}`;

const shown = (what: string, text: string) => leaksIn(CASES, new Map([[what, text]]));

describe('a corpus of planted secrets', () => {
  it(`holds ${CASES.length} shapes, each with a value of its own`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
    const planted = plantedCorpus('').flatMap((c) => c.planted);
    expect(new Set(planted).size).toBe(planted.length);
  });

  it.each(CASES)('leaves nothing of the value in raw output: $name', (c) => {
    expect(leaksIn([c], new Map([['raw', redactSecrets(c.text, literals)]]))).toEqual([]);
  });

  it.each(CASES)('leaves nothing of it nested in a JSON string, once the answer is parsed: $name', (c) => {
    const raw = redactSecrets(JSON.stringify({ run: { message: c.text } }), literals);
    expect(leaksIn([c], new Map([['parsed', everything(redactStrings(JSON.parse(raw), literals))]]))).toEqual([]);
  });

  it("catches a key's lines without its armour only by the key's literal value", () => {
    const [body, line] = secretValueCases(KEY, '');
    for (const c of [body!, line!]) {
      expect(leaksIn([c], new Map([['patterns only', redactSecrets(c.text, NO_LITERALS)]]))).not.toEqual([]);
      expect(redactSecrets(c.text, literals)).toContain(`[${c.marker}]`);
    }
  });

  it('leaves nothing of any of them in the status a real adapter process printed', async () => {
    const message = CASES.map((c) => c.text).join('\n');
    fake.configure({
      lanes: { [lane]: { statusPatch: { run: { name: 'run-1', sha: SHA, phase: 'Failed', message } } } },
    });
    const status = await readStatus({ adapter, followerId: f.id, values, env: { PATH }, literals });
    expect(status.run?.message).toContain('[REDACTED]');
    expect(shown('status', everything(status))).toEqual([]);
  });

  it('leaves nothing of any of them in the error of a failing command, its stderr tail or its cause', async () => {
    const leak = CASES.map((c) => c.text).join('\n');
    fake.configure({ lanes: { [lane]: { statusExit: 3, leak } } });
    const err = await readStatus({ adapter, followerId: f.id, values, env: { PATH }, literals }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const text = `${(err as Error).message}\n${everything(err)}`;
    expect(text).toContain('[REDACTED]');
    expect(shown('error', text)).toEqual([]);
  });
});
