/**
 * What leaders tell their followers: Coordinator (a new leader announces its epoch), leader
 * heartbeats (alive, successors, member view, history summary) and StaleEpoch hints (a peer
 * follows a live leader in our epoch). Their epochs were checked first (./epoch-rules.ts).
 */
import { epochLeader } from '../epoch.js';
import type { CoordinatorMessage, HeartbeatMessage, StaleEpochMessage } from '../messages.js';
import { rejectInvalid } from './epochs.js';
import { checkReplicationProgress } from './history-follower.js';
import { acceptLeader } from './leadership.js';
import type { NodeState } from './state.js';

/** A follower hears again from the leader it follows: it is alive. */
export function refreshLeader(n: NodeState): void {
  n.leaderLastHeard = n.now;
  n.leaderContactAt = n.now;
}

/** A new leader announced itself: follow it (stepping down or giving up candidacy). */
export function followAnnouncedLeader(n: NodeState, m: CoordinatorMessage): void {
  acceptLeader(n, m.from, m.epoch, m.history);
  n.leaderContactAt = n.now;
  n.successors = [...m.successors];
}

/** A follower hears a Coordinator: from its own leader it is a sign of life, else a new leader. */
export function onCoordinatorAsFollower(n: NodeState, m: CoordinatorMessage): void {
  if (m.epoch === n.epoch && n.leaderId === m.from) refreshLeader(n);
  else followAnnouncedLeader(n, m);
}

/** A leader's heartbeat: follow it if it is new to us, then take its view and check our sync. */
export function onLeaderHeartbeat(n: NodeState, m: HeartbeatMessage): void {
  if (m.epoch > n.epoch || n.leaderId !== m.from || n.role !== 'follower') {
    acceptLeader(n, m.from, m.epoch, m.history);
  }
  refreshLeader(n);
  n.successors = [...m.successors];
  n.leaderView = m.members;
  n.leaderViewAt = n.now;
  checkReplicationProgress(n, m.history);
}

/** Same epoch: a peer with a live leader answered our election; a leaderless server follows it. */
export function followHintedLeader(n: NodeState, m: StaleEpochMessage): void {
  if (m.epoch !== n.epoch || m.leader_id === null || m.leader_id === n.id) return;
  // Honest peers only ever name the leader that minted the epoch; refuse anything else.
  if (epochLeader(m.epoch) !== m.leader_id)
    return rejectInvalid(n, m, 'leader_id did not mint epoch');
  acceptLeader(n, m.leader_id, m.epoch, null);
}
