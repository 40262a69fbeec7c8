/**
 * History replication, follower side: apply the leader's numbered changes in order (buffering
 * the ones that arrive early), resync by snapshot on a gap or a differing digest, and offer
 * our own entries to a new leader whose history differs (a healed partition) so nothing
 * assigned on the other side is lost.
 */
import { invariant } from '../assert.js';
import { digestOf } from '../history.js';
import {
  MESSAGE_LIMITS,
  type HistoryInfo,
  type HistoryOfferMessage,
  type HistorySnapshotMessage,
} from '../messages.js';
import { emit, sendTo } from './send.js';
import type { HistoryChange, NodeState } from './state.js';

/** Forget replication progress: the next contact with a leader starts a sync. */
export function resetReplication(n: NodeState): void {
  n.appliedSeq = -1;
  n.buffered.clear();
  n.behindSince = null;
  n.syncRequestedAt = null;
  n.snapshot = null;
}

/** First contact with a leader: in sync if digests match, else offer ours and ask for its. */
export function beginFollowerSync(n: NodeState, info: HistoryInfo): void {
  if (info.digest === n.history.digest && info.size === n.history.size) {
    n.appliedSeq = info.seq;
    return;
  }
  if (n.history.size > 0) sendOffer(n);
  requestSync(n);
}

function sendOffer(n: NodeState): void {
  const leader = n.leaderId;
  if (leader === null) return;
  const per = MESSAGE_LIMITS.max_entries_per_part;
  const entries = n.history.allEntries();
  const tombstones = n.history.allTombstones().slice(-4 * per);
  const parts = Math.max(1, Math.ceil(Math.max(entries.length, tombstones.length) / per));
  for (let part = 0; part < parts; part++) {
    const offer: HistoryOfferMessage = {
      type: 'HistoryOffer',
      from: n.id,
      epoch: n.epoch,
      part,
      parts,
      entries: entries.slice(part * per, (part + 1) * per),
      tombstones: tombstones.slice(part * per, (part + 1) * per),
    };
    sendTo(n, leader, offer);
  }
}

/** Asks the leader for a snapshot, at most once per retry interval. */
function requestSync(n: NodeState): void {
  const leader = n.leaderId;
  if (leader === null || n.role !== 'follower') return;
  const retry = Math.max(2 * n.config.election_timeout_ms, 2 * n.config.heartbeat_interval_ms);
  if (n.syncRequestedAt !== null && n.now - n.syncRequestedAt < retry) return;
  n.syncRequestedAt = n.now;
  sendTo(n, leader, { type: 'HistorySyncRequest', from: n.id, epoch: n.epoch });
}

/** A leader heartbeat's history summary: behind for too long, or diverged, means resync. */
export function checkReplicationProgress(n: NodeState, info: HistoryInfo): void {
  if (n.appliedSeq < 0) {
    if (n.syncRequestedAt === null) beginFollowerSync(n, info);
    else requestSync(n);
    return;
  }
  if (info.seq > n.appliedSeq) {
    if (n.behindSince === null) {
      n.behindSince = n.now;
      n.behindTarget = info.seq;
    } else if (n.now - n.behindSince > 2 * n.config.heartbeat_interval_ms) {
      requestSync(n);
    }
    return;
  }
  n.behindSince = null;
  if (info.seq === n.appliedSeq && info.digest !== n.history.digest) requestSync(n);
}

/** One numbered change from our leader: apply it if it is next, else keep it for later. */
export function applyOrBuffer(n: NodeState, seq: number, change: HistoryChange): void {
  if (n.appliedSeq >= 0 && seq <= n.appliedSeq) return;
  if (n.appliedSeq >= 0 && seq === n.appliedSeq + 1) {
    applyNext(n, seq, change);
    drainBuffered(n);
    return;
  }
  if (n.buffered.size >= n.config.limits.max_buffered_changes) {
    n.buffered.clear();
    n.syncRequestedAt = null;
    requestSync(n);
    return;
  }
  n.buffered.set(seq, change);
}

function drainBuffered(n: NodeState): void {
  for (;;) {
    const next = n.buffered.get(n.appliedSeq + 1);
    if (next === undefined) break;
    n.buffered.delete(n.appliedSeq + 1);
    applyNext(n, n.appliedSeq + 1, next);
  }
  for (const seq of n.buffered.keys()) if (seq <= n.appliedSeq) n.buffered.delete(seq);
  if (n.behindSince !== null && n.appliedSeq >= n.behindTarget) n.behindSince = null;
}

/** Applies change number `seq`, which must be the one right after the last applied. */
function applyNext(n: NodeState, seq: number, change: HistoryChange): void {
  invariant(seq === n.appliedSeq + 1, 'history changes are applied in contiguous sequence', () => ({
    server: n.id,
    applied_seq: n.appliedSeq,
    seq,
  }));
  if (change.kind === 'add') {
    n.history.set(change.entry, n.now);
  } else {
    n.history.remove(change.ref);
  }
  n.appliedSeq = seq;
}

/** One part of the leader's snapshot; the whole one replaces our replica if its digest checks. */
export function onSnapshotPart(n: NodeState, m: HistorySnapshotMessage): void {
  if (n.snapshot === null || n.snapshot.snapshot_id !== m.snapshot_id) {
    n.snapshot = {
      snapshot_id: m.snapshot_id,
      seq: m.seq,
      parts: m.parts,
      digest: m.digest,
      received: new Map(),
    };
  }
  const s = n.snapshot;
  if (m.parts !== s.parts || m.seq !== s.seq) return;
  s.received.set(m.part, m);
  if (s.received.size < s.parts) return;
  const parts = [...s.received.values()].sort((a, b) => a.part - b.part);
  const entries = parts.flatMap((p) => p.entries);
  const tombstones = parts.flatMap((p) => p.tombstones);
  n.snapshot = null;
  if (digestOf(entries) !== s.digest) {
    n.syncRequestedAt = null;
    requestSync(n);
    return;
  }
  n.history.install(entries, tombstones, n.now);
  n.appliedSeq = s.seq;
  n.syncRequestedAt = null;
  n.behindSince = null;
  n.counters.snapshots_installed++;
  drainBuffered(n);
  emit(n, { type: 'resynced', entries: entries.length, seq: s.seq });
}
