/**
 * Every message the cloud's servers and clients exchange, as plain discriminated unions.
 *
 * This file is the single source of truth for the wire protocol's typed part: the protocol
 * layer (src/protocol) encodes exactly these objects and validates them once, on decode
 * (src/protocol/cloud-message-checks.ts), so the state machines here take typed messages.
 * Image bytes never appear here: `TaskRequest` and `TaskResponse` carry ids, a size and a
 * digest, and the runtime attaches the raw bytes to the frame.
 *
 * Conventions:
 * - `from` is the sending server's id on every server-originated message; client-originated
 *   messages carry `client_id` instead (the runtime knows the connection).
 * - `epoch` on a server message is the sender's current epoch (see ./epoch.ts).
 * - Sizes are in bytes, durations in milliseconds, loads in percent (0..100).
 */
import { EPOCH_ID_SPACE, MAX_TERM } from './epoch.js';

export type ServerId = number;
export type ClientId = string;
export type TaskId = string;

/** Hard limits on message contents; anything outside is rejected at the codec (src/protocol/cloud-message-checks.ts). */
export const MESSAGE_LIMITS = {
  /** Server ids are 1..max_server_id (they form the low digits of an epoch). */
  max_server_id: EPOCH_ID_SPACE - 1,
  /** A result digest (e.g. hex SHA-256) is at most this long. */
  max_digest_length: 128,
  /** Error texts are cut to this length by senders and rejected above it. */
  max_error_length: 500,
  /** Largest task payload or result a message may describe (1 GiB). */
  max_size_bytes: 1024 * 1024 * 1024,
  /** Largest member list in a heartbeat. */
  max_members: EPOCH_ID_SPACE - 1,
  /** Longest successor list in a heartbeat. */
  max_successors: 16,
  /** History entries (or tombstones) per snapshot/offer part. */
  max_entries_per_part: 512,
  /** Parts per snapshot/offer. */
  max_parts: 1000,
  /** Longest duration any message may carry (1 hour). */
  max_duration_ms: 3_600_000,
  /** Largest term (epochs are term * 1000 + id). */
  max_term: MAX_TERM,
  /** Largest sequence number / counter. */
  max_counter: Number.MAX_SAFE_INTEGER,
  /** Largest queue length or capacity a server may report. */
  max_queue: 1_000_000,
} as const;

// ---------------------------------------------------------------------------------------
// Shared shapes
// ---------------------------------------------------------------------------------------

/** The placement the leader made for one task. */
export interface Assignment {
  /** The server that must run the task. */
  server_id: ServerId;
  /** The leader epoch in which this placement was made. */
  epoch: number;
  /** 1 for the first placement, +1 for each reassignment. Newer = higher (epoch, attempt). */
  attempt: number;
}

/** One row of the replicated task history: `(client, task) -> server, epoch`. */
export interface HistoryEntry {
  /** The client that submitted the task. */
  client_id: ClientId;
  /** The client's id for the task (unique per client). */
  task_id: TaskId;
  /** Where the task currently is assigned. */
  assignment: Assignment;
}

/** Identifies a task. */
export interface TaskRef {
  client_id: ClientId;
  task_id: TaskId;
}

/** A server's load as it reports it. */
export interface LoadReport {
  /** The priority score (lower is better; see score.ts). */
  score: number;
  /** CPU use, percent 0..100. */
  cpu_pct: number;
  /** Memory in use, percent 0..100. */
  memory_used_pct: number;
  /** 1-minute load average if known, else null. */
  load_average: number | null;
  /** Tasks running on worker threads now. */
  active_tasks: number;
  /** Tasks accepted and waiting for a worker. */
  queue_length: number;
  /** Most tasks (running + queued) the server accepts; beyond that it answers busy. */
  capacity: number;
}

/** A server's liveness as the leader sees it. */
export type MemberState = 'alive' | 'suspected' | 'failed' | 'silent' | 'left';

