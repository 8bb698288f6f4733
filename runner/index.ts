// The runner as the CLI sees it: the one module src/cli imports from runner/. What is not exported
// here is the runner's own business.

export { redactSecrets } from './adapters/redact.ts';
export { FOLLOWER_LABEL } from './events.ts';
export { cacheRows, servedRows, type FollowerMirrorRow } from './git-mirror/follower-rows.ts';
export type { FlushResult } from './git-mirror/flush.ts';
export { flushRef, stageInputs, syncMirror, transportOf, type StageMounts } from './git-mirror/stages.ts';
export type { SyncResult } from './git-mirror/sync.ts';
export { kubeLease } from './kube/lease.ts';
export { mapLimit } from './limit.ts';
export { kubePorts } from './kube/ports.ts';
export { configMapObjects, configMapState } from './kube/state-store.ts';
export { snapshotRefName } from './observe/snapshot-ref.ts';
export type { FollowerOutcome, PassResult } from './pass.ts';
export type { StatePort, StateSnapshot } from './ports.ts';
export { adapterPort, mirrorPort } from './process-ports.ts';
export { runRedactedPass } from './redacted-pass.ts';
export { mountedSecretLiterals } from './secret-literals.ts';
export { dataBytes, recordsOf } from './state-data.ts';
export { parseStateRecord, type StateRecord } from './state-record.ts';
