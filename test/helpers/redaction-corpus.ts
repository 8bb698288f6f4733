// A corpus of planted secrets in the shapes adapters print them: JSON and YAML key-values of every
// secret-like key, in any case, quoted or not, on the next line, URL-encoded; argv pairs; auth
// headers; credentials in URLs; PEM blocks; GitHub tokens; and the literal value of a mounted Secret
// key (an SSH private key: whole, its lines alone, inside a JSON string). The unit corpus test
// plants it in one adapter command; the integration test across whole passes. Either way nothing of
// a planted value may come out: not the value, nor any 24 characters of it.

/** One planted secret. */
export interface PlantedCase {
  /** The shape, with `<value>` for the value: a failure names it, never the value. */
  readonly name: string;
  /** A harmless tag planted just before the shape: where it shows, the text came through. */
  readonly marker: string;
  /** What is planted: the marker, then the shape around the value. */
  readonly text: string;
  /** What must never come out. */
  readonly planted: readonly string[];
}

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
  (x) => `{"nested": {"deeper": {"password": "${x}"}}}`,
  (x) => `secret = ${x};`,
  (x) => `pushed with ${x}`,
  (x) => `GITHUB_TOKEN ${x}`,
  // Cut short, as a truncated output ends: redacted to the end of the text (or of a JSON string), so
  // it goes last wherever texts are planted together.
  (x) => `-----BEGIN RSA PRIVATE KEY-----\n${x}`,
];
/** The value each shape carries; the two before the last are GitHub tokens, known by their own shape. */
const plantedValue = (i: number, tag: string) =>
  i === SHAPES.length - 3
    ? `ghp_PLANTED${tag}ghTOKEN0123456789abcdefghijklmn`
    : i === SHAPES.length - 2
      ? `github_pat_PLANTED${tag}pat0123456789_abcdefghijklmnop`
      : `PLANTED${i}${tag}x7Qm2Zr`;

const plant = (marker: string, body: string) => `[${marker}] ${body}`;

/**
 * The shapes, each with a value of its own; `tag` (letters and digits) gives every value and marker
 * of one planting its own spelling, so the same shape planted in two places can be told apart. The
 * last is a key block cut short: planted with other texts, keep it last.
 */
export function plantedCorpus(tag: string): PlantedCase[] {
  return SHAPES.map((shape, i) => {
    const marker = `case${i}${tag}`;
    return {
      name: JSON.stringify(shape('<value>')),
      marker,
      text: plant(marker, shape(plantedValue(i, tag))),
      planted: [plantedValue(i, tag)],
    };
  });
}

/** The lines of a PEM/OpenSSH key between its armour lines. */
const bodyLines = (key: string) =>
  key
    .trim()
    .split(/\r?\n/)
    .filter((l) => !/^-----(BEGIN|END) /.test(l) && l.trim() !== '');

/**
 * The literal value of a mounted Secret key (`key`, e.g. the SSH identity) planted in shapes no
 * pattern knows: its base64 lines without the armour, one line alone, the whole key as a JSON
 * string holds it, and the whole key as it is. What must not come out: any of its body lines.
 */
export function secretValueCases(key: string, tag: string): PlantedCase[] {
  // The whole key holds them all; its armour is the same in every key, so it is not searched for.
  const lines = bodyLines(key);
  const middle = lines[Math.floor(lines.length / 2)] ?? '';
  const shapes: [string, string][] = [
    ['the key body without its armour', `deploy key follows\n${lines.join('\n')}\nend of key`],
    ['one line of the key alone', `checksum ${middle} ok`],
    ['the whole key inside a JSON string', `identity=${JSON.stringify(key)}`],
    ['the whole key', key],
  ];
  return shapes.map(([name, body], i) => {
    const marker = `key${i}${tag}`;
    return { name: `the mounted SSH key: ${name}`, marker, text: plant(marker, body), planted: lines };
  });
}

/** A piece of a planted value this long is as telling as the value: a cut one is searched for too. */
const PIECE = 24;
/** The value whole, and every PIECE-character window of it (a tail cut through it leaves one). */
const piecesOf = (value: string) =>
  value.length <= PIECE
    ? [value]
    : Array.from({ length: value.length - PIECE + 1 }, (_, i) => value.slice(i, i + PIECE));
/** How a piece can be spelled in output: as it is, and inside a JSON string. */
const spellings = (piece: string) => [...new Set([piece, JSON.stringify(piece).slice(1, -1)])];

/** `<place>: <case name>` for every case of which any piece shows in a place, as it is or JSON-escaped. */
export function leaksIn(cases: readonly PlantedCase[], places: ReadonlyMap<string, string>): string[] {
  const owners = new Map<string, PlantedCase[]>();
  for (const c of cases)
    for (const s of new Set(c.planted.flatMap(piecesOf).flatMap(spellings)))
      owners.set(s, [...(owners.get(s) ?? []), c]);
  const out: string[] = [];
  for (const [place, text] of places) {
    const hit = new Set<PlantedCase>();
    for (const [s, cs] of owners) if (text.includes(s)) for (const c of cs) hit.add(c);
    for (const c of cases) if (hit.has(c)) out.push(`${place}: ${c.name}`);
  }
  return out;
}

/** The markers of `cases` that show nowhere in `places`: those texts never reached any output. */
export function unseenMarkers(cases: readonly PlantedCase[], places: ReadonlyMap<string, string>): string[] {
  const all = [...places.values()].join('\n');
  return cases.filter((c) => !all.includes(`[${c.marker}]`)).map((c) => `${c.marker} ${c.name}`);
}
