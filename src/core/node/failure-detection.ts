/**
 * Failure detection by heartbeats. A follower that hears nothing from its leader for the
 * failure timeout declares it lost; the leader suspects a silent follower after half of it
 * and declares it failed (or "silent", if the failure simulation silenced it) after all of
 * it, and moves its tasks. A server whose own inputs stopped for longer than the failure
 * timeout (SIGSTOP, a blocked event loop) distrusts everything it believed.
 */
import type { ServerId } from '../messages.js';
import { onLeaderLost } from './election.js';
import { resetReplication } from './history-follower.js';
import { becomeLeaderless, stepDown } from './leadership.js';
import { reassignFrom } from './placement.js';
import { emit } from './send.js';
import type { NodeState } from './state.js';

/** Follower with a leader: has it been silent for the failure timeout? */
export function checkLeaderAlive(n: NodeState): void {
  if (n.now - n.leaderLastHeard >= n.config.failure_timeout_ms) onLeaderLost(n);
}

/** Leader: suspect, then fail, followers that stopped reporting; their tasks move. */
export function checkMembers(n: NodeState): void {
  const ft = n.config.failure_timeout_ms;
  for (const m of n.members.values()) {
    if (m.state !== 'alive' && m.state !== 'suspected') continue;
    const age = n.now - (m.last_heard_ms ?? n.now);
    if (age >= ft) {
      // Its tasks move either way; only the name differs (the dashboard shows "silent").
      const silencedUntil = n.silencedPeers.get(m.id);
      if (silencedUntil !== undefined && n.now < silencedUntil) {
        m.state = 'silent';
      } else {
        m.state = 'failed';
        emit(n, { type: 'peerFailed', peer: m.id });
      }
      n.silencedPeers.delete(m.id);
      reassignFrom(n, m.id);
    } else if (age >= ft / 2 && m.state === 'alive') {
      m.state = 'suspected';
      emit(n, { type: 'peerSuspected', peer: m.id });
    }
  }
}

/** Leader: a follower announced a graceful shutdown; its tasks move now. */
export function onMemberLeft(n: NodeState, from: ServerId): void {
  const m = n.members.get(from);
  if (m === undefined || m.state === 'left') return;
  m.state = 'left';
  emit(n, { type: 'peerLeft', peer: from });
  reassignFrom(n, from);
}

/** Our own inputs stopped for `gap` ms: whatever we believed is stale. */
export function onStall(n: NodeState, gap: number): void {
  emit(n, { type: 'stallDetected', stalled_ms: gap });
  // Drop leadership, listen before acting, resync history.
  if (n.role === 'leader') stepDown(n, 'stalled');
  for (const m of n.members.values()) {
    if (m.state === 'alive' || m.state === 'suspected') m.last_heard_ms = n.now;
  }
  if (n.role === 'candidate') n.role = 'follower';
  if (n.leaderId !== null) {
    n.leaderLastHeard = n.now;
    resetReplication(n);
  } else {
    becomeLeaderless(n, null, []);
    n.electionAt = n.now + n.config.failure_timeout_ms;
  }
}
