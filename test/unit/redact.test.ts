import { describe, expect, it } from 'vitest';
import {
  REDACTED,
  lastLines,
  redactSecrets,
  redactStrings,
  secretLiterals,
  tail,
} from '../../runner/adapters/redact.ts';

const OPENSSH_KEY = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACBPLANTEDKEYMATERIALPLANTEDKEYMATERIALAAAAAAAAAAAAAAAAAAAAA',
  '-----END OPENSSH PRIVATE KEY-----',
].join('\n');
const RSA_KEY = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAplanted\n-----END RSA PRIVATE KEY-----';

describe('redactSecrets', () => {
  it('replaces a whole OpenSSH private key block, keeping the text around it', () => {
    const out = redactSecrets(`loaded key:\n${OPENSSH_KEY}\ndone`);
    expect(out).toBe(`loaded key:\n${REDACTED}\ndone`);
  });

  it('replaces PEM private key blocks of any algorithm, including PKCS#8 and encrypted ones', () => {
    for (const kind of ['RSA ', 'EC ', '', 'ENCRYPTED ']) {
      const block = `-----BEGIN ${kind}PRIVATE KEY-----\nAAAAplanted\n-----END ${kind}PRIVATE KEY-----`;
      expect(redactSecrets(`a ${block} b`)).toBe(`a ${REDACTED} b`);
    }
    expect(redactSecrets(RSA_KEY)).toBe(REDACTED);
  });

  it('replaces a private key block written inside a JSON string (escaped newlines) and keeps the JSON valid', () => {
    const json = JSON.stringify({ note: OPENSSH_KEY });
    const out = redactSecrets(json);
    expect(out).not.toContain('PLANTEDKEYMATERIAL');
    expect(JSON.parse(out)).toEqual({ note: REDACTED });
  });

  it('replaces a private key block cut short by truncated output up to the end', () => {
    const cut = OPENSSH_KEY.slice(0, 120);
    expect(redactSecrets(`before\n${cut}`)).toBe(`before\n${REDACTED}`);
  });

  it('leaves public keys and certificates alone', () => {
    const pub = '-----BEGIN PUBLIC KEY-----\nMFkwEwYH\n-----END PUBLIC KEY-----';
    expect(redactSecrets(pub)).toBe(pub);
  });

  it.each([
    ['ghp_', 'ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'],
    ['gho_', 'gho_abcdefghijklmnopqrstuvwxyz0123'],
    ['ghu_', 'ghu_ABCDEFGHIJKLMNOPQRSTUV'],
    ['ghs_', 'ghs_0123456789abcdefghij'],
    ['ghr_', 'ghr_ZZZZZZZZZZZZZZZZZZZZZZZZ'],
    ['github_pat_', 'github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOP'],
  ])('replaces a GitHub %s token wherever it appears', (_kind, token) => {
    expect(redactSecrets(`push with ${token} now`)).toBe(`push with ${REDACTED} now`);
  });

  it('leaves short gh_-prefixed words alone (not a token)', () => {
    expect(redactSecrets('ghp_short and ghs_ok')).toBe('ghp_short and ghs_ok');
  });

  it('replaces the credential of an Authorization header, keeping the scheme', () => {
    expect(redactSecrets('Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc')).toBe(
      `Authorization: Bearer ${REDACTED}`,
    );
    expect(redactSecrets('authorization: bearer abc.def')).toBe(`authorization: bearer ${REDACTED}`);
    expect(redactSecrets('Authorization: Basic dXNlcjpwYXNz')).toBe(`Authorization: Basic ${REDACTED}`);
    expect(redactSecrets('{"Authorization": "Bearer abc123"}')).toBe(`{"Authorization": "Bearer ${REDACTED}"}`);
  });

  it.each([
    ['password=hunter2', `password=${REDACTED}`],
    ['PASSWD=hunter2', `PASSWD=${REDACTED}`],
    ['client_secret: s3cr3t', `client_secret: ${REDACTED}`],
    ['GITHUB_TOKEN=PLANTED-abc123 next', `GITHUB_TOKEN=${REDACTED} next`],
    ['apiKey=k-123', `apiKey=${REDACTED}`],
    ['api_key = "k 123"', `api_key = "${REDACTED}"`],
    ['api-key: k-123', `api-key: ${REDACTED}`],
    ['private_key=abc', `private_key=${REDACTED}`],
    ['privateKey: abc', `privateKey: ${REDACTED}`],
    ['ACCESS_KEY=AKIAPLANTED', `ACCESS_KEY=${REDACTED}`],
    ['accessKey=AKIAPLANTED', `accessKey=${REDACTED}`],
    ["token='single quoted'", `token='${REDACTED}'`],
    ['https://host/cb?token=abc&state=ok', `https://host/cb?token=${REDACTED}&state=ok`],
    ['--password=abc', `--password=${REDACTED}`],
    ['invalid token: PLANTED-abc123, retry later', `invalid token: ${REDACTED}, retry later`],
  ])('replaces the value of a bare %s pair, keeping the key', (input, expected) => {
    expect(redactSecrets(input)).toBe(expected);
  });

  it('replaces string values of secret keys in JSON and keeps the JSON parseable', () => {
    const input = JSON.stringify({ token: 'PLANTED-abc123', nested: { db_password: 'p"w\\d', ok: 'visible' }, n: 1 });
    const out = redactSecrets(input);
    expect(out).not.toContain('PLANTED');
    expect(out).not.toContain('p\\"w');
    expect(JSON.parse(out)).toEqual({ token: REDACTED, nested: { db_password: REDACTED, ok: 'visible' }, n: 1 });
    expect(redactSecrets(`{\n  "apiKey": "k-1",\n  "secret" : "s"\n}`)).toBe(
      `{\n  "apiKey": "${REDACTED}",\n  "secret" : "${REDACTED}"\n}`,
    );
  });

  it('replaces key=value pairs written inside JSON strings and keeps the JSON parseable', () => {
    const input = JSON.stringify({
      argv: ['hwlab', '--token=PLANTED-abc123'],
      msg: 'login: password="PLANTED pw" failed',
      m2: 'secret=PLANTED\\nnext',
    });
    const out = redactSecrets(input);
    expect(out).not.toContain('PLANTED');
    expect(JSON.parse(out)).toEqual({
      argv: ['hwlab', `--token=${REDACTED}`],
      msg: `login: password="${REDACTED}" failed`,
      m2: `secret=${REDACTED}\\nnext`,
    });
  });

  it('leaves non-string JSON values of secret-looking keys alone so the output stays JSON', () => {
    const input = '{"tokenCount":3,"secretRef":null,"hasPassword":false}';
    expect(redactSecrets(input)).toBe(input);
  });

  it('replaces the password of credentials in a URL, keeping user and host', () => {
    expect(redactSecrets('clone https://user:pass@github.com/o/r.git')).toBe(
      `clone https://user:${REDACTED}@github.com/o/r.git`,
    );
    expect(redactSecrets('git://bot:s3cr%40t@mirror:9418/x')).toBe(`git://bot:${REDACTED}@mirror:9418/x`);
  });

  it('finds every shape however it is cased, alone in a text that holds no other hint of a secret', () => {
    // The shapes are only run on text that holds one of their words: each word, in odd case, must
    // still be enough for its shape to be redacted.
    const alone = [
      ['AuThOrIzAtIoN: BeArEr abcdefgh1234', 'AuThOrIzAtIoN: BeArEr '],
      ['HTTPS://u:pw1234@host/x', 'HTTPS://u:'],
      ['x PaSsWoRd=hunter22 y', 'x PaSsWoRd='],
      ['{"Api_Key": "k-1234"}', '{"Api_Key": "'],
      ['--ACCESS-KEY abc123', '--ACCESS-KEY '],
      ['q?Secret%3Dabc123&x=1', 'q?Secret%3D'],
      ['BEARER abcdefgh1234', 'BEARER '],
    ] as const;
    for (const [text, kept] of alone) {
      const out = redactSecrets(text);
      expect(out, text).toContain(`${kept}`);
      expect(out, text).toContain(REDACTED);
    }
    expect(redactSecrets('ghp_abcdefghijklmnopqrstuvwxyz')).toBe(REDACTED);
  });

  it('is idempotent: redacting twice changes nothing more', () => {
    const input = `token=abc ${OPENSSH_KEY} https://u:p@h ghp_${'x'.repeat(36)} {"password":"p"} Authorization: Bearer z`;
    const once = redactSecrets(input);
    expect(redactSecrets(once)).toBe(once);
  });

  it('leaves ordinary output untouched: shas, plain URLs, refs and a status JSON', () => {
    const sha = '0123456789abcdef0123456789abcdef01234567';
    const ordinary = [
      sha,
      `refs/branch-follower/snapshots/hwlab-jd01-v03/${sha}`,
      'https://github.com/pikasTech/HWLAB.git',
      'git://git-mirror.unidesk-cicd.svc.cluster.local/pikasTech/HWLAB.git',
      'ssh://git@ssh.github.com:443/pikasTech/HWLAB.git',
      'http://egress-proxy.unidesk-system.svc.cluster.local:3128',
      'https://host:8443/path@v1',
      `hwlab nodes control-plane status --node JD01 --lane v03 --sha ${sha} --json`,
      'error: lane v03 not found (exit 3); see `hwlab nodes list`',
      'The bearer of this message is a token of goodwill.',
      JSON.stringify({
        targetSha: sha,
        deployedSha: null,
        run: { name: 'hwlab-v03-1', sha, phase: 'Running', message: 'building' },
        mirror: { pendingFlush: false, githubInSync: true },
      }),
      'ünïcödé ✓ 完成',
    ];
    for (const text of ordinary) expect(redactSecrets(text)).toBe(text);
  });
});

