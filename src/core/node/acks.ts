/**
 * A client acknowledged a result (TaskAck) or asks where its task is (TaskStatusQuery).
 * An ack frees the local copy of the task and removes its history entry: a leader commits
 * the removal itself, a follower reports it to the leader until the removal comes back.
 */
import {
  isNewerAssignment,
  taskKey,
  type TaskAckMessage,
  type TaskRef,
  type TaskStatusQueryMessage,
} from '../messages.js';
import { commitRemove } from './history-leader.js';
import { cancelQueued, dropLocalTask, localState } from './local-tasks.js';
import { sendTo, toClient } from './send.js';
import type { NodeState } from './state.js';

export function onTaskAck(n: NodeState, m: TaskAckMessage): void {
  const key = taskKey(m.client_id, m.task_id);
  const task = n.localTasks.get(key);
  if (task !== undefined) {
    if (task.state === 'done') dropLocalTask(n, key, task);
    else if (task.state === 'queued') cancelQueued(n, key, task);
    else task.acked = true;
  }
  const ref: TaskRef = { client_id: m.client_id, task_id: m.task_id };
  if (n.role === 'leader') {
    if (n.history.get(key) !== undefined || !n.history.isTombstoned(key)) commitRemove(n, ref);
    return;
  }
  if (n.history.isTombstoned(key) && n.history.get(key) === undefined) return;
  if (n.pendingRemovals.size >= n.config.limits.max_cached_results) return;
  n.pendingRemovals.set(key, {
    ref,
    next_send_ms: n.now,
    expires_ms: n.now + n.config.limits.history_ttl_ms,
  });
  sendPendingRemovals(n);
}

/** Reports acks to the leader (once per heartbeat interval each) until they are settled. */
export function sendPendingRemovals(n: NodeState): void {
  for (const [key, p] of n.pendingRemovals) {
    const settled = n.history.isTombstoned(key) && n.history.get(key) === undefined;
    if (settled || n.now >= p.expires_ms) {
      n.pendingRemovals.delete(key);
      continue;
    }
    if (n.now < p.next_send_ms) continue;
    if (n.role === 'leader') {
      commitRemove(n, p.ref);
      n.pendingRemovals.delete(key);
      continue;
    }
    if (n.leaderId === null) continue;
    p.next_send_ms = n.now + n.config.heartbeat_interval_ms;
    sendTo(n, n.leaderId, {
      type: 'HistoryRemove',
      from: n.id,
      epoch: n.epoch,
      seq: null,
      client_id: p.ref.client_id,
      task_id: p.ref.task_id,
    });
  }
}

/** Any server answers with the newest placement it knows (its history or its own copy). */
export function onStatusQuery(n: NodeState, m: TaskStatusQueryMessage): void {
  const key = taskKey(m.client_id, m.task_id);
  const fromHistory = n.history.get(key)?.assignment ?? null;
  const local = n.localTasks.get(key)?.assignment ?? null;
  const assignment = local !== null && isNewerAssignment(local, fromHistory) ? local : fromHistory;
  toClient(n, m.client_id, {
    type: 'TaskStatusResponse',
    from: n.id,
    epoch: n.epoch,
    client_id: m.client_id,
    task_id: m.task_id,
    assignment,
    local_state: localState(n, key),
    is_leader: n.role === 'leader',
  });
}
