/**
 * Time passing: every input first moves the node's clock (noticing stalls); `tick` runs the
 * timers of the current role (etcd-io/raft's tickElection / tickHeartbeat), then heartbeats
 * and housekeeping; `nextDeadline` says when the next timer is due.
 */
import { sendPendingRemovals } from './acks.js';
import { checkElection, checkLeaderless } from './election.js';
import { endSilence, maybeScheduleFailureSimulation } from './failure-simulation.js';
import { checkLeaderAlive, checkMembers, onStall } from './failure-detection.js';
import { checkHysteresis } from './handover.js';
import { maybeSendHeartbeat } from './heartbeat.js';
import { expireHistory } from './history-leader.js';
import { resendResults } from './local-tasks.js';
import { nextMemberDeadline } from './membership.js';
import { pushStatus, reassignFromUnavailable } from './placement.js';
import type { NodeState } from './state.js';

/** How often a leader scans its whole history for dead placements and expired entries. */
const HISTORY_SCAN_INTERVAL_MS = 1000;

/** Most reminders per probe round, so a large history never causes a burst. */
const MAX_PROBES_PER_ROUND = 256;

/** Every input starts here: time never goes back, and a long gap means we were stalled. */
export function enterInput(n: NodeState, now_ms: number): void {
  const now = Number.isFinite(now_ms) ? Math.max(now_ms, n.now) : n.now;
  const gap = n.lastInputAt === null ? 0 : now - n.lastInputAt;
  n.now = now;
  n.lastInputAt = now;
  if (gap > n.config.failure_timeout_ms && n.role !== 'silent' && n.role !== 'left') {
    onStall(n, gap);
  }
}

export function tick(n: NodeState): void {
  if (n.role === 'silent') {
    if (n.silentUntil !== null && n.now >= n.silentUntil) endSilence(n);
    else return;
  }
  if (n.role === 'left') return;
  // A role may change on the way (a successor claims, a candidate wins): each step below
  // looks at the role as it is now.
  if (n.role === 'follower') tickFollower(n);
  if (n.role === 'candidate') tickCandidate(n);
  if (n.role === 'leader') tickLeader(n);
  maybeSendHeartbeat(n);
  if (n.now >= n.nextHousekeepingAt) {
    n.nextHousekeepingAt = n.now + n.config.monitor_interval_ms;
    housekeeping(n);
  }
}

/** Leaderless: claim at our turn or start an election; else watch the leader. */
function tickFollower(n: NodeState): void {
  if (n.leaderId === null) checkLeaderless(n);
  else checkLeaderAlive(n);
}

function tickCandidate(n: NodeState): void {
  checkElection(n);
}

function tickLeader(n: NodeState): void {
  checkMembers(n);
}

function housekeeping(n: NodeState): void {
  sendPendingRemovals(n);
  resendResults(n);
  if (n.role !== 'leader') return;
  if (n.now >= n.nextHistoryScanAt) {
    // Full-history scans are a backstop (failures, takeovers and merges reassign at
    // once), so once a second is plenty even with a large history.
    n.nextHistoryScanAt = n.now + HISTORY_SCAN_INTERVAL_MS;
    reassignFromUnavailable(n);
    expireHistory(n);
  }
  probeOrphans(n);
  checkHysteresis(n);
  maybeScheduleFailureSimulation(n);
}

/**
 * Reminds clients of old entries. A client that already delivered the task acknowledges
 * it (clearing entries a lost ack or a partition merge left behind); one still waiting
 * learns the current placement.
 */
function probeOrphans(n: NodeState): void {
  const period = n.config.limits.orphan_probe_ms;
  if (n.now < n.nextOrphanProbeAt) return;
  n.nextOrphanProbeAt = n.now + period;
  let sent = 0;
  for (const entry of n.history.olderThan(n.now - period)) {
    if (sent++ >= MAX_PROBES_PER_ROUND) break;
    pushStatus(n, entry);
  }
}

/** The latest time by which `tick` must be called. */
export function nextDeadline(n: NodeState): number {
  let next = n.nextHousekeepingAt;
  const consider = (t: number | null): void => {
    if (t !== null && t < next) next = t;
  };
  if (n.role === 'silent') return Math.max(n.silentUntil ?? n.now, n.now);
  if (n.role === 'left') return n.now + n.config.monitor_interval_ms * 10;
  if (n.role === 'leader' || n.leaderId !== null) consider(n.nextHeartbeatAt);
  if (n.role === 'follower' && n.leaderId !== null) {
    consider(n.leaderLastHeard + n.config.failure_timeout_ms);
  }
  consider(n.claimAt);
  consider(n.electionAt);
  consider(n.election?.deadline_ms ?? null);
  if (n.role === 'leader') consider(nextMemberDeadline(n));
  return Math.max(next, n.now);
}
