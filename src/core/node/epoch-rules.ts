/**
 * The epoch rules every role applies to a server message before its own step function
 * (as etcd-io/raft's Step handles terms before calling stepLeader / stepFollower /
 * stepCandidate). Returns false when the message is settled here:
 *
 * - (before these, termsWithinReach refuses a term beyond our clock's ceiling: termRefused;)
 * - announcements (Coordinator, leader Heartbeat) must carry an epoch their sender minted;
 * - a sender behind us gets StaleEpoch (rate-limited) and its message is dropped;
 * - a newer epoch is adopted: a leader steps down, and everyone follows the new leader if the
 *   message names it, else listens for it;
 * - Election, Alive and Nominate only raise our highest term (the election itself compares
 *   scores, not epochs), and a Handover counts only in our own epoch.
 */
import { epochLeader, epochTerm } from '../epoch.js';
import type { ServerMessage } from '../messages.js';
import { noteTerm, peerTermCeiling, rejectInvalid, replyStale } from './epochs.js';
import { emit } from './send.js';
import { adoptNewerEpoch } from './leadership.js';
import type { NodeState } from './state.js';

/**
 * Runs first, before a server message can move any term: a term (its epoch's, or its
 * `max_term`) beyond our clock's ceiling is refused whole and nothing of it is adopted, so a
 * buggy member can never push the cloud's terms ahead of the clock (docs/ELECTION.md).
 */
export function termsWithinReach(n: NodeState, m: ServerMessage): boolean {
  const term = Math.max(epochTerm(m.epoch), 'max_term' in m ? m.max_term : 0);
  const ceiling = peerTermCeiling(n);
  if (term <= ceiling) return true;
  n.counters.rejected_invalid++;
  emit(n, { type: 'termRefused', from: m.from, message_type: m.type, term, ceiling });
  return false;
}

export function checkEpoch(n: NodeState, m: ServerMessage): boolean {
  switch (m.type) {
    case 'Election':
      noteTerm(n, m.max_term);
      if (m.epoch > n.epoch) adoptNewerEpoch(n, m.epoch, null);
      return true;
    case 'Alive':
    case 'Nominate':
      noteTerm(n, m.max_term);
      return true;
    case 'Coordinator':
      return checkAnnouncement(n, m);
    case 'Heartbeat':
      if (m.role === 'leader') return checkAnnouncement(n, m);
      return checkCurrent(n, m, m.leader_id);
    case 'StaleEpoch':
      if (m.epoch <= n.epoch) return true;
      adoptNewerEpoch(n, m.epoch, m.leader_id);
      return false;
    case 'Handover':
      return m.epoch === n.epoch;
    case 'HistoryRemove':
      // A report of a client's ack (seq null) is the leader's to take whatever its epoch.
      return m.seq === null ? true : checkCurrent(n, m, epochLeader(m.epoch));
    case 'HistoryAdd':
    case 'HistorySnapshot':
    case 'FailureSimulation':
    case 'HistorySyncRequest':
    case 'HistoryOffer':
      return checkCurrent(n, m, epochLeader(m.epoch));
    case 'Leave':
      return true;
  }
}

/** A leader's own announcement: minted by its sender, and not older than ours. */
function checkAnnouncement(n: NodeState, m: ServerMessage): boolean {
  if (epochLeader(m.epoch) !== m.from) {
    rejectInvalid(n, m, 'epoch not minted by sender');
    return false;
  }
  if (m.epoch < n.epoch) {
    replyStale(n, m.from, m.type);
    return false;
  }
  return true;
}

/** Only messages of our own epoch go on; older ones get StaleEpoch, newer ones are adopted. */
function checkCurrent(n: NodeState, m: ServerMessage, leader: number | null): boolean {
  if (m.epoch < n.epoch) {
    replyStale(n, m.from, m.type);
    return false;
  }
  if (m.epoch > n.epoch) {
    adoptNewerEpoch(n, m.epoch, leader);
    return false;
  }
  return true;
}
