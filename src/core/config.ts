/**
 * Configuration of the core state machines, with defaults and validation.
 *
 * Durations are milliseconds. The runtime's TOML loader maps the seed's fractional-second
 * keys (`heartbeat_interval_secs = 0.2`) to these `_ms` fields.
 */
import { UsageError } from '../util/errors.js';
import { isClientId, TASK_ID_RULE } from '../util/ids.js';
import { MESSAGE_LIMITS, type ClientId, type ServerId } from './messages.js';
import { DEFAULT_SCORE_WEIGHTS, type ScoreWeights } from './score.js';

export interface HysteresisConfig {
  /** The leader hands over only if its score exceeds the best other's by more than this. */
  margin: number;
  /** ...continuously for this long (and it has led at least this long). */
  sustain_ms: number;
}

export interface FailureSimulationConfig {
  /** Whether this server takes part (both the leader and the target must have it enabled). */
  enabled: boolean;
  /** How often the leader picks a server to go silent. */
  interval_ms: number;
  /** Shortest silence. */
  min_silence_ms: number;
  /** Longest silence (course rule: up to 20 s). */
  max_silence_ms: number;
}

export interface CoreLimits {
  /** Most tasks in the history; beyond that the leader answers busy. */
  max_history_entries: number;
  /** Most remembered acknowledged tasks (prevent resurrection when histories merge). */
  max_tombstones: number;
  /** Most finished-but-unacknowledged results a worker keeps. */
  max_cached_results: number;
  /** A history entry older than this (on the leader's clock) is dropped: its client is gone. */
  history_ttl_ms: number;
  /** A worker re-sends an unacknowledged result after this (then doubling, up to 8x). */
  result_resend_ms: number;
  /**
   * The leader reminds the client of every history entry older than this, at this period
   * (a client that already has the result acknowledges it, so no entry outlives its task).
   */
  orphan_probe_ms: number;
  /** Most out-of-order history changes a follower buffers before asking for a snapshot. */
  max_buffered_changes: number;
}

export interface ServerNodeConfig {
  /** This server's id, 1..999. */
  id: ServerId;
  /** Every other server's id. */
  peers: ServerId[];
  /** How often heartbeats go out. */
  heartbeat_interval_ms: number;
  /** How long to wait for election answers, and between successor-takeover steps. */
  election_timeout_ms: number;
  /** Silence after which a server (or the leader) is declared failed. */
  failure_timeout_ms: number;
  /** Period of housekeeping scans (reassignment retries, TTLs, failure-simulation picks). */
  monitor_interval_ms: number;
  /** Worker threads; the core counts at most this many tasks as running. */
  thread_pool_size: number;
  /** Tasks that may wait for a worker; beyond thread_pool_size + this, requests get busy. */
  max_queue_size: number;
  /** Load score weights. */
  score_weights: ScoreWeights;
  /** Leader stability. */
  hysteresis: HysteresisConfig;
  /** Successors the leader publishes in heartbeats (improved Bully). */
  successor_list_length: number;
  /** Built-in failure simulation. */
  failure_simulation: FailureSimulationConfig;
  /** Size limits. */
  limits: CoreLimits;
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? Partial<T[K]> : T[K] };

/** What callers pass: id and peers are required, everything else has a default. */
export type ServerNodeConfigInput = Pick<ServerNodeConfig, 'id' | 'peers'> &
  DeepPartial<Omit<ServerNodeConfig, 'id' | 'peers'>>;

/**
 * Fast, safe defaults: heartbeats every 200 ms, a server is failed after 1 s of silence
 * (five heartbeats: one or two late or lost heartbeats never cause a failover), elections
 * wait 400 ms for answers.
 */
export const DEFAULT_SERVER_TIMINGS = Object.freeze({
  heartbeat_interval_ms: 200,
  election_timeout_ms: 400,
  failure_timeout_ms: 1000,
  monitor_interval_ms: 100,
});

export const DEFAULT_LIMITS: Readonly<CoreLimits> = Object.freeze({
  max_history_entries: 20_000,
  max_tombstones: 20_000,
  max_cached_results: 2_000,
  history_ttl_ms: 15 * 60_000,
  result_resend_ms: 2_000,
  orphan_probe_ms: 5_000,
  max_buffered_changes: 2_000,
});

