/**
 * What each role does with a server message, once ./epoch-rules.ts let it through (the
 * shape of etcd-io/raft's stepLeader, stepFollower and stepCandidate). Silent and departed
 * servers never get here (./step.ts drops their input).
 */
import type { ServerMessage } from '../messages.js';
import { replyStale } from './epochs.js';
import {
  announceTo,
  answerElection,
  answerElectionWithLeader,
  hasLiveLeader,
  onLeaderLost,
  recordAlive,
} from './election.js';
import { onFailureSimulation } from './failure-simulation.js';
import { onMemberLeft } from './failure-detection.js';
import {
  followAnnouncedLeader,
  followHintedLeader,
  onCoordinatorAsFollower,
  onLeaderHeartbeat,
  refreshLeader,
} from './following.js';
import { onHandover } from './handover.js';
import { applyOrBuffer, onSnapshotPart } from './history-follower.js';
import { commitRemove, sendSnapshot } from './history-leader.js';
import { mergeOffer } from './history-merge.js';
import { claimLeadership } from './leadership.js';
import { updateMember } from './membership.js';
import type { NodeState } from './state.js';

export function stepLeader(n: NodeState, m: ServerMessage): void {
  switch (m.type) {
    case 'Election':
    case 'Nominate':
      return announceTo(n, m.from);
    case 'Coordinator':
      return followAnnouncedLeader(n, m); // a newer leader: step down
    case 'Heartbeat':
      if (m.role === 'leader') return onLeaderHeartbeat(n, m); // a newer leader: step down
      if (m.leader_id === n.id) updateMember(n, m);
      return;
    case 'HistoryRemove':
      if (m.seq === null) commitRemove(n, m); // a follower reports a client's ack
      return;
    case 'HistorySyncRequest':
      return sendSnapshot(n, m.from);
    case 'HistoryOffer':
      return mergeOffer(n, m);
    case 'Leave':
      return onMemberLeft(n, m.from);
    case 'Alive':
    case 'StaleEpoch':
    case 'Handover':
    case 'HistoryAdd':
    case 'HistorySnapshot':
    case 'FailureSimulation':
      return; // only for followers and candidates
  }
}

export function stepFollower(n: NodeState, m: ServerMessage): void {
  switch (m.type) {
    case 'Election':
      if (hasLiveLeader(n)) return answerElectionWithLeader(n, m);
      return answerElection(n, m);
    case 'Nominate':
      if (hasLiveLeader(n)) return answerElectionWithLeader(n, m);
      return claimLeadership(n, 'nominated');
    case 'Coordinator':
      return onCoordinatorAsFollower(n, m);
    case 'Heartbeat':
      if (m.role === 'leader') onLeaderHeartbeat(n, m);
      return;
    case 'StaleEpoch':
      if (n.leaderId === null) followHintedLeader(n, m);
      return;
    case 'Handover':
      return onHandover(n, m);
    case 'HistoryRemove':
      if (m.seq === null) {
        if (m.epoch < n.epoch) replyStale(n, m.from, m.type);
        return;
      }
      if (fromOurLeader(n, m)) applyOrBuffer(n, m.seq, { kind: 'remove', ref: m });
      return;
    case 'HistoryAdd':
      if (fromOurLeader(n, m)) applyOrBuffer(n, m.seq, { kind: 'add', entry: m.entry });
      return;
    case 'HistorySnapshot':
      if (fromOurLeader(n, m)) onSnapshotPart(n, m);
      return;
    case 'FailureSimulation':
      if (fromOurLeader(n, m)) onFailureSimulation(n, m);
      return;
    case 'Leave':
      if (n.leaderId === m.from) onLeaderLost(n);
      return;
    case 'Alive':
    case 'HistorySyncRequest':
    case 'HistoryOffer':
      return; // only for candidates and leaders
  }
}

export function stepCandidate(n: NodeState, m: ServerMessage): void {
  switch (m.type) {
    case 'Election':
      return answerElection(n, m);
    case 'Alive':
      return recordAlive(n, m);
    case 'Nominate':
      return claimLeadership(n, 'nominated');
    case 'Coordinator':
      return followAnnouncedLeader(n, m); // someone else won
    case 'Heartbeat':
      if (m.role === 'leader') onLeaderHeartbeat(n, m);
      return;
    case 'StaleEpoch':
      return followHintedLeader(n, m);
    case 'HistoryRemove':
      if (m.seq === null && m.epoch < n.epoch) replyStale(n, m.from, m.type);
      return;
    case 'Handover':
    case 'HistoryAdd':
    case 'HistorySnapshot':
    case 'FailureSimulation':
    case 'HistorySyncRequest':
    case 'HistoryOffer':
    case 'Leave':
      return; // only for followers and leaders
  }
}

/** A directive from the leader we follow counts as a sign of life; any other is ignored. */
function fromOurLeader(n: NodeState, m: ServerMessage): boolean {
  if (n.leaderId !== m.from) return false;
  refreshLeader(n);
  return true;
}
