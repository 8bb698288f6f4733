// The runner as the CLI's acting verbs see it; read.ts is the read verbs' (status, events, logs)
// lighter door. What neither exports is the runner's own business.

export { cacheRows, servedRows, type FollowerMirrorRow } from './git-mirror/follower-rows.ts';
export type { FlushResult } from './git-mirror/flush.ts';
export { flushRef, stageInputs, syncMirror, transportOf, type StageMounts } from './git-mirror/stages.ts';
export type { SyncResult } from './git-mirror/sync.ts';
export { kubeLease } from './kube/lease.ts';
export { kubePorts } from './kube/ports.ts';
export { configMapObjects, configMapState } from './kube/state-store.ts';
export { snapshotRefName } from './observe/snapshot-ref.ts';
export type { FollowerOutcome, PassResult } from './pass.ts';
export type { MirrorPort, StatePort, StateSnapshot } from './ports.ts';
export { adapterPort, mirrorPort } from './process-ports.ts';
export { waitForSha, type ShaServed } from './expect-sha.ts';
export { runRedactedPass } from './redacted-pass.ts';
export { mountedSecretLiterals } from './secret-literals.ts';
export { recordsOf } from './state-data.ts';
export type { StateRecord } from './state-record.ts';
