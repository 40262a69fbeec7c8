/**
 * Leader: a follower's history offered after a partition heals. Its acknowledged tasks are
 * removed here too, its newer placements are taken over and replicated, and anything placed
 * on a server we do not see alive moves at once, so no task assigned on the other side of
 * the partition is lost.
 */
import { taskKey, type HistoryOfferMessage } from '../messages.js';
import { broadcastChange, commitRemove } from './history-leader.js';
import { reassignFromUnavailable } from './placement.js';
import type { NodeState } from './state.js';

export function mergeOffer(n: NodeState, m: HistoryOfferMessage): void {
  for (const t of m.tombstones) {
    if (n.history.get(taskKey(t.client_id, t.task_id)) !== undefined) commitRemove(n, t);
    else n.history.remove(t);
  }
  for (const entry of m.entries) {
    if (n.history.setIfNewer(entry, n.now)) broadcastChange(n, { kind: 'add', entry });
  }
  reassignFromUnavailable(n);
}
