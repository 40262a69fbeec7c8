/**
 * History replication, leader side: the leader alone changes the history on purpose; it
 * numbers every change (`seq`, per epoch) and sends it to every reachable follower, and
 * answers a follower's sync request with a snapshot in parts.
 */
import {
  MESSAGE_LIMITS,
  type HistoryEntry,
  type HistorySnapshotMessage,
  type ServerId,
  type TaskRef,
} from '../messages.js';
import { broadcast, sendTo } from './send.js';
import type { HistoryChange, NodeState } from './state.js';

/** Number a change and send it to every reachable follower. */
export function broadcastChange(n: NodeState, change: HistoryChange): void {
  n.seq++;
  const reachable = (id: ServerId): boolean => {
    const state = n.members.get(id)?.state;
    return state === 'alive' || state === 'suspected';
  };
  if (change.kind === 'add') {
    broadcast(
      n,
      { type: 'HistoryAdd', from: n.id, epoch: n.epoch, seq: n.seq, entry: change.entry },
      reachable,
    );
  } else {
    broadcast(
      n,
      {
        type: 'HistoryRemove',
        from: n.id,
        epoch: n.epoch,
        seq: n.seq,
        client_id: change.ref.client_id,
        task_id: change.ref.task_id,
      },
      reachable,
    );
  }
}

/** Adds or updates an entry and replicates it; false if the history refused it (full, tombstoned). */
export function commitAdd(n: NodeState, entry: HistoryEntry): boolean {
  if (!n.history.set(entry, n.now)) return false;
  broadcastChange(n, { kind: 'add', entry });
  return true;
}

/** Removes an entry (leaving a tombstone) and replicates the removal. */
export function commitRemove(n: NodeState, ref: TaskRef): void {
  n.history.remove(ref);
  broadcastChange(n, { kind: 'remove', ref: { client_id: ref.client_id, task_id: ref.task_id } });
}

/** The whole history (and the newest tombstones) to one follower, in parts. */
export function sendSnapshot(n: NodeState, to: ServerId): void {
  const per = MESSAGE_LIMITS.max_entries_per_part;
  const entries = n.history.allEntries();
  const tombstones = n.history.allTombstones().slice(-4 * per);
  const parts = Math.max(1, Math.ceil(Math.max(entries.length, tombstones.length) / per));
  const snapshotId = ++n.snapshotCounter;
  const digest = n.history.digest;
  for (let part = 0; part < parts; part++) {
    const msg: HistorySnapshotMessage = {
      type: 'HistorySnapshot',
      from: n.id,
      epoch: n.epoch,
      seq: n.seq,
      snapshot_id: snapshotId,
      part,
      parts,
      entries: entries.slice(part * per, (part + 1) * per),
      tombstones: tombstones.slice(part * per, (part + 1) * per),
      digest,
    };
    sendTo(n, to, msg);
  }
}

/** Entries the leader learned longer ago than the history TTL go (a backstop for lost acks). */
export function expireHistory(n: NodeState): void {
  const cutoff = n.now - n.config.limits.history_ttl_ms;
  for (const entry of n.history.olderThan(cutoff)) commitRemove(n, entry);
}
