/**
 * TaskAssignmentRequest: clients multicast it to every server and only a leader answers,
 * placing the task and replicating the entry. A follower remembers what it heard, so that
 * if it takes over it answers those requests at once rather than after each client's retry.
 */
import {
  taskKey,
  type Assignment,
  type TaskAssignmentRequestMessage,
  type TaskRef,
} from '../messages.js';
import { commitAdd } from './history-leader.js';
import { place } from './placement.js';
import { emit, toClient } from './send.js';
import type { NodeState } from './state.js';

/** Most assignment requests a follower remembers for a takeover (oldest dropped first). */
const MAX_HEARD_ASSIGNMENT_REQUESTS = 4096;

export function onAssignmentRequest(n: NodeState, m: TaskAssignmentRequestMessage): void {
  if (n.role !== 'leader') {
    rememberAssignmentRequest(n, m);
    return;
  }
  const key = taskKey(m.client_id, m.task_id);
  // A late duplicate of a request whose task was already acknowledged: ignore it, or it
  // would leave an entry nobody will ever acknowledge.
  if (n.history.isTombstoned(key)) return;
  const existing = n.history.get(key);
  if (existing !== undefined) {
    answerAssignment(n, m, existing.assignment);
    return;
  }
  const server = n.history.isFull() ? null : place(n, null, false);
  if (server === null) {
    n.counters.busy_replies++;
    answerAssignment(n, m, null);
    return;
  }
  const assignment: Assignment = { server_id: server, epoch: n.epoch, attempt: 1 };
  commitAdd(n, { client_id: m.client_id, task_id: m.task_id, assignment });
  n.counters.tasks_assigned++;
  emit(n, { type: 'taskAssigned', client_id: m.client_id, task_id: m.task_id, assignment });
  answerAssignment(n, m, assignment);
}

/** How long a heard request stays worth answering on takeover: one failover's worth. */
function heardRequestHorizon_ms(n: NodeState): number {
  return n.config.failure_timeout_ms + 2 * n.config.election_timeout_ms;
}

function rememberAssignmentRequest(n: NodeState, m: TaskAssignmentRequestMessage): void {
  const key = taskKey(m.client_id, m.task_id);
  n.heardAssignmentRequests.delete(key); // re-insert: the Map stays in arrival order
  n.heardAssignmentRequests.set(key, { message: m, at_ms: n.now });
  const oldest_ms = n.now - heardRequestHorizon_ms(n);
  for (const [k, heard] of n.heardAssignmentRequests) {
    if (heard.at_ms >= oldest_ms && n.heardAssignmentRequests.size <= MAX_HEARD_ASSIGNMENT_REQUESTS)
      break;
    n.heardAssignmentRequests.delete(k);
  }
}

/** On takeover: answer the recent requests the previous leader may have left unanswered. */
export function answerHeardAssignmentRequests(n: NodeState): void {
  const oldest_ms = n.now - heardRequestHorizon_ms(n);
  const heard = [...n.heardAssignmentRequests.values()];
  n.heardAssignmentRequests.clear();
  for (const { message, at_ms } of heard) if (at_ms >= oldest_ms) onAssignmentRequest(n, message);
}

/** The placement, or (null) "every server is full: ask again after a heartbeat interval". */
function answerAssignment(n: NodeState, m: TaskRef, assignment: Assignment | null): void {
  toClient(n, m.client_id, {
    type: 'TaskAssignmentResponse',
    from: n.id,
    epoch: n.epoch,
    client_id: m.client_id,
    task_id: m.task_id,
    status: assignment === null ? 'busy' : 'assigned',
    assignment,
    retry_after_ms: assignment === null ? n.config.heartbeat_interval_ms : 0,
  });
}
