/**
 * The schemas of the cloud's core messages (src/core/messages.ts), one per message type in
 * {@link CORE_MESSAGE_SCHEMAS}: the codec runs {@link validateMessage} once on every decoded
 * frame, so nothing past the codec sees an unchecked message and the core state machines take
 * typed messages.
 *
 * The core keeps the TypeScript types (it may not import this layer); the compile-time check
 * at the end of this file fails the build when a schema and its core type drift apart.
 *
 * Every field must be present with the right type and within MESSAGE_LIMITS; errors name the
 * message type and the field (`Heartbeat.load.cpu_pct: expected a number in 0..100`).
 */
import { EPOCH_ID_SPACE, MAX_TERM } from '../core/epoch.js';
import { isMessageType, MESSAGE_LIMITS, type Message, type MessageType } from '../core/messages.js';
import { ClientId, TaskId } from './ids.js';
import {
  AnyText,
  Bool,
  Int,
  List,
  Literal,
  Nullable,
  Num,
  OneOf,
  Tolerant,
  describeIssue,
  parseFirst,
  v,
  type Infer,
  type Schema,
} from './schema.js';

export type ValidationResult = { ok: true; message: Message } | { ok: false; error: string };

// ---- Shared pieces ----------------------------------------------------------------------------

const L = MESSAGE_LIMITS;
/** Integers and numbers say their range as "a..b", as the cloud's errors always did. */
const Integer = (min: number, max: number) => Int(min, max, `an integer in ${min}..${max}`);
const Real = (min: number, max: number) => Num(min, max, `a number in ${min}..${max}`);

/** Epochs are term * EPOCH_ID_SPACE + server id (src/core/epoch.ts). */
const EPOCH_MAX = MAX_TERM * EPOCH_ID_SPACE + L.max_server_id;

const ServerId = Integer(1, L.max_server_id);
const Epoch = Integer(0, EPOCH_MAX);
const Counter = Integer(0, L.max_counter);
const QueueLength = Integer(0, L.max_queue);
const Duration = Integer(0, L.max_duration_ms);
const Size = Integer(0, L.max_size_bytes);
const Digest32 = Integer(0, 0xffff_ffff);
const MaxTerm = Integer(0, MAX_TERM);
const Score = Real(0, 1e6);
const Percent = Real(0, 100);
const Successors = List(ServerId, L.max_successors);

/** Every server message starts with its sender and the sender's epoch. */
const FromServer = { from: ServerId, epoch: Epoch } as const;
/** Every task message names the client and its task. */
const ForTask = { client_id: ClientId, task_id: TaskId } as const;

const Assignment = Tolerant({
  server_id: ServerId,
  epoch: Integer(1, EPOCH_MAX),
  attempt: Integer(1, L.max_counter),
});
const TaskRef = Tolerant(ForTask);
const HistoryEntry = Tolerant({ ...ForTask, assignment: Assignment });
const HistoryInfo = Tolerant({
  seq: Integer(-1, L.max_counter),
  digest: Digest32,
  size: Counter,
});
const LoadReport = Tolerant({
  score: Score,
  cpu_pct: Percent,
  memory_used_pct: Percent,
  load_average: Nullable(Score),
  active_tasks: QueueLength,
  queue_length: QueueLength,
  capacity: QueueLength,
});
const MemberView = Tolerant({
  id: ServerId,
  state: OneOf(['alive', 'suspected', 'failed', 'silent', 'left']),
  synced: Bool(),
  age_ms: Nullable(Counter),
  load: Nullable(LoadReport),
});
const Ballot = { ...FromServer, max_term: MaxTerm, round: Counter } as const;

/** A message of `type` with these fields (others are tolerated and dropped). */
function message<const T extends MessageType, const E extends v.ObjectEntries>(type: T, fields: E) {
  return Tolerant({ type: Literal(type), ...fields });
}

/** Snapshot and offer parts: numbered from 0, up to (not including) `parts`. */
const Parts = {
  part: Integer(0, L.max_parts - 1),
  parts: Integer(1, L.max_parts),
  entries: List(HistoryEntry, L.max_entries_per_part),
  tombstones: List(TaskRef, L.max_entries_per_part),
} as const;

/** `part` below `parts`; the error names `part` and the range this message allows. */
function withPartBelowParts<M extends { part: number; parts: number }>(
  schema: v.GenericSchema<unknown, M>,
) {
  return v.pipe(
    schema,
    v.rawCheck<M>(({ dataset, addIssue }) => {
      if (!dataset.typed || dataset.value.part < dataset.value.parts) return;
      const { part, parts } = dataset.value;
      addIssue({
        message: `expected an integer in 0..${parts - 1}`,
        path: [{ type: 'object', origin: 'value', input: dataset.value, key: 'part', value: part }],
      });
    }),
  );
}

// ---- The table ------------------------------------------------------------------------------