/** One member in the leader's view, carried in leader heartbeats. */
export interface MemberView {
  /** The member's server id. */
  id: ServerId;
  /** Liveness in the leader's view. */
  state: MemberState;
  /** Whether the member has the current history and may be given work. */
  synced: boolean;
  /** Milliseconds since the leader last heard from it (null: never). */
  age_ms: number | null;
  /** The member's last reported load (null: none yet). */
  load: LoadReport | null;
}

/** Summary of a server's history replica, for anti-entropy. */
export interface HistoryInfo {
  /** The leader's change counter within its epoch (a follower: the last one it applied, -1 if unsynced). */
  seq: number;
  /** Order-independent 32-bit digest of all entries. */
  digest: number;
  /** Number of entries. */
  size: number;
}

/** Role a server reports in its heartbeats. */
export type NodeRole = 'follower' | 'candidate' | 'leader' | 'silent' | 'left';

// ---------------------------------------------------------------------------------------
// Server <-> server
// ---------------------------------------------------------------------------------------

/** Bully: "I lost the leader and am electing; here is my priority". Sent to every peer. */
export interface ElectionMessage {
  type: 'Election';
  /** Sender id. */
  from: ServerId;
  /** Sender's current epoch. */
  epoch: number;
  /** Highest term the sender has seen (so the winner picks a term above it). */
  max_term: number;
  /** Sender's election round; Alive replies echo it. */
  round: number;
  /** Sender's priority score (lower wins; ties by lower id). */
  score: number;
}

/** Bully: "I am a better candidate than you" (reply to Election). */
export interface AliveMessage {
  type: 'Alive';
  /** Sender id. */
  from: ServerId;
  /** Sender's current epoch. */
  epoch: number;
  /** Highest term the sender has seen. */
  max_term: number;
  /** The round of the Election this answers. */
  round: number;
  /** Sender's priority score. */
  score: number;
}

/**
 * Improved Bully: the election initiator asks the best Alive responder to claim leadership,
 * so only one server broadcasts Coordinator (O(n) messages instead of O(n²)).
 */
export interface NominateMessage {
  type: 'Nominate';
  /** Sender (initiator) id. */
  from: ServerId;
  /** Sender's current epoch. */
  epoch: number;
  /** Highest term the sender has seen. */
  max_term: number;
  /** The initiator's election round. */
  round: number;
}

/** "I lead epoch `epoch`" — broadcast by a new leader (also sent to one peer as an answer). */
export interface CoordinatorMessage {
  type: 'Coordinator';
  /** The new leader's id (= epochLeader(epoch)). */
  from: ServerId;
  /** The new leader's epoch. */
  epoch: number;
  /** Highest term the leader has seen (= epochTerm(epoch)). */
  max_term: number;
  /** Why it became leader. */
  reason: LeaderReason;
  /** Ordered next-best servers (improved Bully successor list). */
  successors: ServerId[];
  /** The leader's history summary, so followers know whether they must resync. */
  history: HistoryInfo;
}

/** How a server became leader. */
export type LeaderReason = 'successor' | 'election' | 'nominated' | 'handover' | 'alone';

/**
 * Periodic heartbeat. A leader sends it to every configured peer (even failed ones, so a
 * healed partition or a rejoining server hears it); a follower sends it to its leader only.
 */
export interface HeartbeatMessage {
  type: 'Heartbeat';
  /** Sender id. */
  from: ServerId;
  /** Sender's current epoch. */
  epoch: number;
  /** Whom the sender follows (itself if leader; null if it knows no leader). */
  leader_id: ServerId | null;
  /** Sender's role. */
  role: NodeRole;
  /** Sender's load. */
  load: LoadReport;
  /** Whether the sender's history is synchronised with its leader. */
  synced: boolean;
  /** Sender's history summary. */
  history: HistoryInfo;
  /** Leader only: ordered successor list (empty from followers). */
  successors: ServerId[];
  /** Leader only: its view of every member (empty from followers). */
  members: MemberView[];
}

