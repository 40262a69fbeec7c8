/**
 * What happened inside a {@link ServerNode}, for observers only: logs, metrics, the
 * dashboard's timeline, the simulator's trace and checks. Nothing here is needed for
 * correctness: what the runtime must *do* is a Command (./commands.ts).
 */
import type { Assignment, ClientId, LeaderReason, ServerId, TaskId } from './messages.js';

/** Who sent a message, as the runtime knows it from the connection. */
export type Source = { kind: 'server'; id: ServerId } | { kind: 'client'; id: ClientId };

/** Where a message goes: a server by id, or the connection a client id last used. */
export type Destination = Source;

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
  /** Failure simulation: this server ignores all communication until `until_ms` (see the `silence` command). */
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
  | { type: 'messageRejected'; from: Source; reason: string }
  /**
   * A member sent a term beyond our clock's reach (PEER_TERM_LEAD_MAX): refused whole. A
   * member's clock far ahead, a bug or a stolen key: worth a warning, unlike a stale message.
   */
  | { type: 'termRefused'; from: ServerId; message_type: string; term: number; ceiling: number };
