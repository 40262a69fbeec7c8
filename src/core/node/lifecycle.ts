/** A server's first moments and its graceful departure. */
import type { HardState } from '../epoch.js';
import { startTerms } from './epochs.js';
import { becomeLeaderless, listenBeforeElecting, stepDown } from './leadership.js';
import { cancelQueued } from './local-tasks.js';
import { broadcast } from './send.js';
import type { NodeState } from './state.js';

/** A fresh (or restarted) server first listens for an existing leader before electing. */
export function startNode(n: NodeState, restored: HardState | undefined): void {
  startTerms(n, restored);
  n.nextHousekeepingAt = n.now + n.config.monitor_interval_ms;
  becomeLeaderless(n, null, []);
  if (n.config.peers.length === 0) n.electionAt = n.now;
  else listenBeforeElecting(n);
}

/** Graceful shutdown: tell every peer, stop taking work; results in flight are still sent. */
export function shutdown(n: NodeState): void {
  if (n.role === 'left') return;
  if (n.role === 'leader') stepDown(n, 'shutdown');
  broadcast(n, { type: 'Leave', from: n.id, epoch: n.epoch });
  n.role = 'left';
  n.leaderId = null;
  // Queued work is handed back: the leader reassigns it when it gets Leave.
  for (const [key, task] of n.localTasks) {
    if (task.state === 'queued') cancelQueued(n, key, task);
  }
}
