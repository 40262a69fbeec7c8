/**
 * One-line descriptions of messages, node events and client events for the simulator's
 * traces. Scenario files (test/sim/scenarios/*.txt) compare these lines, so a change in the
 * wording here is a change in every expected trace.
 */
import type { ClientEvent } from '../core/client-session.js';
import { formatEpoch } from '../core/epoch.js';
import type { NodeEvent, Source } from '../core/events.js';
import type { Message } from '../core/messages.js';

export function sourceName(s: Source): string {
  return s.kind === 'server' ? `s${s.id}` : s.id;
}

/** Compact one-line description of a message for traces. */
export function describe(m: Message): string {
  switch (m.type) {
    case 'Heartbeat':
      return `Heartbeat(${m.role} e=${formatEpoch(m.epoch)} seq=${m.history.seq}${m.successors.length > 0 ? ` succ=${m.successors.join(',')}` : ''})`;
    case 'Election':
    case 'Alive':
      return `${m.type}(round=${m.round} score=${m.score.toFixed(1)})`;
    case 'Coordinator':
      return `Coordinator(e=${formatEpoch(m.epoch)} ${m.reason} succ=${m.successors.join(',')})`;
    case 'StaleEpoch':
      return `StaleEpoch(e=${formatEpoch(m.epoch)} leader=${m.leader_id ?? '-'})`;
    case 'HistoryAdd':
      return `HistoryAdd(seq=${m.seq} ${m.entry.client_id}/${m.entry.task_id}->s${m.entry.assignment.server_id})`;
    case 'HistoryRemove':
      return `HistoryRemove(seq=${m.seq ?? 'report'} ${m.client_id}/${m.task_id})`;
    case 'TaskAssignmentResponse':
      return `TaskAssignmentResponse(${m.task_id} ${m.status}${m.assignment === null ? '' : ` s${m.assignment.server_id}`})`;
    case 'TaskRequest':
      return `TaskRequest(${m.task_id} -> s${m.assignment.server_id})`;
    case 'TaskStatusResponse':
      return `TaskStatusResponse(${m.task_id} ${m.assignment === null ? 'unknown' : `s${m.assignment.server_id}`} ${m.local_state})`;
    default:
      return 'task_id' in m ? `${m.type}(${m.task_id})` : `${m.type}(e=${formatEpoch(m.epoch)})`;
  }
}

export function describeEvent(e: NodeEvent): string {
  switch (e.type) {
    case 'becameLeader':
      return `became leader epoch=${formatEpoch(e.epoch)} (${e.reason})`;
    case 'steppedDown':
      return `stepped down from epoch=${formatEpoch(e.epoch)} (${e.reason})`;
    case 'leaderAcknowledged':
      return `follows s${e.leader_id} epoch=${formatEpoch(e.epoch)}`;
    case 'leaderLost':
      return `lost leader s${e.leader_id}`;
    case 'electionStarted':
      return `started election round ${e.round}`;
    case 'peerSuspected':
    case 'peerFailed':
    case 'peerRecovered':
    case 'peerLeft':
      return `${e.type} s${e.peer}`;
    case 'taskAssigned':
      return `assigned ${e.client_id}/${e.task_id} -> s${e.assignment.server_id}`;
    case 'taskReassigned':
      return `reassigned ${e.client_id}/${e.task_id} s${e.from_server} -> s${e.assignment.server_id}`;
    case 'silenceStarted':
      return `silent for ${e.duration_ms}ms`;
    case 'silenceEnded':
      return 'silence over, rejoining';
    case 'failureSimulationScheduled':
      return `failure simulation picks s${e.target} for ${e.duration_ms}ms`;
    case 'resynced':
      return `resynced ${e.entries} entries at seq ${e.seq}`;
    case 'stallDetected':
      return `stalled for ${e.stalled_ms}ms`;
    case 'handover':
      return `hands leadership to s${e.to}`;
    case 'messageRejected':
      return `rejected message: ${e.reason}`;
    case 'termRefused':
      return `refused ${e.message_type} from s${e.from}: term ${e.term} beyond ${e.ceiling}`;
  }
}

export function describeClientEvent(e: ClientEvent): string {
  switch (e.type) {
    case 'delivered':
      return `got ${e.task_id} from s${e.server_id} after ${e.latency_ms}ms`;
    case 'failed':
      return `gave up on ${e.task_id}: ${e.reason}`;
    case 'reassigned':
      return `follows ${e.task_id} to s${e.assignment.server_id}`;
    default:
      return e.type;
  }
}
