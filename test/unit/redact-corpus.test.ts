import { dirname } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { loadRegistry } from '../../core/config/load.ts';
import { staticValues } from '../../core/config/template-values.ts';
import { redactSecrets, redactStrings } from '../../runner/adapters/redact.ts';
import { readStatus } from '../../runner/adapters/run-adapter.ts';
import { makeFakeControlPlane } from '../../scripts/world/fake-control-plane-harness.ts';
import { REGISTRY, ROOT } from '../../scripts/world/registry.ts';

// A corpus of planted secrets in the shapes adapters print them: JSON and YAML key-values of every
// secret-like key, in any case, quoted or not, on the next line, URL-encoded; argv pairs; auth
// headers; credentials in URLs; PEM blocks; GitHub tokens. Each is searched for after every path
// it can take: raw stdout or stderr, a string nested inside the status JSON, and the error a
// failing command raises. Not one byte of a planted value may come out.

const v = (i: number) => `PLANTED${i}x7Qm2Zr`;
const GH = 'ghp_PLANTEDghTOKEN0123456789abcdefghijklmn';
const PAT = 'github_pat_PLANTEDpat0123456789_abcdefghijklmnop';
const SHAPES: readonly ((value: string) => string)[] = [
  (x) => `{"password": "${x}"}`,
  (x) => `{'password': '${x}'}`,
  (x) => `password: ${x}`,
  (x) => `password:\n  ${x}`,
  (x) => `PASSWORD=${x}`,
  (x) => `Password = "${x}"`,
  (x) => `passwd=${x}`,
  (x) => `db_password=${x}`,
  (x) => `"secret":"${x}"`,
  (x) => `client_secret: ${x}`,
  (x) => `SECRET_KEY='${x}'`,
  (x) => `token=${x}`,
  (x) => `"token": "${x}"`,
  (x) => `x-auth-token: ${x}`,
  (x) => `- token: ${x}`,
  (x) => `api_key=${x}`,
  (x) => `apiKey: ${x}`,
  (x) => `API-KEY="${x}"`,
  (x) => `{"api_key":"${x}"}`,
  (x) => `authorization: token ${x}`,
  (x) => `Authorization: Bearer ${x}`,
  (x) => `"authorization": "Basic ${x}"`,
  (x) => `bearer ${x}`,
  (x) => `passphrase=${x}`,
  (x) => `"passphrase": "${x}"`,
  (x) => `credentials: ${x}`,
  (x) => `"credentials":"${x}"`,
  (x) => `credential=${x}`,
  (x) => `private_key=${x}`,
  (x) => `privateKey: ${x}`,
  (x) => `"private-key": "${x}"`,
  (x) => `access_key=${x}`,
  (x) => `--token ${x}`,
  (x) => `--password=${x}`,
  (x) => `--api-key ${x}`,
  (x) => `-password ${x}`,
  (x) => `https://ci.example/cb?token%3D${x}&next=1`,
  (x) => `form: user=bot&password%3A${x}`,
  (x) => `https://deploy:${x}@git.example/repo.git`,
  (x) => `-----BEGIN OPENSSH PRIVATE KEY-----\n${x}\n-----END OPENSSH PRIVATE KEY-----`,
  (x) => `-----BEGIN RSA PRIVATE KEY-----\n${x}`,
  (x) => `{"nested": {"deeper": {"password": "${x}"}}}`,
  (x) => `secret = ${x};`,
];
const CASES = [
  ...SHAPES.map((shape, i) => ({ planted: v(i), text: shape(v(i)) })),
  { planted: GH, text: `pushed with ${GH}` },
  { planted: PAT, text: `GITHUB_TOKEN ${PAT}` },
];

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

describe('a corpus of planted secrets', () => {
  it(`holds ${CASES.length} shapes, each with a value of its own`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
    expect(new Set(CASES.map((c) => c.planted)).size).toBe(CASES.length);
  });

  it.each(CASES)('leaves nothing of the value in raw output: $text', ({ planted, text }) => {
    expect(redactSecrets(text)).not.toContain(planted);
  });

  it.each(CASES)(
    'leaves nothing of it nested in a JSON string, once the answer is parsed: $text',
    ({ planted, text }) => {
      const raw = redactSecrets(JSON.stringify({ run: { message: text } }));
      expect(everything(redactStrings(JSON.parse(raw)))).not.toContain(planted);
    },
  );

  it('leaves nothing of any of them in the status a real adapter process printed', async () => {
    const message = CASES.map((c) => c.text).join('\n');
    fake.configure({
      lanes: { [lane]: { statusPatch: { run: { name: 'run-1', sha: SHA, phase: 'Failed', message } } } },
    });
    const status = await readStatus({ adapter, followerId: f.id, values, env: { PATH } });
    expect(status.run?.message).toContain('[REDACTED]');
    const shown = everything(status);
    expect(CASES.filter((c) => shown.includes(c.planted)).map((c) => c.text)).toEqual([]);
  });

  it('leaves nothing of any of them in the error of a failing command, its stderr tail or its cause', async () => {
    const leak = CASES.map((c) => c.text).join('\n');
    fake.configure({ lanes: { [lane]: { statusExit: 3, leak } } });
    const err = await readStatus({ adapter, followerId: f.id, values, env: { PATH } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    const shown = `${(err as Error).message}\n${everything(err)}`;
    expect(shown).toContain('[REDACTED]');
    expect(CASES.filter((c) => shown.includes(c.planted)).map((c) => c.text)).toEqual([]);
  });
});
