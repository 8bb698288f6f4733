import type { LoadedRegistry } from '../src/config/load.ts';
import type { FollowerConfig } from '../src/config/schema.ts';
import { staticValues } from '../src/config/template-values.ts';
import { AdapterError, readStatus, trigger } from './adapters/run-adapter.ts';
import { tail } from './adapters/redact.ts';
import { observe } from './observe/observe.ts';
import type { PassIo } from './pass.ts';
import type { MirrorView } from './state-machine.ts';

// The pass's real outside world: `git ls-remote` of the mirrors and the adapter commands. PATH is
// the one variable handed on (to find git and the adapter CLIs); nothing else of the caller's
// environment, working directory or checkout reaches a decision.
export function passIo(loaded: LoadedRegistry, env: NodeJS.ProcessEnv): PassIo {
  const registry = loaded.registry;
  const path = env.PATH ?? '';
  const tailBytes = registry.controller.state.outputTailBytes;
  const adapterOf = (f: FollowerConfig) => registry.adapters.find((a) => a.id === f.adapter)!;
  const values = (f: FollowerConfig, sha: string, snapshotRef: string) => {
    const v = staticValues(f, loaded.targets.get(f.id)!);
    v.set('sha', sha);
    v.set('snapshotRef', snapshotRef);
    return v;
  };
  const failure = (err: unknown) => {
    if (err instanceof AdapterError) return { error: err.message, tail: tail(err.stderrTail, tailBytes) };
    throw err;
  };
  return {
    async observe(followers) {
      const seen = await observe({ ...registry, followers: [...followers] }, { timeoutMs: registry.controller.pass.observeTimeoutSeconds * 1000, pathEnv: path });
      const views = new Map<string, MirrorView>();
      for (const [id, o] of seen) {
        if ('error' in o) views.set(id, { error: o.error.message });
        else views.set(id, { tip: o.tip, snapshotRef: o.snapshotRef ?? '', snapshotPresent: o.snapshotPresent });
      }
      return views;
    },
    async status(f, sha, snapshotRef) {
      try {
        const status = await readStatus({ adapter: adapterOf(f), followerId: f.id, values: values(f, sha, snapshotRef), env: { PATH: path } });
        return { status, tail: tail(JSON.stringify(status), tailBytes) };
      } catch (err) {
        return failure(err);
      }
    },
    async trigger(f, sha, snapshotRef) {
      try {
        const t = await trigger({ adapter: adapterOf(f), followerId: f.id, values: values(f, sha, snapshotRef), env: { PATH: path } });
        return { runName: t.run.name, tail: tail(JSON.stringify(t), tailBytes) };
      } catch (err) {
        return failure(err);
      }
    },
  };
}
