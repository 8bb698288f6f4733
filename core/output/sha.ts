/** A sha as tables show it: the first 12 hex digits, or `-` when there is none. */
export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 12) : '-';
}
