/**
 * The field checkers of the cloud's core messages (src/core/messages.ts): the codec runs
 * {@link validateMessage} once on every decoded frame, so nothing past the codec sees an
 * unchecked message and the core state machines take typed messages.
 *
 * Every field must be present with the right type and within MESSAGE_LIMITS; errors name the
 * message type and the field (`Heartbeat.load.cpu_pct: expected a number in 0..100`).
 */
import { EPOCH_ID_SPACE, MAX_TERM } from '../core/epoch.js';
import { isTaskId, TASK_ID_RULE } from '../util/ids.js';
import { isMessageType, MESSAGE_LIMITS, type Message, type MessageType } from '../core/messages.js';

export type ValidationResult = { ok: true; message: Message } | { ok: false; error: string };

/** Thrown internally by the field checkers; never escapes {@link validateMessage}. */
class InvalidField extends Error {}

type Obj = Record<string, unknown>;

function fail(path: string, expected: string): never {
  throw new InvalidField(`${path}: expected ${expected}`);
}

function obj(v: unknown, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'an object');
  return v as Obj;
}

function int(o: Obj, key: string, min: number, max: number, path = key): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(path, `an integer in ${min}..${max}`);
  }
  return v;
}

function num(o: Obj, key: string, min: number, max: number, path = key): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    fail(path, `a number in ${min}..${max}`);
  }
  return v;
}

function bool(o: Obj, key: string, path = key): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') fail(path, 'true or false');
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, allowed: readonly T[], path = key): T {
  const v = o[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(path, `one of ${allowed.join(', ')}`);
  }
  return v as T;
}

function id(o: Obj, key: string, path = key): string {
  const v = o[key];
  if (!isTaskId(v)) fail(path, TASK_ID_RULE);
  return v;
}

function text(o: Obj, key: string, maxLength: number, path = key): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length > maxLength) fail(path, `a string of at most ${maxLength}`);
  return v;
}

function arr(o: Obj, key: string, maxLength: number, path = key): unknown[] {
  const v = o[key];
  if (!Array.isArray(v) || v.length > maxLength) fail(path, `an array of at most ${maxLength}`);
  return v;
}

const SERVER_ID_MAX = MESSAGE_LIMITS.max_server_id;
const EPOCH_MAX = MAX_TERM * EPOCH_ID_SPACE + SERVER_ID_MAX;

function serverId(o: Obj, key: string, path = key): number {
  return int(o, key, 1, SERVER_ID_MAX, path);
}

function nullableServerId(o: Obj, key: string, path = key): number | null {
  return o[key] === null ? null : serverId(o, key, path);
}

function epochOf(o: Obj, key = 'epoch', path = key): number {
  return int(o, key, 0, EPOCH_MAX, path);
}

function checkAssignment(v: unknown, path: string): void {
  const a = obj(v, path);
  serverId(a, 'server_id', `${path}.server_id`);
  int(a, 'epoch', 1, EPOCH_MAX, `${path}.epoch`);
  int(a, 'attempt', 1, MESSAGE_LIMITS.max_counter, `${path}.attempt`);
}

function checkNullableAssignment(o: Obj, key: string): void {
  if (o[key] !== null) checkAssignment(o[key], key);
}

function checkTaskRef(v: unknown, path: string): void {
  const t = obj(v, path);
  id(t, 'client_id', `${path}.client_id`);
  id(t, 'task_id', `${path}.task_id`);
}

function checkEntry(v: unknown, path: string): void {
  checkTaskRef(v, path);
  checkAssignment((v as Obj)['assignment'], `${path}.assignment`);
}

function checkHistoryInfo(v: unknown, path: string): void {
  const h = obj(v, path);
  int(h, 'seq', -1, MESSAGE_LIMITS.max_counter, `${path}.seq`);
  int(h, 'digest', 0, 0xffffffff, `${path}.digest`);
  int(h, 'size', 0, MESSAGE_LIMITS.max_counter, `${path}.size`);
}

