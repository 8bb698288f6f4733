import { isDeepStrictEqual } from 'node:util';
import { Phase, Reason } from '../../../runner/phases.ts';
import type { StateRecord } from '../../../runner/state-record.ts';
import { settled, type History } from './history.ts';

// The properties every history must keep, each a function returning its violations (empty: holds).

/**
 * Whether a state write between two log places dropped `sha` from the follower's triggered shas (state.triggeredLimit).
 */
function forgotten(h: History, followerId: string, sha: string, from: number, to: number): boolean {
  return h.written.some(
    (w) =>
      w.seq > from &&
      w.seq < to &&
      w.before.get(followerId)?.triggered.includes(sha) &&
      !w.after.get(followerId)?.triggered.includes(sha),
  );
}

/**
 * A sha is triggered at most once per attempt (unless the record forgot it, as the declared
 * controller.state.triggeredLimit allows), attempts stay within retry.maxAttempts, and every send
 * names its attempt.
 */
function atMostOnce(h: History): string[] {
  const out: string[] = [];
  const seen = new Map<string, number>();
  for (const s of h.sent) {
    const f = h.followers.find((x) => x.id === s.followerId)!;
    if (s.attempt === undefined) out.push(`${s.pass} sent ${s.sha.slice(0, 12)} without saying which attempt`);
    else if (s.attempt > f.retry.maxAttempts)
      out.push(`${s.pass} sent attempt ${s.attempt} of ${s.sha.slice(0, 12)} (maxAttempts ${f.retry.maxAttempts})`);
    const key = `${s.followerId} ${s.sha} ${s.attempt}`;
    if (seen.has(key) && !forgotten(h, s.followerId, s.sha, seen.get(key)!, s.seq))
      out.push(
        `${s.sha.slice(0, 12)} attempt ${s.attempt} of ${s.followerId} sent twice (seq ${seen.get(key)} and ` +
          `${s.seq}, the second by ${s.pass})`,
      );
    seen.set(key, s.seq);
  }
  return out;
}

/** Transitions a write added: the entries of the new history that the old one did not end with. */
function added(before: StateRecord | undefined, after: StateRecord): StateRecord['history'] {
  const old = before?.history ?? [];
  const last = old.at(-1);
  if (!last) return after.history;
  const at = after.history.findLastIndex((t) => isDeepStrictEqual(t, last));
  return after.history.slice(at + 1);
}

/**
 * No record is overwritten by a stale one: triggered shas are only ever trimmed from the oldest, history only grows at
 * its end, time never runs back.
 */
function noStaleOverwrite(h: History): string[] {
  const out: string[] = h.unreadable > 0 ? [`${h.unreadable} record(s) cannot be read at the end`] : [];
  for (const w of h.written) {
    for (const [id, before] of w.before) {
      const after = w.after.get(id);
      if (!after) {
        out.push(`write ${w.seq} by ${w.pass} removed the record of ${id}`);
        continue;
      }
      // Triggered shas go only when the list is full, and then the oldest first.
      const dropped = before.triggered.filter((s) => !after.triggered.includes(s));
      const full = after.triggered.length >= h.loaded.registry.controller.state.triggeredLimit;
      if (dropped.length > 0 && (!full || !isDeepStrictEqual(dropped, before.triggered.slice(0, dropped.length)))) {
        out.push(
          `write ${w.seq} by ${w.pass} forgot triggered ${dropped.map((s) => s.slice(0, 12)).join(',')} of ${id}`,
        );
      }
      if (before.history.length > 0 && !after.history.some((t) => isDeepStrictEqual(t, before.history.at(-1)))) {
        out.push(`write ${w.seq} by ${w.pass} lost the newest transition of ${id} (${before.history.at(-1)!.to})`);
      }
      if (Date.parse(after.updatedAt) < Date.parse(before.updatedAt))
        out.push(
          `write ${w.seq} by ${w.pass} moved ${id}'s updatedAt back from ${before.updatedAt} to ${after.updatedAt}`,
        );
    }
  }
  return out;
}

/** Where `sha` was first and last pushed before log place `seq` (-1: never). */
function pushedAt(h: History, followerId: string, sha: string | null, seq: number): { first: number; last: number } {
  const at = (h.pushes.get(followerId) ?? []).filter((p) => p.sha === sha && p.seq < seq).map((p) => p.seq);
  return { first: at[0] ?? -1, last: at.at(-1) ?? -1 };
}

/**
 * Superseded names the sha that superseded it: pushed to the follower's branch after the superseded sha, never itself.
 */