/** Reply to a message from an older epoch: "the cluster has moved on to `epoch`". */
export interface StaleEpochMessage {
  type: 'StaleEpoch';
  /** Sender id. */
  from: ServerId;
  /** The sender's (newer) epoch. */
  epoch: number;
  /** The leader of that epoch as the sender knows it (null if none known). */
  leader_id: ServerId | null;
  /** Type of the message that was rejected (for logs). */
  rejected_type: string;
}

/** Hysteresis: the leader, overloaded for a sustained time, hands leadership to `to`. */
export interface HandoverMessage {
  type: 'Handover';
  /** Sender (current leader) id. */
  from: ServerId;
  /** Sender's (leader's) epoch. */
  epoch: number;
  /** The server that should claim leadership now. */
  to: ServerId;
}

/** The leader's replicated add or update of a history entry (assignment or reassignment). */
export interface HistoryAddMessage {
  type: 'HistoryAdd';
  /** Sender (leader) id. */
  from: ServerId;
  /** Leader's epoch. */
  epoch: number;
  /** Leader's change counter; followers apply changes in seq order. */
  seq: number;
  /** The entry. */
  entry: HistoryEntry;
}

/**
 * Removal of a history entry after the client acknowledged the result.
 * With `seq` = null it is a server's report to the leader; with a number it is the
 * leader's replicated change (followers apply it in seq order and keep a tombstone).
 */
export interface HistoryRemoveMessage {
  type: 'HistoryRemove';
  /** Sender id. */
  from: ServerId;
  /** Sender's epoch. */
  epoch: number;
  /** null: report to the leader; number: the leader's change counter. */
  seq: number | null;
  /** The acknowledged task's client. */
  client_id: ClientId;
  /** The acknowledged task. */
  task_id: TaskId;
}

/** A follower asks its leader for a full history snapshot. */
export interface HistorySyncRequestMessage {
  type: 'HistorySyncRequest';
  /** Sender id. */
  from: ServerId;
  /** Sender's epoch (must equal the leader's). */
  epoch: number;
}

/** One part of the leader's history snapshot, taken at `seq`. */
export interface HistorySnapshotMessage {
  type: 'HistorySnapshot';
  /** Sender (leader) id. */
  from: ServerId;
  /** Leader's epoch. */
  epoch: number;
  /** The leader's change counter at which the snapshot was taken. */
  seq: number;
  /** Identifies one snapshot (all its parts share it). */
  snapshot_id: number;
  /** 0-based part number. */
  part: number;
  /** Number of parts. */
  parts: number;
  /** Entries in this part. */
  entries: HistoryEntry[];
  /** Tombstones (acknowledged tasks) in this part. */
  tombstones: TaskRef[];
  /** Digest of the whole snapshot (checked after assembly). */
  digest: number;
}

/**
 * A follower offers its own history to a new leader whose digest differs (healed
 * partition), so tasks assigned on the other side are not lost. Merged by the leader.
 */
export interface HistoryOfferMessage {
  type: 'HistoryOffer';
  /** Sender id. */
  from: ServerId;
  /** Sender's epoch (the new leader's). */
  epoch: number;
  /** 0-based part number. */
  part: number;
  /** Number of parts. */
  parts: number;
  /** Entries in this part. */
  entries: HistoryEntry[];
  /** Tombstones in this part. */
  tombstones: TaskRef[];
}

/** Failure simulation: the leader picked `target` to ignore all communication for a while. */
export interface FailureSimulationMessage {
  type: 'FailureSimulation';
  /** Sender (leader) id. */
  from: ServerId;
  /** Leader's epoch. */
  epoch: number;
  /** The server that goes silent. */
  target: ServerId;
  /** How long it stays silent. */
  duration_ms: number;
}

/** Graceful shutdown: "I am leaving; reassign my tasks now". */
export interface LeaveMessage {
  type: 'Leave';
  /** Sender id. */
  from: ServerId;
  /** Sender's epoch. */
  epoch: number;
}

// ---------------------------------------------------------------------------------------
// Client -> server
// ---------------------------------------------------------------------------------------

