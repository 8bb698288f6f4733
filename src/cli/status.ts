import type { Command } from 'commander';
import type { LoadedRegistry } from '../../core/config/load.ts';
import type { FollowerConfig } from '../../core/config/schema.ts';
import { UsageError } from '../../core/errors.ts';
import type { KubeClient } from '../../core/kube/client.ts';
import { readSecret, type SecretView } from '../../core/kube/secret-keys.ts';
import { connect } from './cluster.ts';
import { awaitExpectedSha, EXPECT_SHA_FLAG, expectedFollower, expectedSha, expectShaData } from './expect-sha.ts';
import { withNamespace } from './namespace.ts';
import { controllerState, type StatusRead, wantedObjects } from './status-state.ts';
import { statusView } from './status-view.ts';
import type { VerbContext } from './verb.ts';

/** Every object status shows, by name (what a user allowed to get them by name may read), and the Secrets. */
async function readStatus(client: KubeClient, loaded: LoadedRegistry): Promise<StatusRead> {
  const { mapLimit } = await import('../../runner/read.ts');
  const c = loaded.registry.controller;
  const ns = c.namespace;
  // pass.concurrency.apiCalls at once: a few connections, each reused, rather than one TLS handshake per object.
  const objects = await mapLimit(wantedObjects(loaded), c.pass.concurrency.apiCalls, (w) =>
    client.get(w.type, ns, w.name),
  );
  const ssh = c.source.githubSsh;
  // identity and known_hosts usually live in one Secret: read each Secret once.
  const secrets = new Map<string, SecretView>();
  for (const name of new Set([ssh.identity.name, ssh.knownHosts.name]))
    secrets.set(name, await readSecret(client, ns, name));
  return { objects, secrets, user: client.route.user };
}

/** Waits until the mirror serves the expected sha, reading the mirror only (status writes nothing anywhere). */
async function expectedNow(
  ctx: VerbContext,
  loaded: LoadedRegistry,
  expected: { sha: string; follower: FollowerConfig },
) {
  const { mirrorPort, mountedSecretLiterals } = await import('../../runner/index.ts');
  const mirror = mirrorPort(loaded, ctx.io.env, mountedSecretLiterals(loaded));
  try {
    return expectShaData(
      expected.sha,
      await awaitExpectedSha(ctx, loaded, expected.follower, expected.sha, mirror, 'read'),
    );
  } finally {
    mirror.close();
  }
}

// Shows the controller, the state ConfigMap and every follower's intermediate state.
export function registerStatus(program: Command, ctx: VerbContext): void {
  program
    .command('status')
    .summary('show the controller, the state ConfigMap and every follower')
    .description(
      'Show the controller (CronJob schedule, suspension, last schedule and success, active Jobs; Lease ' +
        'holder and renew age and state ConfigMap age and size of every shard; the githubSsh Secret keys by name, presence ' +
        'and fingerprint, never their values) and one row per follower: source branch, observed sha, phase, ' +
        'how long it has been in that phase, and the in-flight run. -o wide adds the adapter, the target, ' +
        'last triggered and last succeeded sha, the budget and where it is declared, and the next drill-down ' +
        'command. A follower with no record yet shows NotObserved. --expect-sha <sha> --follower <id> first waits ' +
        "until the mirror serves that commit on the follower's branch (at its tip, or under a descendant where a " +
        'mirror cache is mounted here), reading the mirror every controller.expectSha.pollIntervalSeconds within ' +
        'controller.expectSha.waitSeconds; exit 5 naming the lag if it never does. Reads only.',
    )
    .option(
      '-w, --watch',
      'after printing, watch the CronJob, the Leases and the state ConfigMaps and print again on every change, ' +
        'until Ctrl-C (exit 0)',
    )
    .option(...EXPECT_SHA_FLAG)
    .option('--follower <id>', 'with --expect-sha: the follower whose branch it waits on')
    .addHelpText(
      'after',
      '\nExamples:\n  branch-follower status\n  branch-follower status -o wide\n  branch-follower status -w\n' +
        '  branch-follower status -o yaml\n' +
        '  branch-follower status --follower hwlab-jd01-v03 --expect-sha "$(git rev-parse HEAD)"\n',
    )
    .action(async (opts: { watch?: boolean; expectSha?: string; follower?: string }) => {
      const { loadRegistry } = await import('../../core/config/load.ts');
      const { parseStateRecord, dataBytes } = await import('../../runner/read.ts');
      const loaded = withNamespace(ctx, loadRegistry(ctx.globals().config, ctx.io.cwd));
      if (opts.follower !== undefined && opts.expectSha === undefined)
        throw new UsageError('--follower names the follower --expect-sha waits on: it needs --expect-sha');
      const expected =
        opts.expectSha === undefined
          ? undefined
          : { sha: expectedSha(opts.expectSha), follower: expectedFollower(loaded, opts.follower) };
      const client = connect(ctx, loaded);
      const waited = expected ? await expectedNow(ctx, loaded, expected) : undefined;
      const view = (read: StatusRead) => {
        const v = statusView(
          loaded,
          client.route.context,
          controllerState(loaded, read, dataBytes, Date.now()),
          parseStateRecord,
        );
        return waited ? { ...v, data: { expectSha: waited, ...(v.data as object) } } : v;
      };
      const first = await readStatus(client, loaded);
      if (!opts.watch) return ctx.print(view(first));
      const { untilInterrupted } = await import('./interrupt.ts');
      const { watchStatus } = await import('./status-watch.ts');
      const { watchPrinter } = await import('./watch-print.ts');
      const { signal, release } = untilInterrupted(ctx.io);
      try {
        await watchStatus({
          client,
          namespace: loaded.registry.controller.namespace,
          wanted: wantedObjects(loaded),
          first,
          view,
          print: watchPrinter(ctx),
          progress: (line) => ctx.progress(line),
          signal,
        });
      } finally {
        release();
      }
    });
}