function checkLoad(v: unknown, path: string): void {
  const l = obj(v, path);
  num(l, 'score', 0, 1e6, `${path}.score`);
  num(l, 'cpu_pct', 0, 100, `${path}.cpu_pct`);
  num(l, 'memory_used_pct', 0, 100, `${path}.memory_used_pct`);
  if (l['load_average'] !== null) num(l, 'load_average', 0, 1e6, `${path}.load_average`);
  int(l, 'active_tasks', 0, MESSAGE_LIMITS.max_queue, `${path}.active_tasks`);
  int(l, 'queue_length', 0, MESSAGE_LIMITS.max_queue, `${path}.queue_length`);
  int(l, 'capacity', 0, MESSAGE_LIMITS.max_queue, `${path}.capacity`);
}

function checkServerIds(o: Obj, key: string, maxLength: number): void {
  const list = arr(o, key, maxLength);
  list.forEach((_, i) => serverId(list as unknown as Obj, String(i), `${key}[${i}]`));
}

function checkEntries(o: Obj): void {
  const list = arr(o, 'entries', MESSAGE_LIMITS.max_entries_per_part);
  list.forEach((e, i) => checkEntry(e, `entries[${i}]`));
  const tombs = arr(o, 'tombstones', MESSAGE_LIMITS.max_entries_per_part);
  tombs.forEach((t, i) => checkTaskRef(t, `tombstones[${i}]`));
}

function checkParts(o: Obj): void {
  const parts = int(o, 'parts', 1, MESSAGE_LIMITS.max_parts);
  int(o, 'part', 0, parts - 1);
}

function checkMember(v: unknown, path: string): void {
  const m = obj(v, path);
  serverId(m, 'id', `${path}.id`);
  oneOf(m, 'state', ['alive', 'suspected', 'failed', 'silent', 'left'], `${path}.state`);
  bool(m, 'synced', `${path}.synced`);
  if (m['age_ms'] !== null) int(m, 'age_ms', 0, MESSAGE_LIMITS.max_counter, `${path}.age_ms`);
  if (m['load'] !== null) checkLoad(m['load'], `${path}.load`);
}

function serverHeader(o: Obj): void {
  serverId(o, 'from');
  epochOf(o);
}

function taskHeader(o: Obj): void {
  id(o, 'client_id');
  id(o, 'task_id');
}

