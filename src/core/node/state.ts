/**
 * Everything one server remembers, in one record. The files next to this one are the
 * algorithms; each takes this record as its first argument (as etcd-io/raft's functions take
 * `*raft`) and changes only the part it is responsible for. `ServerNode` (../server-node.ts)
 * owns one NodeState and is the only way in from outside.
 */
import type { ServerNodeConfig } from '../config.js';
import type { TaskOutcome } from '../events.js';
import { TaskHistory } from '../history.js';
import type {
  Assignment,
  HistoryEntry,
  HistorySnapshotMessage,
  LoadReport,
  MemberState,
  MemberView,
  NodeRole,
  ServerId,
  TaskAssignmentRequestMessage,
  TaskRef,
} from '../messages.js';
import type { RandomSource } from '../random.js';
import type { LocalLoad } from '../score.js';
import { Outbox } from './outbox.js';

/** One peer in the leader's member table. */
export interface Member {
  id: ServerId;
  state: MemberState;
  synced: boolean;
  last_heard_ms: number | null;
  load: LoadReport | null;
  assigned_since_report: number;
}

/** A task this server runs (or ran) for a client. */
export interface LocalTask {
  ref: TaskRef;
  assignment: Assignment;
  size_bytes: number;
  state: 'queued' | 'running' | 'done';
  outcome: TaskOutcome | null;
  /** The client acknowledged a result (maybe from another server) before this one finished. */
  acked: boolean;
  finished_at_ms: number;
  resend_at_ms: number;
  resends: number;
}

/** A client's ack this follower still has to report to its leader. */
export interface PendingRemoval {
  ref: TaskRef;
  next_send_ms: number;
  expires_ms: number;
}

/** A full (fallback) Bully election this server started. */
export interface ElectionRound {
  round: number;
  deadline_ms: number;
  phase: 'collecting' | 'nominated';
  answers: Map<ServerId, number>;
  nominee: ServerId | null;
}

/** Parts of a leader's history snapshot received so far. */
export interface SnapshotAssembly {
  snapshot_id: number;
  seq: number;
  parts: number;
  digest: number;
  received: Map<number, HistorySnapshotMessage>;
}

export type HistoryChange = { kind: 'add'; entry: HistoryEntry } | { kind: 'remove'; ref: TaskRef };

/** Counters for /metrics and the simulator. */
export interface NodeCounters {
  messages_received: number;
  messages_sent: number;
  rejected_invalid: number;
  rejected_unknown_sender: number;
  rejected_stale_epoch: number;
  dropped_while_silent: number;
  elections_started: number;
  leaderships: number;
  tasks_assigned: number;
  tasks_reassigned: number;
  tasks_executed: number;
  snapshots_installed: number;
  busy_replies: number;
}

export class NodeState {
  readonly config: ServerNodeConfig;
  readonly random: RandomSource;
  readonly peerSet: ReadonlySet<ServerId>;
  readonly out = new Outbox();
  readonly counters: NodeCounters = {
    messages_received: 0,
    messages_sent: 0,
    rejected_invalid: 0,
    rejected_unknown_sender: 0,
    rejected_stale_epoch: 0,
    dropped_while_silent: 0,
    elections_started: 0,
    leaderships: 0,
    tasks_assigned: 0,
    tasks_reassigned: 0,
    tasks_executed: 0,
    snapshots_installed: 0,
    busy_replies: 0,
  };

  now: number;
  lastInputAt: number | null;

  // --- role and epoch (hard state: maxTerm and epoch) ---
  role: NodeRole = 'follower';
  epoch = 0;
  maxTerm = 0;
  leaderId: ServerId | null = null;
  /** Wall clock minus `now`, when the runtime gave one (terms are bounded by it; ./epochs.ts). */
  wallClockOffset_ms: number | null = null;

  // --- following a leader ---
  /** When the leader last counted as alive (a rumour of it counts, to give it a chance). */
  leaderLastHeard = 0;
  /** When we last got a message from the leader itself (only this makes us vouch for it). */
  leaderContactAt = -Infinity;
  /** The leader's successor list and member view from its last heartbeat. */
  successors: ServerId[] = [];
  leaderView: MemberView[] = [];
  leaderViewAt = 0;
  nextHeartbeatAt = 0;

  // --- leading ---
  leadingSince = 0;
  readonly members = new Map<ServerId, Member>();
  selfAssignedSinceReport = 0;
  /** Hysteresis: since when the leader's score is worse than the best follower's by the margin. */
  overloadedSince: number | null = null;

  // --- leaderless: successor claim and election ---
  claimAt: number | null = null;
  electionAt: number | null = null;
  election: ElectionRound | null = null;
  electionRound = 0;
  /** When we last sent each peer a StaleEpoch (rate limit). */
  readonly hintSentAt = new Map<ServerId, number>();

  // --- history replication ---
  readonly history: TaskHistory;
  /** Leader: its change counter in this epoch. */
  seq = 0;
  /** Follower: the last change applied (-1: not synced). */
  appliedSeq = -1;
  readonly buffered = new Map<number, HistoryChange>();
  behindSince: number | null = null;
  behindTarget = 0;
  syncRequestedAt: number | null = null;
  snapshot: SnapshotAssembly | null = null;
  snapshotCounter = 0;

  // --- local work ---
  localLoad: LocalLoad = { cpu_pct: 0, memory_used_pct: 0, load_average: null };
  readonly localTasks = new Map<string, LocalTask>();
  running = 0;
  queued = 0;
  done = 0;
  readonly pendingRemovals = new Map<string, PendingRemoval>();
  /**
   * Clients multicast TaskAssignmentRequest to every server, so a follower hears the requests
   * its leader should answer. It keeps the recent ones; if it becomes leader it answers them at
   * once instead of waiting for each client's retry timer (which would add up to a retry
   * interval to every failover).
   */
  readonly heardAssignmentRequests = new Map<
    string,
    { message: TaskAssignmentRequestMessage; at_ms: number }
  >();

  // --- failure simulation ---
  failureSimulationOn: boolean;
  silentUntil: number | null = null;
  failureSimNextPickAt = 0;
  failureSimBusyUntil = 0;
  /** Peers silenced by the failure simulation, until when their silence (plus slack) lasts. */
  readonly silencedPeers = new Map<ServerId, number>();

  // --- housekeeping ---
  nextHousekeepingAt = 0;
  nextOrphanProbeAt = 0;
  nextHistoryScanAt = 0;

  constructor(config: ServerNodeConfig, random: RandomSource, now_ms: number) {
    this.config = config;
    this.random = random;
    this.peerSet = new Set(config.peers);
    this.history = new TaskHistory(config.limits.max_history_entries, config.limits.max_tombstones);
    this.failureSimulationOn = config.failure_simulation.enabled;
    for (const id of config.peers) this.members.set(id, newMember(id, now_ms));
    this.now = now_ms;
    this.lastInputAt = now_ms;
  }

  get id(): ServerId {
    return this.config.id;
  }

  get isSynced(): boolean {
    return this.appliedSeq >= 0 || this.role === 'leader';
  }
}

function newMember(id: ServerId, now_ms: number): Member {
  return {
    id,
    state: 'alive',
    synced: false,
    last_heard_ms: now_ms,
    load: null,
    assigned_since_report: 0,
  };
}

/**
 * How long after a silence of `duration_ms` starts the failure simulation stays careful:
 * the silence, one failure timeout for the others to notice, and an election's worth.
 */
export function silenceGuard_ms(n: NodeState, duration_ms: number): number {
  return duration_ms + n.config.failure_timeout_ms + 2 * n.config.election_timeout_ms;
}
