/**
 * Which published updates each subscriber received, as a summary: a
 * subscriber may skip an update that a newer one supersedes (the protocol
 * allows it), but it must end with the last one, and every skip should be
 * by design. Counts only subscribers connected at the end.
 */
export interface GapSummary {
  /** Subscribers counted (connected when the receipts were collected). */
  subscribers: number;
  /** Of those, subscribers that received none of the published updates. */
  receivedNone: number;
  /** Subscribers whose newest received update is the last one published. */
  endedWithLast: number;
  /** Subscribers that missed at least one intermediate update (after their first receipt, before the last). */
  withGaps: number;
  /** For each published update, in order: subscribers that missed it as an intermediate update. */
  missedByUpdate: number[];
  /** Missed intermediate updates per subscriber → subscribers (`{"0": 18990, "1": 10}`). */
  histogram: Record<string, number>;
  /** Subscribers whose receipts could not be told apart per update (more than {@link MAX_GAP_SLOTS} values). */
  untracked: number;
}

/** Distinct values whose receipt is recorded per subscriber (one bit each). */
export const MAX_GAP_SLOTS = 32;

/** A summary with nothing counted yet, for `updates` published updates. */
export function emptyGaps(updates: number): GapSummary {
  return {
    subscribers: 0,
    receivedNone: 0,
    endedWithLast: 0,
    withGaps: 0,
    missedByUpdate: new Array<number>(updates).fill(0),
    histogram: {},
    untracked: 0,
  };
}

/**
 * Adds one subscriber: `received[i]` says whether it got published update `i`
 * (initial events on connect included), or `undefined` when unknown.
 */
export function addSubscriber(
  summary: GapSummary,
  received: ReadonlyArray<boolean | undefined>,
): void {
  summary.subscribers++;
  if (received.some((r) => r === undefined)) {
    summary.untracked++;
    return;
  }
  const first = received.indexOf(true);
  if (first === -1) {
    summary.receivedNone++;
    return;
  }
  const last = received.length - 1;
  if (received[last]) summary.endedWithLast++;
  let missed = 0;
  // Updates before the first receipt were superseded before it connected: not missed.
  for (let i = first + 1; i < last; i++) {
    if (!received[i]) {
      missed++;
      summary.missedByUpdate[i]!++;
    }
  }
  if (missed > 0) summary.withGaps++;
  summary.histogram[missed] = (summary.histogram[missed] ?? 0) + 1;
}

/** Adds `b` into `a` (same number of updates). */
export function mergeGaps(a: GapSummary, b: GapSummary): GapSummary {
  a.subscribers += b.subscribers;
  a.receivedNone += b.receivedNone;
  a.endedWithLast += b.endedWithLast;
  a.withGaps += b.withGaps;
  a.untracked += b.untracked;
  b.missedByUpdate.forEach((n, i) => {
    a.missedByUpdate[i] = (a.missedByUpdate[i] ?? 0) + n;
  });
  for (const [k, v] of Object.entries(b.histogram)) a.histogram[k] = (a.histogram[k] ?? 0) + v;
  return a;
}
