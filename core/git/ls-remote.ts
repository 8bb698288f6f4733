import { git, type GitOptions } from './exec.ts';

const LINE = /^([0-9a-f]{40}|[0-9a-f]{64})\t(\S+)$/;

// `<sha>\t<ref>` lines, as `git ls-remote` (and for-each-ref with that format) print them, as ref → sha.
// Peeled `^{}` lines (the commit behind an annotated tag) are not refs and are dropped, as are blanks.
export function parseLsRemote(stdout: string): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = LINE.exec(line.trimEnd());
    if (!match) continue;
    const [, sha, ref] = match as unknown as [string, string, string];
    if (ref.endsWith('^{}')) continue;
    refs.set(ref, sha);
  }
  return refs;
}

/** The refs of `url` matching `patterns`, ref → sha, in one `git ls-remote`; throws GitError. */
export async function lsRemote(
  url: string,
  patterns: readonly string[],
  opts: GitOptions,
): Promise<Map<string, string>> {
  return parseLsRemote(await git('ls-remote', [url, ...patterns], opts));
}