describe('redactSecrets with the literal values of mounted Secret keys', () => {
  const KEY_LINES = OPENSSH_KEY.split('\n').slice(1, -1);
  const literals = secretLiterals([`${OPENSSH_KEY}\n`]);

  it('replaces the whole value and each of its lines wherever they show, with no shape around them', () => {
    expect(redactSecrets(`copy: ${KEY_LINES[1]} done`, literals)).toBe(`copy: ${REDACTED} done`);
    expect(redactSecrets(KEY_LINES.join('\n'), literals)).toBe(`${REDACTED}\n${REDACTED}`);
    expect(redactSecrets(`a ${OPENSSH_KEY} b`, literals)).toBe(`a ${REDACTED} b`);
  });

  it('replaces the value as a JSON string holds it, and keeps the JSON parseable', () => {
    const json = JSON.stringify({ whole: `key ${OPENSSH_KEY} end`, lines: `key ${KEY_LINES.join('\n')} end` });
    const out = redactSecrets(json, literals);
    expect(out).not.toContain(KEY_LINES[0]);
    expect(JSON.parse(out)).toEqual({ whole: `key ${REDACTED} end`, lines: `key ${REDACTED}\n${REDACTED} end` });
  });

  it('redacts every string of a value, Maps included', () => {
    const out = redactStrings(new Map([['a', { detail: `x ${KEY_LINES[0]}`, n: 1, none: null }]]), literals);
    expect(out).toEqual(new Map([['a', { detail: `x ${REDACTED}`, n: 1, none: null }]]));
  });

  it('never takes the armour, a blank line, a short line or a line of one repeated character for a secret', () => {
    const value = [
      '-----BEGIN OPENSSH PRIVATE KEY-----',
      '',
      'short line',
      '=============',
      'AAAAAAAAAAAAAAAAAAAA',
    ].join('\n');
    const some = secretLiterals([`${value}\n-----END OPENSSH PRIVATE KEY-----\n`]);
    expect([...some]).toEqual([
      JSON.stringify(`${value}\n-----END OPENSSH PRIVATE KEY-----`).slice(1, -1),
      `${value}\n-----END OPENSSH PRIVATE KEY-----`,
    ]);
    const ordinary = 'short line\n-----END OPENSSH PRIVATE KEY-----\n=============\n\nAAAAAAAAAAAAAAAAAAAA';
    expect(redactSecrets(ordinary, some)).toBe(ordinary);
  });

  it('puts longer forms first, so a whole value is replaced before the lines inside it', () => {
    const forms = [...literals];
    expect(forms).toEqual([...forms].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)));
    expect(forms).toContain(OPENSSH_KEY);
    expect(forms).toEqual(expect.arrayContaining(KEY_LINES));
  });

  it('is idempotent with literals as without', () => {
    const once = redactSecrets(`${KEY_LINES[0]} token=abc ${OPENSSH_KEY}`, literals);
    expect(redactSecrets(once, literals)).toBe(once);
  });
});

describe('tail', () => {
  it('returns the text unchanged when it fits', () => {
    expect(tail('hello', 5)).toBe('hello');
    expect(tail('', 10)).toBe('');
  });

  it('keeps the last maxBytes bytes', () => {
    expect(tail('0123456789', 4)).toBe('6789');
  });

  it('never splits a multi-byte character: a cut inside one drops the partial bytes', () => {
    // '完' and '成' are 3 bytes each in UTF-8; 4 bytes would start inside '完'.
    expect(tail('ab完成', 4)).toBe('成');
    expect(tail('ab完成', 6)).toBe('完成');
    const out = tail('é'.repeat(100), 51);
    expect(out).toBe('é'.repeat(25));
    expect(new TextEncoder().encode(out).length).toBeLessThanOrEqual(51);
  });

  it('returns nothing for a zero budget', () => {
    expect(tail('abc', 0)).toBe('');
  });
});

describe('lastLines', () => {
  it('returns the last n lines without a trailing empty line', () => {
    expect(lastLines('a\nb\nc\n', 2)).toEqual(['b', 'c']);
    expect(lastLines('', 3)).toEqual([]);
    expect(lastLines('one', 3)).toEqual(['one']);
  });
});
