/**
 * Heartbeats: a leader sends one to every configured peer each heartbeat interval (also to
 * those it believes dead, so a healed partition or a rejoining server hears it at once); a
 * follower sends its load and sync state to its leader only.
 */
import type { HeartbeatMessage } from '../messages.js';
import { historyInfo, loadReport } from './load.js';
import { memberViews } from './membership.js';
import { broadcast, sendTo } from './send.js';
import type { NodeState } from './state.js';
import { computeSuccessors } from './successors.js';

export function maybeSendHeartbeat(n: NodeState): void {
  if (n.now < n.nextHeartbeatAt) return;
  const hi = n.config.heartbeat_interval_ms;
  n.nextHeartbeatAt = Math.max(n.nextHeartbeatAt + hi, n.now + hi / 2);
  if (n.role === 'leader') {
    n.selfAssignedSinceReport = 0;
    broadcast(n, heartbeatMessage(n));
  } else if (n.role === 'follower' && n.leaderId !== null) {
    sendTo(n, n.leaderId, heartbeatMessage(n));
  }
}

function heartbeatMessage(n: NodeState): HeartbeatMessage {
  const leading = n.role === 'leader';
  return {
    type: 'Heartbeat',
    from: n.id,
    epoch: n.epoch,
    leader_id: n.leaderId,
    role: n.role,
    load: loadReport(n),
    synced: n.isSynced,
    history: historyInfo(n),
    successors: leading ? computeSuccessors(n) : [],
    members: leading ? memberViews(n, n.now) : [],
  };
}
