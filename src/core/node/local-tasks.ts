/**
 * The tasks this server runs: accept a TaskRequest placed here (or refuse it: busy, not
 * ours, shutting down), hand it to the runtime (`executeTask`), follow it through
 * `taskStarted`/`taskFinished`, and send the result until the client acknowledges it.
 * Results stay cached (bounded) so duplicates and polls get the same answer.
 */
import type { TaskOutcome } from '../events.js';
import {
  MESSAGE_LIMITS,
  taskKey,
  type ClientId,
  type TaskId,
  type TaskRequestMessage,
} from '../messages.js';
import { command, toClient } from './send.js';
import type { LocalTask, NodeState } from './state.js';

export function onTaskRequest(n: NodeState, m: TaskRequestMessage): void {
  const key = taskKey(m.client_id, m.task_id);
  const existing = n.localTasks.get(key);
  if (existing !== undefined) return answerAgain(n, existing);
  if (n.role === 'left') return rejectTask(n, m, 'shutting_down');
  if (n.history.isTombstoned(key)) return;
  if (m.assignment.server_id !== n.id) return rejectTask(n, m, 'not_assigned');
  const capacity = n.config.thread_pool_size + n.config.max_queue_size;
  if (n.running + n.queued >= capacity) {
    n.counters.busy_replies++;
    return rejectTask(n, m, 'busy');
  }
  const task: LocalTask = {
    ref: { client_id: m.client_id, task_id: m.task_id },
    assignment: m.assignment,
    size_bytes: m.size_bytes,
    state: 'queued',
    outcome: null,
    acked: false,
    finished_at_ms: 0,
    resend_at_ms: 0,
    resends: 0,
  };
  n.localTasks.set(key, task);
  n.queued++;
  command(n, {
    type: 'executeTask',
    client_id: m.client_id,
    task_id: m.task_id,
    assignment: m.assignment,
    size_bytes: m.size_bytes,
  });
  sendAccepted(n, task);
}

function sendAccepted(n: NodeState, task: LocalTask): void {
  toClient(n, task.ref.client_id, {
    type: 'TaskAccepted',
    from: n.id,
    epoch: n.epoch,
    client_id: task.ref.client_id,
    task_id: task.ref.task_id,
    queue_position: task.state === 'queued' ? Math.max(0, n.queued - 1) : 0,
  });
}

function rejectTask(
  n: NodeState,
  m: TaskRequestMessage,
  reason: 'busy' | 'not_assigned' | 'shutting_down',
): void {
  const current = n.history.get(taskKey(m.client_id, m.task_id))?.assignment ?? null;
  toClient(n, m.client_id, {
    type: 'TaskRejected',
    from: n.id,
    epoch: n.epoch,
    client_id: m.client_id,
    task_id: m.task_id,
    reason,
    assignment: current,
  });
}

/** A worker picked the task up. */
export function taskStarted(n: NodeState, client_id: ClientId, task_id: TaskId): void {
  const task = n.localTasks.get(taskKey(client_id, task_id));
  if (task === undefined || task.state !== 'queued') return;
  task.state = 'running';
  n.queued--;
  n.running++;
}

/**
 * The task finished: send the result (unless the client already has one) and cache it.
 * False if we no longer know the task (cancelled, or a duplicate report): the runtime can
 * discard the result bytes at once.
 */
export function taskFinished(
  n: NodeState,
  client_id: ClientId,
  task_id: TaskId,
  outcome: TaskOutcome,
): boolean {
  const key = taskKey(client_id, task_id);
  const task = n.localTasks.get(key);
  if (task === undefined || task.state === 'done') return false;
  if (task.state === 'running') n.running--;
  else n.queued--;
  n.counters.tasks_executed++;
  if (task.acked) {
    n.localTasks.delete(key);
    command(n, { type: 'releaseResult', client_id, task_id });
    return true;
  }
  task.state = 'done';
  task.outcome = sanitizeOutcome(outcome);
  task.finished_at_ms = n.now;
  task.resend_at_ms = n.now + n.config.limits.result_resend_ms;
  n.done++;
  sendResult(n, task);
  evictResults(n);
  return true;
}

function sendResult(n: NodeState, task: LocalTask): void {
  const outcome = task.outcome;
  if (outcome === null) return;
  toClient(n, task.ref.client_id, {
    type: 'TaskResponse',
    from: n.id,
    epoch: n.epoch,
    client_id: task.ref.client_id,
    task_id: task.ref.task_id,
    ok: outcome.ok,
    result_size_bytes: outcome.result_size_bytes,
    result_digest: outcome.result_digest,
    error: outcome.error,
  });
}

function evictResults(n: NodeState): void {
  if (n.done <= n.config.limits.max_cached_results) return;
  for (const [key, task] of n.localTasks) {
    if (n.done <= n.config.limits.max_cached_results) break;
    if (task.state !== 'done') continue;
    dropLocalTask(n, key, task);
  }
}

/** Forgets a task; a cached result's bytes are released. */
export function dropLocalTask(n: NodeState, key: string, task: LocalTask): void {
  n.localTasks.delete(key);
  if (task.state === 'done') {
    n.done--;
    command(n, { type: 'releaseResult', ...task.ref });
  }
}

/** Drops a task no worker took yet (the runtime's later taskStarted/taskFinished are ignored). */
export function cancelQueued(n: NodeState, key: string, task: LocalTask): void {
  n.localTasks.delete(key);
  n.queued--;
  command(n, { type: 'cancelTask', ...task.ref });
}

/** Unacknowledged results go out again, less and less often, until the history TTL. */
export function resendResults(n: NodeState): void {
  const limits = n.config.limits;
  for (const [key, task] of n.localTasks) {
    if (task.state !== 'done' || n.now < task.resend_at_ms) continue;
    if (n.now - task.finished_at_ms > limits.history_ttl_ms) {
      dropLocalTask(n, key, task);
      continue;
    }
    task.resends++;
    task.resend_at_ms = n.now + limits.result_resend_ms * 2 ** Math.min(task.resends, 3);
    sendResult(n, task);
  }
}

export function localState(n: NodeState, key: string): 'queued' | 'running' | 'done' | 'none' {
  return n.localTasks.get(key)?.state ?? 'none';
}

/** A duplicate TaskRequest: resend the cached result, or say the task is accepted. */
function answerAgain(n: NodeState, task: LocalTask): void {
  if (task.state === 'done') sendResult(n, task);
  else sendAccepted(n, task);
}

function sanitizeOutcome(o: TaskOutcome): TaskOutcome {
  const size = Number.isInteger(o.result_size_bytes) ? o.result_size_bytes : 0;
  return {
    ok: o.ok === true,
    result_size_bytes: Math.max(0, Math.min(MESSAGE_LIMITS.max_size_bytes, size)),
    result_digest: String(o.result_digest ?? '').slice(0, MESSAGE_LIMITS.max_digest_length),
    error:
      o.error === null || o.error === undefined
        ? null
        : String(o.error).slice(0, MESSAGE_LIMITS.max_error_length),
  };
}