export function resolveServerNodeConfig(input: ServerNodeConfigInput): ServerNodeConfig {
  const config: ServerNodeConfig = {
    id: input.id,
    peers: [...input.peers],
    heartbeat_interval_ms:
      input.heartbeat_interval_ms ?? DEFAULT_SERVER_TIMINGS.heartbeat_interval_ms,
    election_timeout_ms: input.election_timeout_ms ?? DEFAULT_SERVER_TIMINGS.election_timeout_ms,
    failure_timeout_ms: input.failure_timeout_ms ?? DEFAULT_SERVER_TIMINGS.failure_timeout_ms,
    monitor_interval_ms: input.monitor_interval_ms ?? DEFAULT_SERVER_TIMINGS.monitor_interval_ms,
    thread_pool_size: input.thread_pool_size ?? 4,
    max_queue_size: input.max_queue_size ?? 100,
    score_weights: { ...DEFAULT_SCORE_WEIGHTS, ...input.score_weights },
    hysteresis: { margin: 25, sustain_ms: 10_000, ...input.hysteresis },
    successor_list_length: input.successor_list_length ?? 3,
    failure_simulation: {
      enabled: false,
      interval_ms: 60_000,
      min_silence_ms: 2_000,
      max_silence_ms: 20_000,
      ...input.failure_simulation,
    },
    limits: { ...DEFAULT_LIMITS, ...input.limits },
  };
  const problems = serverConfigProblems(config);
  if (problems.length > 0) {
    throw new UsageError(`invalid server settings: ${problems.join('; ')}`);
  }
  return config;
}

function checkRange(
  problems: string[],
  name: string,
  value: number,
  min: number,
  max: number,
  integer = true,
): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    problems.push(
      `${name} must be ${integer ? 'an integer' : 'a number'} in ${min}..${max} (got ${String(value)})`,
    );
  } else if (integer && !Number.isInteger(value)) {
    problems.push(`${name} must be a whole number (got ${value})`);
  }
}

/** Every problem with a resolved config, as readable sentences (empty when valid). */
export function serverConfigProblems(c: ServerNodeConfig): string[] {
  const p: string[] = [];
  const maxId = MESSAGE_LIMITS.max_server_id;
  checkRange(p, 'id', c.id, 1, maxId);
  const seen = new Set<number>();
  for (const peer of c.peers) {
    checkRange(p, 'peer id', peer, 1, maxId);
    if (peer === c.id) p.push(`peers must not include this server's own id ${c.id}`);
    if (seen.has(peer)) p.push(`peer id ${peer} is listed twice`);
    seen.add(peer);
  }
  const hour = 3_600_000;
  checkRange(p, 'heartbeat_interval_ms', c.heartbeat_interval_ms, 10, 60_000);
  checkRange(p, 'election_timeout_ms', c.election_timeout_ms, 10, 10 * 60_000);
  checkRange(p, 'failure_timeout_ms', c.failure_timeout_ms, 30, 10 * 60_000);
  checkRange(p, 'monitor_interval_ms', c.monitor_interval_ms, 10, 60_000);
  if (c.failure_timeout_ms < 3 * c.heartbeat_interval_ms) {
    p.push(
      `failure_timeout_ms (${c.failure_timeout_ms}) must be at least 3 x heartbeat_interval_ms ` +
        `(${c.heartbeat_interval_ms}) so that one late heartbeat never looks like a failure`,
    );
  }
  checkRange(p, 'thread_pool_size', c.thread_pool_size, 1, 1024);
  checkRange(p, 'max_queue_size', c.max_queue_size, 0, MESSAGE_LIMITS.max_queue - 1024);
  const w = c.score_weights;
  for (const key of ['cpu', 'tasks', 'memory', 'load_average'] as const) {
    checkRange(p, `score_weights.${key}`, w[key], 0, 100, false);
  }
  checkRange(p, 'score_weights.task_normalization', w.task_normalization, 1, 1_000_000, false);
  checkRange(p, 'hysteresis.margin', c.hysteresis.margin, 0, 1_000_000, false);
  checkRange(p, 'hysteresis.sustain_ms', c.hysteresis.sustain_ms, 0, hour);
  checkRange(p, 'successor_list_length', c.successor_list_length, 1, MESSAGE_LIMITS.max_successors);
  failureSimulationProblems(p, c);
  const l = c.limits;
  checkRange(p, 'limits.max_history_entries', l.max_history_entries, 1, 10_000_000);
  checkRange(p, 'limits.max_tombstones', l.max_tombstones, 0, 10_000_000);
  checkRange(p, 'limits.max_cached_results', l.max_cached_results, 1, 1_000_000);
  checkRange(p, 'limits.history_ttl_ms', l.history_ttl_ms, 1000, 7 * 24 * hour);
  checkRange(p, 'limits.result_resend_ms', l.result_resend_ms, 10, hour);
  checkRange(p, 'limits.orphan_probe_ms', l.orphan_probe_ms, 100, hour);
  checkRange(p, 'limits.max_buffered_changes', l.max_buffered_changes, 1, 1_000_000);
  return p;
}

