/**
 * Leader: where work goes. New tasks go to the least-loaded live, synced server (itself
 * included), counting what it placed since each server's last report; the tasks of a
 * server that failed, left or went silent move elsewhere, and their clients are told.
 */
import { taskKey, type Assignment, type HistoryEntry, type ServerId } from '../messages.js';
import { choosePlacement, type PlacementCandidate } from '../placement.js';
import { commitAdd } from './history-leader.js';
import { loadReport } from './load.js';
import { emit, send } from './send.js';
import type { NodeState } from './state.js';
import { isEligible } from './successors.js';
import { localState } from './local-tasks.js';

function placementCandidates(n: NodeState, exclude: ServerId | null): PlacementCandidate[] {
  const out: PlacementCandidate[] = [];
  if (n.id !== exclude) {
    out.push({ id: n.id, load: loadReport(n), assigned_since_report: n.selfAssignedSinceReport });
  }
  for (const m of n.members.values()) {
    if (m.id === exclude || !isEligible(m)) continue;
    out.push({ id: m.id, load: m.load, assigned_since_report: m.assigned_since_report });
  }
  return out;
}

/** The server for one task (null: everyone is full, unless `force`). */
export function place(n: NodeState, exclude: ServerId | null, force: boolean): ServerId | null {
  const chosen = choosePlacement(placementCandidates(n, exclude), {
    weights: n.config.score_weights,
    force,
  });
  if (chosen === null) return null;
  if (chosen === n.id) n.selfAssignedSinceReport++;
  else {
    const m = n.members.get(chosen);
    if (m !== undefined) m.assigned_since_report++;
  }
  return chosen;
}

function isUnavailable(n: NodeState, serverId: ServerId): boolean {
  if (serverId === n.id) return false;
  const m = n.members.get(serverId);
  return m === undefined || m.state === 'failed' || m.state === 'left' || m.state === 'silent';
}

/** Moves every task placed on `serverId` (it failed, left or went silent). */
export function reassignFrom(n: NodeState, serverId: ServerId): void {
  if (n.role !== 'leader') return;
  for (const entry of n.history.onServer(serverId)) reassign(n, entry);
}

/** Moves every task placed on a server that is not available now. */
export function reassignFromUnavailable(n: NodeState): void {
  if (n.role !== 'leader') return;
  for (const entry of n.history.allEntries()) {
    if (isUnavailable(n, entry.assignment.server_id)) reassign(n, entry);
  }
}

function reassign(n: NodeState, entry: HistoryEntry): void {
  const target = place(n, entry.assignment.server_id, true) ?? n.id;
  const assignment: Assignment = {
    server_id: target,
    epoch: n.epoch,
    attempt: entry.assignment.attempt + 1,
  };
  const updated: HistoryEntry = {
    client_id: entry.client_id,
    task_id: entry.task_id,
    assignment,
  };
  if (!commitAdd(n, updated)) return;
  n.counters.tasks_reassigned++;
  emit(n, {
    type: 'taskReassigned',
    client_id: entry.client_id,
    task_id: entry.task_id,
    from_server: entry.assignment.server_id,
    assignment,
  });
  // Best effort: tell the client now instead of waiting for its next poll.
  pushStatus(n, updated);
}

/** Leader: tells a client where its task is now (after a reassignment, or as a reminder). */
export function pushStatus(n: NodeState, entry: HistoryEntry): void {
  send(
    n,
    { kind: 'client', id: entry.client_id },
    {
      type: 'TaskStatusResponse',
      from: n.id,
      epoch: n.epoch,
      client_id: entry.client_id,
      task_id: entry.task_id,
      assignment: entry.assignment,
      local_state: localState(n, taskKey(entry.client_id, entry.task_id)),
      is_leader: true,
    },
  );
}