/** Multicast by a client to every server; only a leader answers. */
export interface TaskAssignmentRequestMessage {
  type: 'TaskAssignmentRequest';
  /** The client. */
  client_id: ClientId;
  /** The task. */
  task_id: TaskId;
  /** Payload size, for logs and limits. */
  size_bytes: number;
}

/** Sent by the client to the assigned server; the runtime attaches the payload bytes. */
export interface TaskRequestMessage {
  type: 'TaskRequest';
  /** The client. */
  client_id: ClientId;
  /** The task. */
  task_id: TaskId;
  /** Payload size in bytes (the attached bytes must have exactly this length). */
  size_bytes: number;
  /** The placement the leader gave the client (lets the worker accept it before HistoryAdd arrives). */
  assignment: Assignment;
}

/** The client got the result: the task can leave the history. */
export interface TaskAckMessage {
  type: 'TaskAck';
  /** The client. */
  client_id: ClientId;
  /** The task. */
  task_id: TaskId;
}

/** "Where is my task now?" — sent to the assigned server, or to every server on silence. */
export interface TaskStatusQueryMessage {
  type: 'TaskStatusQuery';
  /** The client. */
  client_id: ClientId;
  /** The task. */
  task_id: TaskId;
}

// ---------------------------------------------------------------------------------------
// Server -> client
// ---------------------------------------------------------------------------------------

/** The leader's answer to TaskAssignmentRequest. */
export interface TaskAssignmentResponseMessage {
  type: 'TaskAssignmentResponse';
  /** Sender (leader) id. */
  from: ServerId;
  /** Leader's epoch. */
  epoch: number;
  /** The client. */
  client_id: ClientId;
  /** The task. */
  task_id: TaskId;
  /** 'assigned': go to `assignment.server_id`; 'busy': every server is full, retry later. */
  status: 'assigned' | 'busy';
  /** The placement (null when busy). */
  assignment: Assignment | null;
  /** When busy: how long to wait before asking again. */
  retry_after_ms: number;
}

/** The worker took the task (queued or running). */
export interface TaskAcceptedMessage {
  type: 'TaskAccepted';
  /** Sender id. */
  from: ServerId;
  /** Sender's epoch. */
  epoch: number;
  /** The client. */
  client_id: ClientId;
  /** The task. */
  task_id: TaskId;
  /** Tasks ahead of it (0: running or next). */
  queue_position: number;
}

/** The worker will not run the task. */
export interface TaskRejectedMessage {
  type: 'TaskRejected';
  /** Sender id. */
  from: ServerId;
  /** Sender's epoch. */
  epoch: number;
  /** The client. */
  client_id: ClientId;
  /** The task. */
  task_id: TaskId;
  /** busy: queue full; not_assigned: the task is placed elsewhere; shutting_down: leaving. */
  reason: 'busy' | 'not_assigned' | 'shutting_down';
  /** The sender's view of the current placement, if it has one. */
  assignment: Assignment | null;
}

/** The result; the runtime attaches the result bytes (absent when `ok` is false). */
export interface TaskResponseMessage {
  type: 'TaskResponse';
  /** Sender (worker) id. */
  from: ServerId;
  /** Sender's epoch. */
  epoch: number;
  /** The client. */
  client_id: ClientId;
  /** The task. */
  task_id: TaskId;
  /** Whether the task succeeded. A failure is a result too (deterministic), not a retry signal. */
  ok: boolean;
  /** Result size in bytes (0 when not ok). */
  result_size_bytes: number;
  /** Digest of the result bytes (empty when not ok). */
  result_digest: string;
  /** Why it failed (null when ok). */
  error: string | null;
}

