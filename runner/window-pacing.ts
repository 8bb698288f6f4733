// The watch window's pacing: over a pass, a mirror's upstream is read no more often than the pass
// has looked, whatever reads it. The first look of the pass reads every mirror's upstream once (its
// sync's git ls-remote); look k of the window (k = 1, 2, …) reads a mirror's upstream only while the
// pass has read it at most k times. A flush that pushed read its upstream twice (its plan and its
// recheck): the next two looks pass that mirror by, so the upstream sees no more calls a minute than
// the looks alone would make. A mirror passed by is still looked at in its cache (its followers in
// flight go on); a push to it is seen a look or two later.

/** Of `mirrors`, the ones look `look` of the window reads upstream; `readsSince` counts the pass's reads of one. */
export function pacedMirrors(
  mirrors: readonly string[],
  look: number,
  readsSince: (mirror: string) => number,
): string[] {
  return mirrors.filter((m) => readsSince(m) <= look);
}
