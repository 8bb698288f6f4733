// How many terminal columns a table cell takes, so columns line up as they did under cli-table3
// (string-width 4): ANSI escape sequences take none, control and combining characters take none,
// East Asian wide and fullwidth characters and emoji take two, everything else one.

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
// The escape sequences ansi-regex 5 strips (SGR colours, cursor moves, OSC hyperlinks); ESC, CSI and BEL
// are spliced in because the linter keeps control characters out of regular expression literals.
const ESC = String.fromCharCode(0x1b);
const CSI = String.fromCharCode(0x9b);
const BEL = String.fromCharCode(0x07);
const ANSI = new RegExp(
  `[${ESC}${CSI}][[\\]()#;?]*(?:(?:(?:(?:;[-a-zA-Z\\d\\/#&.:=?%@~_]+)*|[a-zA-Z\\d]+(?:;[-a-zA-Z\\d\\/#&.:=?%@~_]*)*)?${BEL})` +
    '|(?:(?:\\d{1,4}(?:;\\d{0,4})*)?[\\dA-PR-TZcf-ntqry=><~]))',
  'g',
);
// Emoji sequences as Unicode names them (a ZWJ family is one emoji, two columns). Compiling it takes
// tens of milliseconds, paid by every verb that prints, so it is compiled at the first cell that is not
// plain ASCII (most output has none).
let emoji: RegExp | undefined;
// biome-ignore lint/complexity/useRegexLiterals: the compile target does not accept the `v` flag in a literal
const emojiRegExp = () => (emoji ??= new RegExp('\\p{RGI_Emoji}', 'gv'));

// The East Asian Wide and Fullwidth ranges of is-fullwidth-code-point 3.
function isWide(c: number): boolean {
  return (
    c >= 0x1100 &&
    (c <= 0x115f ||
      c === 0x2329 ||
      c === 0x232a ||
      (c >= 0x2e80 && c <= 0x3247 && c !== 0x303f) ||
      (c >= 0x3250 && c <= 0x4dbf) ||
      (c >= 0x4e00 && c <= 0xa4c6) ||
      (c >= 0xa960 && c <= 0xa97c) ||
      (c >= 0xac00 && c <= 0xd7a3) ||
      (c >= 0xf900 && c <= 0xfaff) ||
      (c >= 0xfe10 && c <= 0xfe19) ||
      (c >= 0xfe30 && c <= 0xfe6b) ||
      (c >= 0xff01 && c <= 0xff60) ||
      (c >= 0xffe0 && c <= 0xffe6) ||
      (c >= 0x1b000 && c <= 0x1b001) ||
      (c >= 0x1f200 && c <= 0x1f251) ||
      (c >= 0x20000 && c <= 0x3fffd))
  );
}

/** The columns one line of text takes on a terminal. */
export function textWidth(line: string): number {
  if (PRINTABLE_ASCII.test(line)) return line.length;
  const uncoloured = line.replace(ANSI, '');
  // A coloured cell of plain text (what a terminal's table holds) needs no emoji scan.
  if (PRINTABLE_ASCII.test(uncoloured)) return uncoloured.length;
  const plain = uncoloured.replace(emojiRegExp(), '  ');
  let width = 0;
  for (const ch of plain) {
    const c = ch.codePointAt(0)!;
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f) || (c >= 0x300 && c <= 0x36f)) continue;
    width += isWide(c) ? 2 : 1;
  }
  return width;
}
