import type { Manifest } from './manifest.ts';
import type { KubeObject } from './client.ts';

export interface Readiness {
  readonly ready: boolean;
  /** Why not, or what ready means here. */
  readonly detail: string;
}

// Whether one applied object is ready, judged from the live object alone (pure): present at the
// generation apply produced, a Namespace Active, a CronJob suspended exactly as declared.
export function objectReadiness(
  desired: Manifest,
  live: KubeObject | undefined,
  appliedGeneration: number | undefined,
): Readiness {
  if (!live) return { ready: false, detail: 'not found' };
  const generation = live.metadata.generation;
  if (appliedGeneration !== undefined && generation !== undefined && generation < appliedGeneration) {
    return { ready: false, detail: `at generation ${generation}, applied ${appliedGeneration}` };
  }
  if (desired.kind === 'Namespace') {
    const phase = (live.status as { phase?: string } | undefined)?.phase;
    return phase === 'Active'
      ? { ready: true, detail: 'Active' }
      : { ready: false, detail: `phase ${phase ?? 'unknown'}` };
  }
  if (desired.kind === 'CronJob') {
    const want = (desired as { spec?: { suspend?: boolean } }).spec?.suspend;
    const have = (live as { spec?: { suspend?: boolean } }).spec?.suspend;
    if (want !== have) return { ready: false, detail: `suspend is ${String(have)}, declared ${String(want)}` };
    return { ready: true, detail: have ? 'suspended as declared' : 'scheduled' };
  }
  return { ready: true, detail: 'present' };
}