function supersededNamesItsSuccessor(h: History): string[] {
  const out: string[] = [];
  for (const w of h.written) {
    for (const [id, after] of w.after) {
      for (const t of added(w.before.get(id), after)) {
        if (t.to !== Phase.Superseded) continue;
        const by = /^superseded by ([0-9a-f]{40})$/.exec(t.detail)?.[1];
        if (!by)
          out.push(`${id}: Superseded ${t.sha?.slice(0, 12)} does not name its successor: ${JSON.stringify(t.detail)}`);
        else if (by === t.sha) out.push(`${id}: ${by.slice(0, 12)} superseded by itself`);
        else if (pushedAt(h, id, by, w.seq).last <= pushedAt(h, id, t.sha, w.seq).first) {
          out.push(
            `${id}: ${t.sha?.slice(0, 12)} superseded (write ${w.seq} by ${w.pass}) by ${by.slice(0, 12)}, which was ` +
              `not pushed after it`,
          );
        }
      }
    }
  }
  return out;
}

/** A dry run calls no writing port: no state, Lease, Event, sync, flush or trigger. */
function dryRunWritesNothing(h: History): string[] {
  return h.passes
    .filter((p) => p.dryRun)
    .flatMap((p) => p.calls.filter((c) => c.writes).map((c) => `dry run ${p.id} called ${c.port}.${c.method}`));
}

/**
 * Once the faults stop, every pushed tip that stays the tip reaches a final phase (a re-pushed old sha is never
 * triggered again, by design).
 */
function tipsReachAFinalPhase(h: History): string[] {
  const out: string[] = [];
  for (const f of h.followers) {
    const pushed = h.pushed.get(f.id) ?? [];
    const tip = pushed.at(-1);
    if (tip === undefined || pushed.indexOf(tip) !== pushed.length - 1) continue;
    const r = h.final.get(f.id);
    if (!r || r.observedSha !== tip || !settled(r, f))
      out.push(
        `${f.id}: tip ${tip.slice(0, 12)} ended ${r ? `${r.phase} (${r.reason}: ${r.message}) observing ${r.observedSha?.slice(0, 12)}` : 'with no record'}`,
      );
  }
  return out;
}

/**
 * Every record written parses (the pass's own reads say so), with history and triggered within their declared limits.
 */
function recordsWithinLimits(h: History): string[] {
  const { historyLimit, triggeredLimit } = h.loaded.registry.controller.state;
  return h.written.flatMap((w) =>
    [...w.after].flatMap(([id, r]) => [
      ...(r.history.length > historyLimit
        ? [`write ${w.seq}: ${id} has ${r.history.length} transitions (historyLimit ${historyLimit})`]
        : []),
      ...(r.triggered.length > triggeredLimit
        ? [`write ${w.seq}: ${id} remembers ${r.triggered.length} triggered shas (triggeredLimit ${triggeredLimit})`]
        : []),
    ]),
  );
}

/**
 * Nothing waits forever: no look leaves a sha in flight past its deadline (closeout.budgetSeconds).
 * The write that records a trigger's answer is not a look: it may land past the deadline, and the
 * next look fails the sha.
 */
function nothingWaitsForever(h: History): string[] {
  return h.written.flatMap((w) =>
    [...w.after]
      .filter(
        ([, r]) =>
          r.inFlight !== null &&
          r.inFlight.triggeredAt !== r.updatedAt &&
          Date.parse(r.updatedAt) > Date.parse(r.inFlight.deadline),
      )
      .map(
        ([id, r]) =>
          `write ${w.seq} by ${w.pass}: ${id} keeps ${r.inFlight!.sha.slice(0, 12)} in flight at ${r.updatedAt}, ` +
          `past its deadline ${r.inFlight!.deadline}`,
      ),
  );
}

/** A retry of a Failed sha is sent only after retry.backoffSeconds from that failure. */
function retriesWaitTheirBackoff(h: History): string[] {
  const out: string[] = [];
  for (const s of h.sent) {
    if (s.attempt === undefined || s.attempt < 2) continue;
    const f = h.followers.find((x) => x.id === s.followerId)!;
    const failures = h.written
      .filter((w) => w.seq < s.seq)
      .flatMap((w) => {
        const after = w.after.get(s.followerId);
        return after
          ? added(w.before.get(s.followerId), after).filter((t) => t.to === Phase.Failed && t.sha === s.sha)
          : [];
      });
    const last = failures.at(-1);
    if (!last) out.push(`attempt ${s.attempt} of ${s.sha.slice(0, 12)} sent by ${s.pass} with no failure before it`);
    else if (s.at < Date.parse(last.at) + f.retry.backoffSeconds * 1000)
      out.push(
        `attempt ${s.attempt} of ${s.sha.slice(0, 12)} sent ${(s.at - Date.parse(last.at)) / 1000}s after its ` +
          `failure (backoff ${f.retry.backoffSeconds}s)`,
      );
  }
  return out;
}

