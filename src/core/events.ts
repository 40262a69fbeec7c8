/**
 * What a {@link ServerNode} hands to its runtime: messages to send, events to act on or log,
 * and hard state to persist. Drained with `node.drain()` after every input (Ready-style).
 */
import type { HardState } from './epoch.js';
import type { Assignment, ClientId, LeaderReason, Message, ServerId, TaskId } from './messages.js';

/** Who sent a message, as the runtime knows it from the connection. */
export type Source = { kind: 'server'; id: ServerId } | { kind: 'client'; id: ClientId };

/** Where a message goes: a server by id, or the connection a client id last used. */
export type Destination = Source;

export interface Outgoing {
  to: Destination;
  message: Message;
}

/** How a finished task turned out, reported by the runtime through `taskFinished`. */
export interface TaskOutcome {
  ok: boolean;
  /** Size of the result bytes (0 when not ok). */
  result_size_bytes: number;
  /** Digest of the result bytes, e.g. hex SHA-256 (empty when not ok). */
  result_digest: string;
  /** Why it failed (null when ok). */
  error: string | null;
}

export type StepDownReason = 'newer_epoch' | 'stalled' | 'handover' | 'silence' | 'shutdown';

export type NodeEvent =
  /** This server now leads `epoch`. */
  | { type: 'becameLeader'; epoch: number; reason: LeaderReason }
  /** This server stopped leading `epoch`. */
  | { type: 'steppedDown'; epoch: number; reason: StepDownReason }
  /** This server follows `leader_id` in `epoch`. */
  | { type: 'leaderAcknowledged'; leader_id: ServerId; epoch: number }
  /** No heartbeat from the leader for failure_timeout (or it left). */
  | { type: 'leaderLost'; leader_id: ServerId; epoch: number }
  /** A full (fallback) election started. */
  | { type: 'electionStarted'; round: number }
  /** Leader only: no heartbeat from a peer for half the failure timeout. */
  | { type: 'peerSuspected'; peer: ServerId }
  /** Leader only: no heartbeat from a peer for the failure timeout; its tasks move. */
  | { type: 'peerFailed'; peer: ServerId }
  /** Leader only: a failed, silent or departed peer is heard again. */
  | { type: 'peerRecovered'; peer: ServerId }
  /** Leader only: a peer announced a graceful shutdown. */
  | { type: 'peerLeft'; peer: ServerId }
  /** Leader only: a new task was placed. */
  | { type: 'taskAssigned'; client_id: ClientId; task_id: TaskId; assignment: Assignment }
  /** Leader only: a task moved off a failed server. */
  | {
      type: 'taskReassigned';
      client_id: ClientId;
      task_id: TaskId;
      from_server: ServerId;
      assignment: Assignment;
    }
  /**
   * Run this task: the runtime queues it for a worker, calls `taskStarted` when a worker
   * picks it and `taskFinished` with the outcome. The payload bytes are those attached to
   * the TaskRequest that produced this event (discard the bytes of a TaskRequest that did
   * not produce one: it was a duplicate, busy or misrouted).
   */
  | {
      type: 'executeTask';
      client_id: ClientId;
      task_id: TaskId;
      assignment: Assignment;
      size_bytes: number;
    }
  /** Drop this task if it has not started (its client already has a result). */
  | { type: 'cancelTask'; client_id: ClientId; task_id: TaskId }
  /** The result bytes of this task are no longer needed (acknowledged or evicted). */
  | { type: 'releaseResult'; client_id: ClientId; task_id: TaskId }
  /** Failure simulation: this server ignores all communication until `until_ms`. */
  | { type: 'silenceStarted'; until_ms: number; duration_ms: number }
  /** Failure simulation: the silence is over; the server rejoins and resyncs. */
  | { type: 'silenceEnded' }
  /** Leader only: it picked `target` to go silent. */
  | { type: 'failureSimulationScheduled'; target: ServerId; duration_ms: number }
  /** The history replica was replaced by the leader's snapshot. */
  | { type: 'resynced'; entries: number; seq: number }
  /** An input arrived long after the previous one: the process was paused or starved. */
  | { type: 'stallDetected'; stalled_ms: number }
  /** Hysteresis: this leader hands leadership to `to`. */
  | { type: 'handover'; to: ServerId }
  /** An input was invalid or from an unknown sender; it was ignored and counted. */
  | { type: 'messageRejected'; from: Source; reason: string };

/** One batch of outputs (see ServerNode.drain). */
export interface Ready {
  /** Messages to send, one entry per destination (broadcasts are already expanded). */
  messages: Outgoing[];
  /** Events, in the order they happened. */
  events: NodeEvent[];
  /** Persist this before sending `messages` (null: unchanged). */
  hard_state: HardState | null;
}