function failureSimulationProblems(p: string[], c: ServerNodeConfig): void {
  const f = c.failure_simulation;
  if (typeof f.enabled !== 'boolean') p.push('failure_simulation.enabled must be true or false');
  checkRange(p, 'failure_simulation.min_silence_ms', f.min_silence_ms, 0, 3_600_000);
  checkRange(p, 'failure_simulation.max_silence_ms', f.max_silence_ms, 0, 3_600_000);
  checkRange(p, 'failure_simulation.interval_ms', f.interval_ms, 1000, 24 * 3_600_000);
  if (f.min_silence_ms > f.max_silence_ms) {
    p.push('failure_simulation.min_silence_ms must not exceed max_silence_ms');
  }
  // A new silence may only start once the previous one has surely ended and its server had
  // time to be noticed again, whoever is leader: that is what keeps it to one at a time.
  const needed = f.max_silence_ms + c.failure_timeout_ms + 2 * c.election_timeout_ms;
  if (f.enabled && f.interval_ms <= needed) {
    p.push(
      `failure_simulation.interval_ms (${f.interval_ms}) must exceed max_silence_ms + ` +
        `failure_timeout_ms + 2 x election_timeout_ms (${needed}) so silences never overlap`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

export interface ClientSessionConfig {
  /** This client's id (unique in the cloud; the runtime may use a random id). */
  client_id: ClientId;
  /** Every server's id. */
  servers: ServerId[];
  /** Wait this long for a leader's TaskAssignmentResponse before asking again. */
  assignment_timeout_ms: number;
  /** Wait this long for TaskAccepted/TaskResponse after sending TaskRequest before polling. */
  request_timeout_ms: number;
  /** While a task runs, ask its server for status this often. */
  poll_interval_ms: number;
  /** Give up on a task this long after it was submitted (the only way a task fails). */
  task_deadline_ms: number;
  /** Retries back off by 1.5x per attempt up to this. */
  max_backoff_ms: number;
  /** Most tasks in flight in one session. */
  max_tasks: number;
  /** Finished tasks remembered to absorb duplicates and late messages. */
  completed_memory: number;
}

export type ClientSessionConfigInput = Pick<ClientSessionConfig, 'client_id' | 'servers'> &
  Partial<Omit<ClientSessionConfig, 'client_id' | 'servers'>>;

export const DEFAULT_CLIENT_TIMINGS = Object.freeze({
  assignment_timeout_ms: 500,
  request_timeout_ms: 500,
  poll_interval_ms: 500,
  task_deadline_ms: 120_000,
  max_backoff_ms: 2_000,
});

export function resolveClientSessionConfig(input: ClientSessionConfigInput): ClientSessionConfig {
  const c: ClientSessionConfig = {
    ...DEFAULT_CLIENT_TIMINGS,
    max_tasks: 10_000,
    completed_memory: 10_000,
    ...input,
    servers: [...input.servers],
  };
  const p: string[] = [];
  if (!isClientId(c.client_id)) {
    p.push(`client_id must be ${TASK_ID_RULE}`);
  }
  if (c.servers.length === 0) p.push('servers must list at least one server id');
  for (const s of c.servers) checkRange(p, 'server id', s, 1, MESSAGE_LIMITS.max_server_id);
  if (new Set(c.servers).size !== c.servers.length) p.push('servers must not repeat an id');
  checkRange(p, 'assignment_timeout_ms', c.assignment_timeout_ms, 10, 600_000);
  checkRange(p, 'request_timeout_ms', c.request_timeout_ms, 10, 600_000);
  checkRange(p, 'poll_interval_ms', c.poll_interval_ms, 10, 600_000);
  checkRange(p, 'task_deadline_ms', c.task_deadline_ms, 100, 7 * 24 * 3_600_000);
  checkRange(p, 'max_backoff_ms', c.max_backoff_ms, 10, 600_000);
  checkRange(p, 'max_tasks', c.max_tasks, 1, 10_000_000);
  checkRange(p, 'completed_memory', c.completed_memory, 1, 10_000_000);
  if (p.length > 0) throw new UsageError(`invalid client settings: ${p.join('; ')}`);
  return c;
}