export const CORE_MESSAGE_SCHEMAS = {
  // Server <-> server
  Election: message('Election', { ...Ballot, score: Score }),
  Alive: message('Alive', { ...Ballot, score: Score }),
  Nominate: message('Nominate', Ballot),
  Coordinator: message('Coordinator', {
    ...FromServer,
    max_term: MaxTerm,
    reason: OneOf(['successor', 'election', 'nominated', 'handover', 'alone']),
    successors: Successors,
    history: HistoryInfo,
  }),
  Heartbeat: message('Heartbeat', {
    ...FromServer,
    leader_id: Nullable(ServerId),
    role: OneOf(['follower', 'candidate', 'leader', 'silent', 'left']),
    load: LoadReport,
    synced: Bool(),
    history: HistoryInfo,
    successors: Successors,
    members: List(MemberView, L.max_members),
  }),
  StaleEpoch: message('StaleEpoch', {
    ...FromServer,
    leader_id: Nullable(ServerId),
    rejected_type: AnyText(64),
  }),
  Handover: message('Handover', { ...FromServer, to: ServerId }),
  HistoryAdd: message('HistoryAdd', {
    ...FromServer,
    seq: Integer(1, L.max_counter),
    entry: HistoryEntry,
  }),
  HistoryRemove: message('HistoryRemove', {
    ...FromServer,
    seq: Nullable(Integer(1, L.max_counter)),
    ...ForTask,
  }),
  HistorySyncRequest: message('HistorySyncRequest', FromServer),
  HistorySnapshot: withPartBelowParts(
    message('HistorySnapshot', {
      ...FromServer,
      seq: Counter,
      snapshot_id: Counter,
      ...Parts,
      digest: Digest32,
    }),
  ),
  HistoryOffer: withPartBelowParts(message('HistoryOffer', { ...FromServer, ...Parts })),
  FailureSimulation: message('FailureSimulation', {
    ...FromServer,
    target: ServerId,
    duration_ms: Duration,
  }),
  Leave: message('Leave', FromServer),

  // Client -> server
  TaskAssignmentRequest: message('TaskAssignmentRequest', { ...ForTask, size_bytes: Size }),
  TaskRequest: message('TaskRequest', { ...ForTask, size_bytes: Size, assignment: Assignment }),
  TaskAck: message('TaskAck', ForTask),
  TaskStatusQuery: message('TaskStatusQuery', ForTask),

  // Server -> client
  /** 'assigned' carries the placement; 'busy' carries null. */
  TaskAssignmentResponse: v.pipe(
    message('TaskAssignmentResponse', {
      ...FromServer,
      ...ForTask,
      status: OneOf(['assigned', 'busy']),
      assignment: Nullable(Assignment),
      retry_after_ms: Duration,
    }),
    v.forward(
      v.check(
        (m) => (m.status === 'assigned') === (m.assignment !== null),
        (issue) =>
          issue.input.status === 'busy'
            ? 'expected null when status is busy'
            : 'expected an assignment when status is assigned',
      ),
      ['assignment'],
    ),
  ),
  TaskAccepted: message('TaskAccepted', {
    ...FromServer,
    ...ForTask,
    queue_position: QueueLength,
  }),
  TaskRejected: message('TaskRejected', {
    ...FromServer,
    ...ForTask,
    reason: OneOf(['busy', 'not_assigned', 'shutting_down']),
    assignment: Nullable(Assignment),
  }),
  TaskResponse: message('TaskResponse', {
    ...FromServer,
    ...ForTask,
    ok: Bool(),
    result_size_bytes: Size,
    result_digest: AnyText(L.max_digest_length),
    error: Nullable(AnyText(L.max_error_length)),
  }),
  TaskStatusResponse: message('TaskStatusResponse', {
    ...FromServer,
    ...ForTask,
    assignment: Nullable(Assignment),
    local_state: OneOf(['queued', 'running', 'done', 'none']),
    is_leader: Bool(),
  }),
} as const satisfies Record<MessageType, Schema>;

/**
 * Checks that `value` is a well-formed message: known type, every field present with the
 * right type and within {@link MESSAGE_LIMITS}. Extra fields are tolerated (forward
 * compatibility) and left out of the returned message. Never throws.
 */
export function validateMessage(value: unknown): ValidationResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'message: expected an object' };
  }
  const type = 'type' in value ? value.type : undefined;
  if (typeof type !== 'string' || !isMessageType(type)) {
    return { ok: false, error: `type: unknown message type ${JSON.stringify(type)}` };
  }
  const result = parseFirst(CORE_MESSAGE_SCHEMAS[type], value);
  return result.ok
    ? { ok: true, message: result.value }
    : { ok: false, error: describeIssue(result.issue, type) };
}

// ---- The schemas and the core's types cannot drift ---------------------------------------------

/** True when each type is assignable to the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** The message types whose schema accepts something else than the core's type says. */
type Drifted = {
  [T in MessageType]: Same<
    Infer<(typeof CORE_MESSAGE_SCHEMAS)[T]>,
    Extract<Message, { type: T }>
  > extends true
    ? never
    : T;
}[MessageType];
/** Fails to compile, naming the message type, when a schema and src/core/messages.ts differ. */
export const SCHEMAS_MATCH_CORE_TYPES: [Drifted] extends [never] ? true : Drifted = true;
