/** kubectl's compact ages: 45s, 12m, 5h, 3d. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** The age of an RFC 3339 timestamp at `now`, or `-` when there is none. */
export function ageOf(timestamp: string | undefined | null, now: number): string {
  if (!timestamp) return '-';
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? '-' : formatAge(now - t);
}
