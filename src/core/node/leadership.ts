/**
 * Role transitions (etcd-io/raft's becomeLeader / becomeFollower): claiming leadership with
 * a fresh epoch, stepping down, following a leader, and becoming leaderless with the
 * successor ladder armed. Every change of `role` goes through here, except silence
 * (./failure-simulation.ts) and the election's candidacy (./election.ts).
 */
import { invariant } from '../assert.js';
import { epochLeader, epochTerm, formatEpoch, makeEpoch, MAX_TERM } from '../epoch.js';
import type { StepDownReason } from '../events.js';
import type { CoordinatorMessage, HistoryInfo, LeaderReason, ServerId } from '../messages.js';
import { randomInt } from '../random.js';
import { answerHeardAssignmentRequests } from './assignment.js';
import { noteTerm, ownTermCeiling, setEpoch } from './epochs.js';
import { beginFollowerSync, resetReplication } from './history-follower.js';
import { historyInfo } from './load.js';
import { initMembersForLeadership } from './membership.js';
import { reassignFromUnavailable } from './placement.js';
import { broadcast, emit } from './send.js';
import type { NodeState } from './state.js';
import { computeSuccessors, fallbackRank } from './successors.js';

/** Fallback elections start at most this many slots (election_timeout / 4 each) late. */
const MAX_FALLBACK_RANK = 8;

/**
 * Leads a new epoch: a term above every term seen, announced to every peer at once. A term
 * beyond what our clock allows (./epochs.ts ownTermCeiling) waits for the clock instead.
 */
export function claimLeadership(n: NodeState, reason: LeaderReason): void {
  const term = Math.max(n.maxTerm, epochTerm(n.epoch)) + 1;
  const ceiling = ownTermCeiling(n);
  if (term > ceiling) {
    claimWhenClockAllows(n, term > MAX_TERM ? n.config.election_timeout_ms : term - ceiling);
    return;
  }
  noteTerm(n, term);
  const previousLeader = n.leaderId === null ? epochLeader(n.epoch) : null;
  const epoch = makeEpoch(term, n.id);
  invariant(epoch > n.epoch, 'a server claims only epochs above every one it held', () => ({
    server: n.id,
    held: formatEpoch(n.epoch),
    claimed: formatEpoch(epoch),
  }));
  setEpoch(n, epoch);
  n.role = 'leader';
  n.leaderId = n.id;
  n.leadingSince = n.now;
  n.election = null;
  n.claimAt = null;
  n.electionAt = null;
  n.overloadedSince = null;
  n.counters.leaderships++;
  n.seq = 0;
  n.appliedSeq = 0;
  n.buffered.clear();
  n.snapshot = null;
  n.syncRequestedAt = null;
  n.behindSince = null;
  initMembersForLeadership(n, previousLeader);
  n.failureSimNextPickAt = n.now + n.config.failure_simulation.interval_ms;
  n.nextOrphanProbeAt = n.now + n.config.limits.orphan_probe_ms;
  emit(n, { type: 'becameLeader', epoch: n.epoch, reason });
  broadcast(n, coordinatorMessage(n, reason));
  n.nextHeartbeatAt = n.now + n.config.heartbeat_interval_ms;
  reassignFromUnavailable(n);
  answerHeardAssignmentRequests(n);
}

/**
 * Too early for the next term (only after terms were pushed near the clock's ceiling, e.g.
 * just after a start with no hard state): leaderless, claiming as soon as the clock allows.
 */
function claimWhenClockAllows(n: NodeState, wait_ms: number): void {
  if (n.role === 'leader') stepDown(n, 'newer_epoch');
  n.role = 'follower';
  n.leaderId = null;
  n.election = null;
  n.electionAt = null;
  n.claimAt = n.now + wait_ms;
}

export function coordinatorMessage(n: NodeState, reason: LeaderReason): CoordinatorMessage {
  return {
    type: 'Coordinator',
    from: n.id,
    epoch: n.epoch,
    max_term: n.maxTerm,
    reason,
    successors: computeSuccessors(n),
    history: historyInfo(n),
  };
}

export function stepDown(n: NodeState, reason: StepDownReason): void {
  if (n.role !== 'leader') return;
  emit(n, { type: 'steppedDown', epoch: n.epoch, reason });
  n.role = 'follower';
  n.leaderId = null;
  n.appliedSeq = -1;
}

/**
 * No leader: successor number k on the list claims k election timeouts from now; if the
 * whole ladder is gone, a full election, the best-ranked survivor first, so that usually
 * only one server broadcasts Election.
 */
export function becomeLeaderless(
  n: NodeState,
  lostLeader: ServerId | null,
  successors: readonly ServerId[],
): void {
  n.role = 'follower';
  n.leaderId = null;
  n.election = null;
  n.claimAt = null;
  const et = n.config.election_timeout_ms;
  const ladder = successors.filter((s) => s !== lostLeader);
  const rank = ladder.indexOf(n.id);
  if (rank >= 0) n.claimAt = n.now + rank * et;
  const excluded = new Set<ServerId>(ladder);
  if (lostLeader !== null) excluded.add(lostLeader);
  const slot = Math.max(1, Math.floor(et / 4));
  const stagger = Math.min(fallbackRank(n, excluded), MAX_FALLBACK_RANK) * slot;
  const jitter = randomInt(n.random, 0, Math.floor(slot / 2));
  n.electionAt = n.now + ladder.length * et + stagger + jitter;
}

/** After boot, a stall or a silence: wait one failure timeout (plus jitter) for a leader. */
export function listenBeforeElecting(n: NodeState): void {
  const jitter = randomInt(n.random, 0, Math.floor(n.config.election_timeout_ms / 2));
  n.electionAt = n.now + n.config.failure_timeout_ms + jitter;
}

/** Follows `leader` in `epoch` (stepping down if leading); a new leader means a fresh sync. */
export function acceptLeader(
  n: NodeState,
  leader: ServerId,
  epoch: number,
  info: HistoryInfo | null,
): void {
  invariant(
    epochLeader(epoch) === leader,
    'an epoch is led only by the server that minted it',
    () => ({
      server: n.id,
      leader,
      epoch: formatEpoch(epoch),
    }),
  );
  const changed = epoch !== n.epoch || n.leaderId !== leader || n.role !== 'follower';
  if (n.role === 'leader') stepDown(n, 'newer_epoch');
  n.role = 'follower';
  n.election = null;
  n.claimAt = null;
  n.electionAt = null;
  setEpoch(n, epoch);
  n.leaderId = leader;
  n.leaderLastHeard = n.now;
  n.nextHeartbeatAt = n.now;
  if (!changed) return;
  n.leaderContactAt = -Infinity;
  emit(n, { type: 'leaderAcknowledged', leader_id: leader, epoch });
  n.successors = [];
  n.leaderView = [];
  resetReplication(n);
  if (info !== null) beginFollowerSync(n, info);
}

/** Something from a newer epoch: follow it (tentatively) and step down if leading. */
export function adoptNewerEpoch(n: NodeState, epoch: number, leaderId: ServerId | null): void {
  if (epoch <= n.epoch) return;
  if (leaderId !== null && leaderId !== n.id && epochLeader(epoch) === leaderId) {
    acceptLeader(n, leaderId, epoch, null);
    return;
  }
  if (n.role === 'leader') stepDown(n, 'newer_epoch');
  setEpoch(n, epoch);
  becomeLeaderless(n, null, []);
  listenBeforeElecting(n);
}
