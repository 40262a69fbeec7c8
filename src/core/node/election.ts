/**
 * The load-priority Bully election, improved in Gholipour's way, for when no leader is known.
 *
 * Normally a lost leader is replaced by the first live server on its successor list
 * (./leadership.ts arms `claimAt`). Only if that ladder is used up does a full election run:
 * the initiator broadcasts Election with its score, better servers answer Alive without
 * starting elections of their own, and after election_timeout the initiator nominates the
 * best answerer (Nominate), which claims. Lower score wins; ties go to the lower id.
 */
import type { AliveMessage, ElectionMessage, NominateMessage, ServerId } from '../messages.js';
import { betterCandidate } from '../score.js';
import { sendLeaderHint } from './epochs.js';
import { becomeLeaderless, claimLeadership, coordinatorMessage } from './leadership.js';
import { myScore } from './load.js';
import { broadcast, emit, sendTo } from './send.js';
import type { NodeState } from './state.js';

/** A node with a leader heard this recently answers Election with a leader hint instead. */
const LIVE_LEADER_HEARTBEATS = 2;

/** A follower that heard its leader itself within two heartbeats vouches for it. */
export function hasLiveLeader(n: NodeState): boolean {
  return (
    n.role === 'follower' &&
    n.leaderId !== null &&
    n.now - n.leaderContactAt <= LIVE_LEADER_HEARTBEATS * n.config.heartbeat_interval_ms
  );
}

/** A leader answers Election and Nominate by announcing itself to the sender. */
export function announceTo(n: NodeState, to: ServerId): void {
  sendTo(n, to, coordinatorMessage(n, 'election'));
}

/** Follower or candidate without a live leader: answer Alive if better, else let the sender win. */
export function answerElection(n: NodeState, m: ElectionMessage): void {
  if (betterCandidate(myScore(n), n.id, m.score, m.from)) {
    const alive: AliveMessage = {
      type: 'Alive',
      from: n.id,
      epoch: n.epoch,
      max_term: n.maxTerm,
      round: m.round,
      score: myScore(n),
    };
    sendTo(n, m.from, alive);
  } else if (n.role === 'candidate') {
    // A better candidate is electing: let it finish (improved Bully), keep a backstop.
    n.election = null;
    n.role = 'follower';
  }
  postponeElection(n, 3 * n.config.election_timeout_ms);
}

/** A follower with a live leader tells the candidate so instead of taking part. */
export function answerElectionWithLeader(n: NodeState, m: ElectionMessage | NominateMessage): void {
  sendLeaderHint(n, m.from, m.type);
}

function postponeElection(n: NodeState, by_ms: number): void {
  if (n.role !== 'follower' || n.leaderId !== null) return;
  const at = n.now + by_ms;
  if (n.electionAt === null || n.electionAt < at) n.electionAt = at;
}

/** Candidate: a better server answered our Election. */
export function recordAlive(n: NodeState, m: AliveMessage): void {
  const e = n.election;
  if (e === null || m.round !== e.round) return;
  e.answers.set(m.from, m.score);
}

function startElection(n: NodeState): void {
  n.claimAt = null;
  n.electionAt = null;
  if (n.config.peers.length === 0) {
    claimLeadership(n, 'alone');
    return;
  }
  n.role = 'candidate';
  n.electionRound++;
  n.counters.elections_started++;
  n.election = {
    round: n.electionRound,
    deadline_ms: n.now + n.config.election_timeout_ms,
    phase: 'collecting',
    answers: new Map(),
    nominee: null,
  };
  emit(n, { type: 'electionStarted', round: n.electionRound });
  const msg: ElectionMessage = {
    type: 'Election',
    from: n.id,
    epoch: n.epoch,
    max_term: n.maxTerm,
    round: n.electionRound,
    score: myScore(n),
  };
  broadcast(n, msg);
}

/** Candidate at its deadline: claim if nobody better answered, else nominate the best one. */
export function checkElection(n: NodeState): void {
  const e = n.election;
  if (e === null || n.role !== 'candidate' || n.now < e.deadline_ms) return;
  if (e.nominee !== null) e.answers.delete(e.nominee);
  let best: ServerId | null = null;
  let bestScore = Infinity;
  for (const [id, score] of e.answers) {
    if (best === null || betterCandidate(score, id, bestScore, best)) {
      best = id;
      bestScore = score;
    }
  }
  if (best === null || betterCandidate(myScore(n), n.id, bestScore, best)) {
    claimLeadership(n, 'election');
    return;
  }
  e.phase = 'nominated';
  e.nominee = best;
  e.deadline_ms = n.now + n.config.election_timeout_ms;
  const msg: NominateMessage = {
    type: 'Nominate',
    from: n.id,
    epoch: n.epoch,
    max_term: n.maxTerm,
    round: e.round,
  };
  sendTo(n, best, msg);
}

/** Leaderless follower: a successor claims at its turn; otherwise a full election starts. */
export function checkLeaderless(n: NodeState): void {
  if (n.role !== 'follower' || n.leaderId !== null) return;
  if (n.claimAt !== null && n.now >= n.claimAt) {
    claimLeadership(n, 'successor');
  } else if (n.electionAt !== null && n.now >= n.electionAt) {
    startElection(n);
  }
}

/** Our leader is gone (silent for a failure timeout, or it left): the ladder takes over. */
export function onLeaderLost(n: NodeState): void {
  const lost = n.leaderId;
  if (lost === null) return;
  emit(n, { type: 'leaderLost', leader_id: lost, epoch: n.epoch });
  becomeLeaderless(n, lost, n.successors);
  checkLeaderless(n);
}
