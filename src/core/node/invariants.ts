/**
 * What must hold of a node's state after every input. `checkInvariants` is cheap (a few
 * comparisons) and runs after every input, in production too; `checkDeepInvariants` walks
 * the task table and the history and runs in the tests and the simulator. The inline
 * checks at the transitions themselves are in epochs.ts (epochs never decrease),
 * leadership.ts (a leader is the one its epoch names) and history-follower.ts (changes are
 * applied in contiguous sequence).
 */
import { invariant } from '../assert.js';
import { epochLeader, epochTerm, formatEpoch, MAX_TERM } from '../epoch.js';
import { digestOf } from '../history.js';
import { taskKey } from '../messages.js';
import type { NodeState } from './state.js';

export function checkInvariants(n: NodeState): void {
  const who = (): Record<string, unknown> => ({
    server: n.id,
    role: n.role,
    epoch: formatEpoch(n.epoch),
    leader_id: n.leaderId,
  });
  // At most one leader per epoch: an epoch is led only by the server that minted it.
  invariant(
    n.leaderId === null || epochLeader(n.epoch) === n.leaderId,
    'the leader we follow or are is the one our epoch names',
    who,
  );
  invariant(
    (n.role === 'leader') === (n.leaderId === n.id),
    'a server is leader exactly when it names itself leader',
    who,
  );
  invariant(
    epochTerm(n.epoch) <= n.maxTerm && n.maxTerm <= MAX_TERM,
    "the epoch's term is at most the highest term seen, which is at most MAX_TERM",
    () => ({ ...who(), max_term: n.maxTerm }),
  );
  invariant(
    n.role !== 'candidate' || (n.election !== null && n.leaderId === null),
    'a candidate runs an election and follows nobody',
    who,
  );
  invariant(
    (n.role === 'silent') === (n.silentUntil !== null),
    'silent exactly until silentUntil',
    () => ({
      ...who(),
      silent_until_ms: n.silentUntil,
    }),
  );
  const capacity = n.config.thread_pool_size + n.config.max_queue_size;
  invariant(
    n.running >= 0 && n.queued >= 0 && n.done >= 0 && n.running + n.queued <= capacity,
    'task counts are never negative and never exceed the capacity',
    () => ({ server: n.id, running: n.running, queued: n.queued, done: n.done, capacity }),
  );
  const limits = n.config.limits;
  invariant(
    n.history.size <= limits.max_history_entries &&
      n.buffered.size <= limits.max_buffered_changes &&
      n.pendingRemovals.size <= limits.max_cached_results,
    'bounded tables stay within their limits',
    () => ({
      server: n.id,
      history: n.history.size,
      buffered: n.buffered.size,
      pending_removals: n.pendingRemovals.size,
    }),
  );
  invariant(
    n.appliedSeq >= -1 && n.seq >= 0,
    'sequence numbers are never below their start',
    () => ({
      server: n.id,
      seq: n.seq,
      applied_seq: n.appliedSeq,
    }),
  );
}

/** The expensive checks: counters against the tables they count, the digest against the entries. */
export function checkDeepInvariants(n: NodeState): void {
  checkInvariants(n);
  const count = { queued: 0, running: 0, done: 0 };
  for (const task of n.localTasks.values()) count[task.state]++;
  invariant(
    count.queued === n.queued && count.running === n.running && count.done === n.done,
    'task counters match the task table',
    () => ({ server: n.id, counters: [n.queued, n.running, n.done], table: count }),
  );
  const entries = n.history.allEntries();
  invariant(
    digestOf(entries) === n.history.digest,
    'the history digest matches its entries',
    () => ({
      server: n.id,
      digest: n.history.digest,
      entries: entries.length,
    }),
  );
  const resurrected = entries.find((e) => n.history.isTombstoned(taskKey(e.client_id, e.task_id)));
  invariant(resurrected === undefined, 'no acknowledged task is back in the history', () => ({
    server: n.id,
    task: resurrected,
  }));
  for (const m of n.members.values()) {
    invariant(m.assigned_since_report >= 0, 'work placed on a member is never negative', () => ({
      server: n.id,
      member: m.id,
      assigned: m.assigned_since_report,
    }));
  }
}
