/**
 * The leader's member table: who is alive, suspected, failed, silent or gone, their last
 * load, and how much work was placed on each since its last report. Failure detection
 * itself (timeouts, reassignment) is in ./failure-detection.ts.
 */
import type { HeartbeatMessage, MemberView, ServerId } from '../messages.js';
import { emit } from './send.js';
import { silenceGuard_ms, type Member, type NodeState } from './state.js';

/** Any message from a peer proves it is alive. */
export function touchMember(n: NodeState, id: ServerId): void {
  const m = n.members.get(id);
  if (m === undefined) return;
  m.last_heard_ms = n.now;
  if (m.state !== 'alive') reviveMember(n, m);
}

function reviveMember(n: NodeState, m: Member): void {
  const wasDown = m.state === 'failed' || m.state === 'left' || m.state === 'silent';
  m.state = 'alive';
  if (wasDown) {
    m.synced = false;
    emit(n, { type: 'peerRecovered', peer: m.id });
    // The cluster just changed shape (maybe a healed partition whose other side ran its
    // own failure simulation): inject nothing until any silence there must have ended.
    const guard = silenceGuard_ms(n, n.config.failure_simulation.max_silence_ms);
    n.failureSimBusyUntil = Math.max(n.failureSimBusyUntil, n.now + guard);
  }
}

/** A follower's heartbeat: its load, its sync state, and proof of life. */
export function updateMember(n: NodeState, hb: HeartbeatMessage): void {
  const m = n.members.get(hb.from);
  if (m === undefined) return;
  m.last_heard_ms = n.now;
  m.load = hb.load;
  m.assigned_since_report = 0;
  m.synced = hb.synced;
  if (m.state !== 'alive') reviveMember(n, m);
  m.synced = hb.synced;
}

/** When the next live member turns suspected (half a failure timeout) or failed (a whole one). */
export function nextMemberDeadline(n: NodeState): number | null {
  const ft = n.config.failure_timeout_ms;
  let next: number | null = null;
  for (const m of n.members.values()) {
    if (m.state !== 'alive' && m.state !== 'suspected') continue;
    const heard = m.last_heard_ms ?? n.now;
    const t = m.state === 'alive' ? heard + ft / 2 : heard + ft;
    if (next === null || t < next) next = t;
  }
  return next;
}

/** The table as heartbeats and /status show it. */
export function memberViews(n: NodeState, now: number): MemberView[] {
  return [...n.members.values()].map((m) => ({
    id: m.id,
    state: m.state,
    synced: m.synced,
    age_ms: m.last_heard_ms === null ? null : Math.max(0, Math.round(now - m.last_heard_ms)),
    load: m.load,
  }));
}

/** A new leader seeds its table from the previous leader's last view (ages carry over). */
export function initMembersForLeadership(n: NodeState, previousLeader: ServerId | null): void {
  const view = new Map(n.leaderView.map((v) => [v.id, v]));
  for (const m of n.members.values()) {
    const seen = view.get(m.id);
    m.assigned_since_report = 0;
    if (seen !== undefined) {
      m.state = seen.state === 'suspected' ? 'alive' : seen.state;
      m.synced = seen.synced;
      m.load = seen.load;
      // The view is as old as the leader's last heartbeat (up to a failure timeout ago):
      // members it saw alive get a short grace to report to us before they count as dead.
      const seenAt = seen.age_ms === null ? n.now : n.leaderViewAt - seen.age_ms;
      m.last_heard_ms = Math.max(seenAt, n.now - n.config.failure_timeout_ms / 4);
    } else if (m.last_heard_ms === null || m.state === 'alive' || m.state === 'suspected') {
      // Unknown: give it one failure timeout to show up.
      m.state = 'alive';
      m.last_heard_ms = n.now;
    }
    if (m.id === previousLeader) {
      // The leader we lost: failed unless we heard it recently (a handover).
      m.last_heard_ms = n.leaderLastHeard;
      const lost = n.now - n.leaderLastHeard >= n.config.failure_timeout_ms;
      m.state = lost ? 'failed' : 'alive';
    }
  }
}
