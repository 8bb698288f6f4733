const withoutPeriod = (line: string) => line.replace(/\.+$/, '');

// git's own reason from its stderr: its first `fatal:`/`error:` line, with the transport's line just
// before it (ssh: "Host key verification failed.") as the cause and, when the line ends in a colon
// ("unable to connect to 127.0.0.1:"), the line that completes it; the lines after it are otherwise
// generic advice ("Please make sure you have the correct access rights"). Without such a line, the
// last line. No trailing period; undefined when git wrote nothing.
export function stderrSummary(stderr: string): string | undefined {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const at = lines.findIndex((l) => /^(fatal|error):/.test(l));
  const last = lines.at(-1);
  if (at < 0) return last === undefined ? undefined : withoutPeriod(last);
  const before = lines[at - 1];
  const cause = before !== undefined && !/^(hint|warning):/.test(before) ? `${withoutPeriod(before)}: ` : '';
  const line = lines[at]!;
  const next = lines[at + 1];
  return cause + withoutPeriod(line.endsWith(':') && next !== undefined ? `${line} ${next}` : line);
}