const CHECKERS: Record<MessageType, (o: Obj) => void> = {
  Election: (o) => {
    serverHeader(o);
    int(o, 'max_term', 0, MAX_TERM);
    int(o, 'round', 0, MESSAGE_LIMITS.max_counter);
    num(o, 'score', 0, 1e6);
  },
  Alive: (o) => CHECKERS.Election(o),
  Nominate: (o) => {
    serverHeader(o);
    int(o, 'max_term', 0, MAX_TERM);
    int(o, 'round', 0, MESSAGE_LIMITS.max_counter);
  },
  Coordinator: (o) => {
    serverHeader(o);
    int(o, 'max_term', 0, MAX_TERM);
    oneOf(o, 'reason', ['successor', 'election', 'nominated', 'handover', 'alone']);
    checkServerIds(o, 'successors', MESSAGE_LIMITS.max_successors);
    checkHistoryInfo(o['history'], 'history');
  },
  Heartbeat: (o) => {
    serverHeader(o);
    nullableServerId(o, 'leader_id');
    oneOf(o, 'role', ['follower', 'candidate', 'leader', 'silent', 'left']);
    checkLoad(o['load'], 'load');
    bool(o, 'synced');
    checkHistoryInfo(o['history'], 'history');
    checkServerIds(o, 'successors', MESSAGE_LIMITS.max_successors);
    const members = arr(o, 'members', MESSAGE_LIMITS.max_members);
    members.forEach((m, i) => checkMember(m, `members[${i}]`));
  },
  StaleEpoch: (o) => {
    serverHeader(o);
    nullableServerId(o, 'leader_id');
    text(o, 'rejected_type', 64);
  },
  Handover: (o) => {
    serverHeader(o);
    serverId(o, 'to');
  },
  HistoryAdd: (o) => {
    serverHeader(o);
    int(o, 'seq', 1, MESSAGE_LIMITS.max_counter);
    checkEntry(o['entry'], 'entry');
  },
  HistoryRemove: (o) => {
    serverHeader(o);
    if (o['seq'] !== null) int(o, 'seq', 1, MESSAGE_LIMITS.max_counter);
    taskHeader(o);
  },
  HistorySyncRequest: (o) => serverHeader(o),
  HistorySnapshot: (o) => {
    serverHeader(o);
    int(o, 'seq', 0, MESSAGE_LIMITS.max_counter);
    int(o, 'snapshot_id', 0, MESSAGE_LIMITS.max_counter);
    checkParts(o);
    checkEntries(o);
    int(o, 'digest', 0, 0xffffffff);
  },
  HistoryOffer: (o) => {
    serverHeader(o);
    checkParts(o);
    checkEntries(o);
  },
  FailureSimulation: (o) => {
    serverHeader(o);
    serverId(o, 'target');
    int(o, 'duration_ms', 0, MESSAGE_LIMITS.max_duration_ms);
  },
  Leave: (o) => serverHeader(o),
  TaskAssignmentRequest: (o) => {
    taskHeader(o);
    int(o, 'size_bytes', 0, MESSAGE_LIMITS.max_size_bytes);
  },
  TaskRequest: (o) => {
    taskHeader(o);
    int(o, 'size_bytes', 0, MESSAGE_LIMITS.max_size_bytes);
    checkAssignment(o['assignment'], 'assignment');
  },
  TaskAck: (o) => taskHeader(o),
  TaskStatusQuery: (o) => taskHeader(o),
  TaskAssignmentResponse: (o) => {
    serverHeader(o);
    taskHeader(o);
    const status = oneOf(o, 'status', ['assigned', 'busy']);
    if (status === 'assigned') checkAssignment(o['assignment'], 'assignment');
    else if (o['assignment'] !== null) fail('assignment', 'null when status is busy');
    int(o, 'retry_after_ms', 0, MESSAGE_LIMITS.max_duration_ms);
  },
  TaskAccepted: (o) => {
    serverHeader(o);
    taskHeader(o);
    int(o, 'queue_position', 0, MESSAGE_LIMITS.max_queue);
  },
  TaskRejected: (o) => {
    serverHeader(o);
    taskHeader(o);
    oneOf(o, 'reason', ['busy', 'not_assigned', 'shutting_down']);
    checkNullableAssignment(o, 'assignment');
  },
  TaskResponse: (o) => {
    serverHeader(o);
    taskHeader(o);
    bool(o, 'ok');
    int(o, 'result_size_bytes', 0, MESSAGE_LIMITS.max_size_bytes);
    text(o, 'result_digest', MESSAGE_LIMITS.max_digest_length);
    if (o['error'] !== null) text(o, 'error', MESSAGE_LIMITS.max_error_length);
  },
  TaskStatusResponse: (o) => {
    serverHeader(o);
    taskHeader(o);
    checkNullableAssignment(o, 'assignment');
    oneOf(o, 'local_state', ['queued', 'running', 'done', 'none']);
    bool(o, 'is_leader');
  },
};

/**
 * Checks that `value` is a well-formed message: known type, every field present with the
 * right type and within {@link MESSAGE_LIMITS}. Extra fields are tolerated (forward
 * compatibility) but ignored. Never throws.
 */
export function validateMessage(value: unknown): ValidationResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: 'message: expected an object' };
  }
  const type = (value as Obj)['type'];
  if (typeof type !== 'string' || !isMessageType(type)) {
    return { ok: false, error: `type: unknown message type ${JSON.stringify(type)}` };
  }
  try {
    CHECKERS[type](value as Obj);
  } catch (err) {
    if (err instanceof InvalidField) return { ok: false, error: `${type}.${err.message}` };
    throw err;
  }
  return { ok: true, message: value as Message };
}