/** The newest Failed transition of `sha` the state records before log place `seq`, with the write's place. */
function lastFailure(h: History, followerId: string, sha: string, seq: number) {
  return h.written
    .filter((w) => w.seq < seq)
    .flatMap((w) => {
      const after = w.after.get(followerId);
      return after
        ? added(w.before.get(followerId), after)
            .filter((t) => t.to === Phase.Failed && t.sha === sha)
            .map((t) => ({ ...t, seq: w.seq }))
        : [];
    })
    .at(-1);
}

/** Where the newest write-ahead (a claimed send) of `sha`'s attempt `attempt` was written before `seq` (-1: none). */
function lastWriteAhead(h: History, followerId: string, sha: string, attempt: number, seq: number): number {
  const w = h.written.findLast((x) => {
    const f = x.after.get(followerId)?.inFlight;
    return (
      x.seq < seq && f?.sha === sha && f.attempt === attempt && f.sentAt !== x.before.get(followerId)?.inFlight?.sentAt
    );
  });
  return w?.seq ?? -1;
}

/**
 * A run the control plane started is followed to its closeout, even when the trigger that started it
 * reported a failure (it timed out, or printed what the contract does not allow): the tip whose run
 * started reaches its closeout (Succeeded, or Failed by its run or its budget), never a mere Noop
 * after TriggerFailed; and no retry is sent while the run of a trigger that "failed" is still going.
 */
function startedRunsCloseOut(h: History): string[] {
  const out: string[] = [];
  for (const s of h.sent) {
    if (s.attempt === undefined || s.attempt < 2 || s.going.length === 0) continue;
    const last = lastFailure(h, s.followerId, s.sha, s.seq);
    if (last?.reason !== Reason.TriggerFailed) continue;
    // The run the "failed" attempt started, if the control plane received it: a send of that attempt
    // after its write-ahead and before its failure (not one of an older round of the same sha).
    const ahead = lastWriteAhead(h, s.followerId, s.sha, s.attempt - 1, last.seq);
    const before = h.sent.findLast(
      (x) =>
        x.seq > ahead &&
        x.seq < last.seq &&
        x.followerId === s.followerId &&
        x.sha === s.sha &&
        x.attempt === s.attempt! - 1,
    );
    if (before && s.going.includes(before.run))
      out.push(
        `attempt ${s.attempt} of ${s.sha.slice(0, 12)} sent by ${s.pass} after a TriggerFailed while its run ` +
          `${before.run} was still going`,
      );
  }
  for (const f of h.followers) {
    const pushed = h.pushed.get(f.id) ?? [];
    const tip = pushed.at(-1);
    if (tip === undefined || pushed.indexOf(tip) !== pushed.length - 1) continue;
    const first = h.sent.find((s) => s.followerId === f.id && s.sha === tip);
    if (!first) continue;
    const closeouts = h.written
      .filter((w) => w.seq > first.seq)
      .flatMap((w) => {
        const after = w.after.get(f.id);
        return after ? added(w.before.get(f.id), after) : [];
      })
      .filter(
        (t) =>
          t.sha === tip && (t.to === Phase.Succeeded || (t.to === Phase.Failed && t.reason !== Reason.TriggerFailed)),
      );
    if (closeouts.length === 0) {
      const r = h.final.get(f.id);
      out.push(
        `${f.id}: the run of tip ${tip.slice(0, 12)} started, but it ended ` +
          `${r ? `${r.phase} (${r.reason}: ${r.message})` : 'with no record'} without its closeout`,
      );
    }
  }
  return out;
}

/**
 * A pass acts only under the Lease: at every send and every write that claims one, the Lease is
 * held by that pass and not expired (the keeper renews it in the background and checks it first).
 */
function actsUnderLease(h: History): string[] {
  return h.acts
    .filter((a) => a.holder !== a.pass || a.leftMs < 0)
    .map(
      (a) =>
        `${a.pass}: ${a.what} (log ${a.seq}) while the Lease was ${a.holder === a.pass ? 'its own but expired' : `held by ${a.holder ?? 'nobody'}`}` +
        ` (${a.leftMs} ms left)`,
    );
}

export const PROPERTIES = {
  atMostOnce,
  noStaleOverwrite,
  supersededNamesItsSuccessor,
  dryRunWritesNothing,
  tipsReachAFinalPhase,
  recordsWithinLimits,
  nothingWaitsForever,
  retriesWaitTheirBackoff,
  startedRunsCloseOut,
  actsUnderLease,
} as const;
