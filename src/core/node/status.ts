/** The read-only view of a node for /status, the dashboard and the simulator. */
import type { HistoryInfo, LoadReport, MemberView, NodeRole, ServerId } from '../messages.js';
import { historyInfo, loadReport } from './load.js';
import { memberViews } from './membership.js';
import type { NodeCounters, NodeState } from './state.js';
import { computeSuccessors } from './successors.js';

export interface NodeStatus {
  id: ServerId;
  role: NodeRole;
  leader_id: ServerId | null;
  epoch: number;
  max_term: number;
  synced: boolean;
  silent_until_ms: number | null;
  load: LoadReport;
  /** The leader's own table if leading, else the view from the leader's last heartbeat. */
  members: MemberView[];
  successors: ServerId[];
  history: HistoryInfo & { tombstones: number };
  tasks: { queued: number; running: number; cached_results: number; pending_removals: number };
  counters: NodeCounters;
}

export function nodeStatus(n: NodeState, now_ms: number): NodeStatus {
  const members = n.role === 'leader' ? memberViews(n, now_ms) : n.leaderView;
  return {
    id: n.id,
    role: n.role,
    leader_id: n.leaderId,
    epoch: n.epoch,
    max_term: n.maxTerm,
    synced: n.isSynced,
    silent_until_ms: n.silentUntil,
    load: loadReport(n),
    members,
    successors: n.role === 'leader' ? computeSuccessors(n) : [...n.successors],
    history: { ...historyInfo(n), tombstones: n.history.allTombstones().length },
    tasks: {
      queued: n.queued,
      running: n.running,
      cached_results: n.done,
      pending_removals: n.pendingRemovals.size,
    },
    counters: { ...n.counters },
  };
}
