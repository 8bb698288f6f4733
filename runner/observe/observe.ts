import type { Registry } from '../../core/config/schema.ts';
import { mapLimit } from '../limit.ts';
import { readMirror } from './read-mirror.ts';
import { MirrorError } from './mirror-error.ts';
import { followerObservations, mirrorReads, type LsRemoteResult, type Observation } from './observation.ts';

export type {
  FollowerObservation,
  GitopsObserved,
  Observation,
} from './observation.ts';

export interface ObserveOptions {
  /** Each `git ls-remote` is killed after this. */
  readonly timeoutMs: number;
  /** PATH of the git children. */
  readonly pathEnv: string;
  /** How many `git ls-remote` run at once (controller.pass.concurrency.gitCalls). */
  readonly concurrency: number;
  /** Reads of mirror URLs made a moment ago (by the sync before this look), by URL: those URLs are not read again. */
  readonly read?: ReadonlyMap<string, ReadonlyMap<string, string>>;
}

// The observe step: reads every follower's branch tip and snapshot ref from the Kubernetes-managed
// mirror and nowhere else, with one `git ls-remote` per distinct mirror URL (`concurrency` at once), or
// none for a URL the caller has just read (`read`).
// Reads nothing else and writes nothing. A mirror that cannot be read fails only its own followers
// (as a MirrorError in their observation); any other error rejects.
export async function observe(
  registry: Registry,
  gitopsRefs: ReadonlyMap<string, string>,
  opts: ObserveOptions,
): Promise<Observation> {
  const reads = [...mirrorReads(registry)];
  const answers = await mapLimit(reads, opts.concurrency, async ([url, ids]): Promise<[string, LsRemoteResult]> => {
    const known = opts.read?.get(url);
    if (known !== undefined) return [url, known];
    try {
      return [url, await readMirror(url, { timeoutMs: opts.timeoutMs, pathEnv: opts.pathEnv, mirror: ids.join(', ') })];
    } catch (error) {
      if (error instanceof MirrorError) return [url, error];
      throw error;
    }
  });
  return followerObservations(registry, new Map(answers), gitopsRefs);
}