/** Any server's answer to TaskStatusQuery; also pushed by a leader after a reassignment. */
export interface TaskStatusResponseMessage {
  type: 'TaskStatusResponse';
  /** Sender id. */
  from: ServerId;
  /** Sender's epoch. */
  epoch: number;
  /** The client. */
  client_id: ClientId;
  /** The task. */
  task_id: TaskId;
  /** Current placement in the sender's history (null: unknown to it). */
  assignment: Assignment | null;
  /** The task on the sender itself. */
  local_state: 'queued' | 'running' | 'done' | 'none';
  /** Whether the sender is a leader (its answer is authoritative for its epoch). */
  is_leader: boolean;
}

export type ServerMessage =
  | ElectionMessage
  | AliveMessage
  | NominateMessage
  | CoordinatorMessage
  | HeartbeatMessage
  | StaleEpochMessage
  | HandoverMessage
  | HistoryAddMessage
  | HistoryRemoveMessage
  | HistorySyncRequestMessage
  | HistorySnapshotMessage
  | HistoryOfferMessage
  | FailureSimulationMessage
  | LeaveMessage;

export type ClientToServerMessage =
  TaskAssignmentRequestMessage | TaskRequestMessage | TaskAckMessage | TaskStatusQueryMessage;

export type ServerToClientMessage =
  | TaskAssignmentResponseMessage
  | TaskAcceptedMessage
  | TaskRejectedMessage
  | TaskResponseMessage
  | TaskStatusResponseMessage;

export type Message = ServerMessage | ClientToServerMessage | ServerToClientMessage;
export type MessageType = Message['type'];

/** Every message type, grouped by direction. */
export const MESSAGE_TYPES = {
  serverToServer: [
    'Election',
    'Alive',
    'Nominate',
    'Coordinator',
    'Heartbeat',
    'StaleEpoch',
    'Handover',
    'HistoryAdd',
    'HistoryRemove',
    'HistorySyncRequest',
    'HistorySnapshot',
    'HistoryOffer',
    'FailureSimulation',
    'Leave',
  ],
  clientToServer: ['TaskAssignmentRequest', 'TaskRequest', 'TaskAck', 'TaskStatusQuery'],
  serverToClient: [
    'TaskAssignmentResponse',
    'TaskAccepted',
    'TaskRejected',
    'TaskResponse',
    'TaskStatusResponse',
  ],
} as const satisfies Record<string, readonly MessageType[]>;

/** Message types used only to elect and announce leaders (counted as election traffic). */
export const ELECTION_MESSAGE_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'Election',
  'Alive',
  'Nominate',
  'Coordinator',
  'StaleEpoch',
  'Handover',
]);

const ALL_TYPES: ReadonlySet<string> = new Set<string>([
  ...MESSAGE_TYPES.serverToServer,
  ...MESSAGE_TYPES.clientToServer,
  ...MESSAGE_TYPES.serverToClient,
]);

const SERVER_TYPES: ReadonlySet<string> = new Set<string>(MESSAGE_TYPES.serverToServer);
const CLIENT_TYPES: ReadonlySet<string> = new Set<string>(MESSAGE_TYPES.clientToServer);
const TO_CLIENT_TYPES: ReadonlySet<string> = new Set<string>(MESSAGE_TYPES.serverToClient);

/** Is `type` the name of a message defined here? */
export function isMessageType(type: string): type is MessageType {
  return ALL_TYPES.has(type);
}

export function isServerMessage(m: Message): m is ServerMessage {
  return SERVER_TYPES.has(m.type);
}

export function isClientToServerMessage(m: Message): m is ClientToServerMessage {
  return CLIENT_TYPES.has(m.type);
}

export function isServerToClientMessage(m: Message): m is ServerToClientMessage {
  return TO_CLIENT_TYPES.has(m.type);
}

/** Stable key of a task in maps: client and task ids cannot contain '/'. */
export function taskKey(clientId: ClientId, taskId: TaskId): string {
  return `${clientId}/${taskId}`;
}

/** Is `a` a newer placement than `b`? */
export function isNewerAssignment(a: Assignment, b: Assignment | null): boolean {
  if (b === null) return true;
  if (a.epoch !== b.epoch) return a.epoch > b.epoch;
  return a.attempt > b.attempt;
}
