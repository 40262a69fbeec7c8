/**
 * ServerNode: everything one cloud server decides, as a sans-IO state machine.
 *
 * Inputs: `receive` (a message), `tick` (time passed), `setLocalLoad`, `taskStarted`,
 * `taskFinished`, `setFailureSimulation`, `shutdown`. Outputs: `drain()` returns messages,
 * events and hard state; `nextDeadline_ms()` says when to call `tick` next. The node never
 * reads a clock, never sleeps and never touches a socket, so the simulator can run whole
 * clusters of it in virtual time and the runtime only moves bytes.
 *
 * The algorithms (see docs/ELECTION.md for the reasoning):
 * - Failure detection: a leader heartbeats every peer; followers heartbeat the leader with
 *   their load. Silence for failure_timeout means failed.
 * - Election: load-priority Bully (lower score wins, ties by lower id) with the improved-Bully
 *   successor list: the leader publishes its next-best servers; when it dies the first
 *   listed survivor claims at once (n-1 Coordinator messages). Only if the list is used up
 *   does a full election run, and that one nominates the best answerer instead of letting
 *   every better node start its own election (O(n) instead of O(n²)).
 * - Epochs: term * 1000 + id, minted only by their leader, never reused (HardState), so no two
 *   leaders share an epoch; older epochs are rejected with StaleEpoch, newer ones make a
 *   leader step down, so a healed partition converges to the highest epoch.
 * - History: the leader numbers its changes; followers apply them in order, resync by
 *   snapshot on gaps or divergence, and offer their own entries to a new leader whose
 *   digest differs (partition heal) so nothing assigned on the other side is lost.
 */
import {
  resolveServerNodeConfig,
  type ServerNodeConfig,
  type ServerNodeConfigInput,
} from './config.js';
import { epochLeader, epochTerm, makeEpoch, MAX_TERM, type HardState } from './epoch.js';
import type {
  Destination,
  NodeEvent,
  Outgoing,
  Ready,
  Source,
  StepDownReason,
  TaskOutcome,
} from './events.js';
import { digestOf, TaskHistory } from './history.js';
import {
  isClientToServerMessage,
  isNewerAssignment,
  isServerMessage,
  MESSAGE_LIMITS,
  taskKey,
  type AliveMessage,
  type Assignment,
  type ClientId,
  type ClientToServerMessage,
  type CoordinatorMessage,
  type ElectionMessage,
  type FailureSimulationMessage,
  type HandoverMessage,
  type HeartbeatMessage,
  type HistoryAddMessage,
  type HistoryEntry,
  type HistoryInfo,
  type HistoryOfferMessage,
  type HistoryRemoveMessage,
  type HistorySnapshotMessage,
  type LeaderReason,
  type LoadReport,
  type MemberState,
  type MemberView,
  type Message,
  type NodeRole,
  type NominateMessage,
  type ServerId,
  type ServerMessage,
  type StaleEpochMessage,
  type TaskAckMessage,
  type TaskAssignmentRequestMessage,
  type TaskId,
  type TaskRef,
  type TaskRequestMessage,
  type TaskStatusQueryMessage,
} from './messages.js';
import { choosePlacement, type PlacementCandidate } from './placement.js';
import { pick, randomInt, type RandomSource } from './random.js';
import { betterCandidate, priorityScore, type LocalLoad } from './score.js';

interface Member {
  id: ServerId;
  state: MemberState;
  synced: boolean;
  last_heard_ms: number | null;
  load: LoadReport | null;
  assigned_since_report: number;
}

interface LocalTask {
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

interface PendingRemoval {
  ref: TaskRef;
  next_send_ms: number;
  expires_ms: number;
}

interface ElectionRound {
  round: number;
  deadline_ms: number;
  phase: 'collecting' | 'nominated';
  answers: Map<ServerId, number>;
  nominee: ServerId | null;
}

interface SnapshotAssembly {
  snapshot_id: number;
  seq: number;
  parts: number;
  digest: number;
  received: Map<number, HistorySnapshotMessage>;
}

type HistoryChange = { kind: 'add'; entry: HistoryEntry } | { kind: 'remove'; ref: TaskRef };

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

/** Read-only view for /status. */
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

/** A node with a leader heard this recently answers Election with a leader hint instead. */
const LIVE_LEADER_HEARTBEATS = 2;

/** How often a leader scans its whole history for dead placements and expired entries. */
const HISTORY_SCAN_INTERVAL_MS = 1000;

/** Fallback elections start at most this many slots (election_timeout / 4 each) late. */
const MAX_FALLBACK_RANK = 8;
/** Most assignment requests a follower remembers for a takeover (oldest dropped first). */
const MAX_HEARD_ASSIGNMENT_REQUESTS = 4096;

export class ServerNode {
  readonly config: ServerNodeConfig;
  private readonly random: RandomSource;
  private readonly peerSet: ReadonlySet<ServerId>;

  private now = 0;
  private lastInputAt: number | null = null;

  // --- leadership ---
  private role: NodeRole = 'follower';
  private epochValue = 0;
  private maxTerm = 0;
  private leaderIdValue: ServerId | null = null;
  /** When the leader last counted as alive (a rumour of it counts, to give it a chance). */
  private leaderLastHeard = 0;
  /** When we last got a message from the leader itself (only this makes us vouch for it). */
  private leaderContactAt = -Infinity;
  private leadingSince = 0;
  private successors: ServerId[] = [];
  private leaderView: MemberView[] = [];
  private leaderViewAt = 0;
  private readonly members = new Map<ServerId, Member>();
  private selfAssignedSinceReport = 0;
  private nextHeartbeatAt = 0;

  // --- leaderless / election ---
  private claimAt: number | null = null;
  private electionAt: number | null = null;
  private election: ElectionRound | null = null;
  private electionRound = 0;
  private readonly hintSentAt = new Map<ServerId, number>();

  // --- history replication ---
  private readonly history: TaskHistory;
  private seq = 0;
  private appliedSeq = -1;
  private readonly buffered = new Map<number, HistoryChange>();
  private behindSince: number | null = null;
  private behindTarget = 0;
  private syncRequestedAt: number | null = null;
  private snapshot: SnapshotAssembly | null = null;
  private snapshotCounter = 0;

  // --- local work ---
  private localLoad: LocalLoad = { cpu_pct: 0, memory_used_pct: 0, load_average: null };
  private readonly localTasks = new Map<string, LocalTask>();
  private running = 0;
  private queued = 0;
  private done = 0;
  private readonly pendingRemovals = new Map<string, PendingRemoval>();

  // --- assignment requests heard while not leading ---
  /**
   * Clients multicast TaskAssignmentRequest to every server, so a follower hears the requests
   * its leader should answer. It keeps the recent ones; if it becomes leader it answers them at
   * once instead of waiting for each client's retry timer (which would add up to a retry
   * interval to every failover).
   */
  /** Peers silenced by the failure simulation, until when their silence (plus slack) lasts. */
  private readonly silencedPeers = new Map<ServerId, number>();
  private readonly heardAssignmentRequests = new Map<
    string,
    { message: TaskAssignmentRequestMessage; at_ms: number }
  >();

  // --- failure simulation, hysteresis, housekeeping ---
  private failureSimulationOn: boolean;
  private silentUntil: number | null = null;
  private failureSimNextPickAt = 0;
  private failureSimBusyUntil = 0;
  private overloadedSince: number | null = null;
  private nextHousekeepingAt = 0;
  private nextOrphanProbeAt = 0;
  private nextHistoryScanAt = 0;

  // --- outputs ---
  private outbox: Outgoing[] = [];
  private events: NodeEvent[] = [];
  private hardStateDirty = false;
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

  /**
   * @param config   validated settings (or the input to resolve; throws UsageError if invalid)
   * @param random   randomness for jitter and failure-simulation picks
   * @param now_ms   the runtime's monotonic clock now
   * @param restored hard state saved by a previous run of this server, if any
   */
  constructor(
    config: ServerNodeConfigInput | ServerNodeConfig,
    random: RandomSource,
    now_ms: number,
    restored?: HardState,
  ) {
    this.config = resolveServerNodeConfig(config);
    this.random = random;
    this.peerSet = new Set(this.config.peers);
    this.history = new TaskHistory(
      this.config.limits.max_history_entries,
      this.config.limits.max_tombstones,
    );
    this.failureSimulationOn = this.config.failure_simulation.enabled;
    for (const id of this.config.peers) this.members.set(id, newMember(id, now_ms));
    this.now = now_ms;
    this.lastInputAt = now_ms;
    if (restored !== undefined) this.restore(restored);
    this.nextHousekeepingAt = now_ms + this.config.monitor_interval_ms;
    this.becomeLeaderless(null, []);
    // A fresh server first listens for an existing leader before electing.
    if (this.config.peers.length === 0) this.electionAt = now_ms;
    else this.listenBeforeElecting();
  }

  private restore(state: HardState): void {
    const term = Number.isInteger(state.max_term) ? state.max_term : 0;
    const epoch = Number.isInteger(state.epoch) ? state.epoch : 0;
    this.maxTerm = Math.max(0, Math.min(MAX_TERM, Math.max(term, epochTerm(epoch))));
    this.epochValue = epoch >= 0 && epochTerm(epoch) <= MAX_TERM ? epoch : 0;
  }

  // =====================================================================================
  // Public API
  // =====================================================================================

  get id(): ServerId {
    return this.config.id;
  }

  get epoch(): number {
    return this.epochValue;
  }

  get leaderId(): ServerId | null {
    return this.leaderIdValue;
  }

  get currentRole(): NodeRole {
    return this.role;
  }

  get isSynced(): boolean {
    return this.appliedSeq >= 0 || this.role === 'leader';
  }

  hardState(): HardState {
    return { max_term: this.maxTerm, epoch: this.epochValue };
  }

  /**
   * A message arrived from `from` (server id from the peer handshake, or the client id).
   * `m` was validated by the codec; here only the sender is checked (who may send what).
   */
  receive(from: Source, m: Message, now_ms: number): void {
    this.enterInput(now_ms);
    this.counters.messages_received++;
    if (this.role === 'silent') {
      this.counters.dropped_while_silent++;
      return;
    }
    const senderProblem = this.senderProblem(from, m);
    if (senderProblem !== null) {
      this.counters.rejected_unknown_sender++;
      this.emit({ type: 'messageRejected', from, reason: senderProblem });
      return;
    }
    if (isServerMessage(m)) this.onServerMessage(m);
    else if (isClientToServerMessage(m)) this.onClientMessage(m);
  }

  /** Time passed; call at (or after) `nextDeadline_ms()`. */
  tick(now_ms: number): void {
    this.enterInput(now_ms);
    if (this.role === 'silent') {
      if (this.silentUntil !== null && this.now >= this.silentUntil) this.endSilence();
      else return;
    }
    if (this.role === 'left') return;
    this.checkLeaderless();
    this.checkElection();
    this.checkLeaderAlive();
    this.checkMembers();
    this.maybeSendHeartbeat();
    if (this.now >= this.nextHousekeepingAt) {
      this.nextHousekeepingAt = this.now + this.config.monitor_interval_ms;
      this.housekeeping();
    }
  }

  /** New local measurements (CPU, memory, optional load average). Task counts come from the task callbacks. */
  setLocalLoad(load: LocalLoad, now_ms: number): void {
    this.enterInput(now_ms);
    this.localLoad = {
      cpu_pct: clampPct(load.cpu_pct),
      memory_used_pct: clampPct(load.memory_used_pct),
      load_average:
        load.load_average === undefined ||
        load.load_average === null ||
        !Number.isFinite(load.load_average)
          ? null
          : Math.max(0, Math.min(1e4, load.load_average)),
    };
  }

  /** A worker picked the task up (after an `executeTask` event). */
  taskStarted(client_id: ClientId, task_id: TaskId, now_ms: number): void {
    this.enterInput(now_ms);
    const task = this.localTasks.get(taskKey(client_id, task_id));
    if (task === undefined || task.state !== 'queued') return;
    task.state = 'running';
    this.queued--;
    this.running++;
  }

  /** The task finished; the runtime keeps the result bytes until `releaseResult`. */
  taskFinished(client_id: ClientId, task_id: TaskId, outcome: TaskOutcome, now_ms: number): void {
    this.enterInput(now_ms);
    const key = taskKey(client_id, task_id);
    const task = this.localTasks.get(key);
    if (task === undefined || task.state === 'done') return;
    if (task.state === 'running') this.running--;
    else this.queued--;
    this.counters.tasks_executed++;
    if (task.acked) {
      this.localTasks.delete(key);
      this.emit({ type: 'releaseResult', client_id, task_id });
      return;
    }
    task.state = 'done';
    task.outcome = sanitizeOutcome(outcome);
    task.finished_at_ms = this.now;
    task.resend_at_ms = this.now + this.config.limits.result_resend_ms;
    this.done++;
    this.sendResult(task);
    this.evictResults();
  }

  /** Turns the built-in failure simulation on or off at run time (config gives the default). */
  setFailureSimulation(enabled: boolean, now_ms: number): void {
    this.enterInput(now_ms);
    this.failureSimulationOn = enabled;
  }

  /** Graceful shutdown: tell every peer, stop taking work; results in flight are still sent. */
  shutdown(now_ms: number): void {
    this.enterInput(now_ms);
    if (this.role === 'left') return;
    if (this.role === 'leader') this.stepDown('shutdown');
    this.broadcast({ type: 'Leave', from: this.id, epoch: this.epochValue });
    this.role = 'left';
    this.leaderIdValue = null;
    // Queued work is handed back: the leader reassigns it when it gets Leave.
    for (const [key, task] of this.localTasks) {
      if (task.state !== 'queued') continue;
      this.localTasks.delete(key);
      this.queued--;
      this.emit({ type: 'cancelTask', ...task.ref });
    }
  }

  /** Everything produced since the last drain. */
  drain(): Ready {
    const ready: Ready = {
      messages: this.outbox,
      events: this.events,
      hard_state: this.hardStateDirty ? this.hardState() : null,
    };
    this.outbox = [];
    this.events = [];
    this.hardStateDirty = false;
    return ready;
  }

  /** The latest time by which `tick` must be called. */
  nextDeadline_ms(): number {
    let next = this.nextHousekeepingAt;
    const consider = (t: number | null): void => {
      if (t !== null && t < next) next = t;
    };
    if (this.role === 'silent') return Math.max(this.silentUntil ?? this.now, this.now);
    if (this.role === 'left') return this.now + this.config.monitor_interval_ms * 10;
    if (this.role === 'leader' || this.leaderIdValue !== null) consider(this.nextHeartbeatAt);
    if (this.role === 'follower' && this.leaderIdValue !== null) {
      consider(this.leaderLastHeard + this.config.failure_timeout_ms);
    }
    consider(this.claimAt);
    consider(this.electionAt);
    consider(this.election?.deadline_ms ?? null);
    if (this.role === 'leader') consider(this.nextMemberDeadline());
    return Math.max(next, this.now);
  }

  status(now_ms: number = this.now): NodeStatus {
    const members = this.role === 'leader' ? this.memberViews(now_ms) : this.leaderView;
    return {
      id: this.id,
      role: this.role,
      leader_id: this.leaderIdValue,
      epoch: this.epochValue,
      max_term: this.maxTerm,
      synced: this.isSynced,
      silent_until_ms: this.silentUntil,
      load: this.loadReport(),
      members,
      successors: this.role === 'leader' ? this.computeSuccessors() : [...this.successors],
      history: { ...this.historyInfo(), tombstones: this.history.allTombstones().length },
      tasks: {
        queued: this.queued,
        running: this.running,
        cached_results: this.done,
        pending_removals: this.pendingRemovals.size,
      },
      counters: { ...this.counters },
    };
  }

  /** Every history entry on this replica (for the simulator's checks and debugging). */
  historyEntries(): HistoryEntry[] {
    return this.history.allEntries();
  }

  // =====================================================================================
  // Input plumbing
  // =====================================================================================

  private enterInput(now_ms: number): void {
    const now = Number.isFinite(now_ms) ? Math.max(now_ms, this.now) : this.now;
    const gap = this.lastInputAt === null ? 0 : now - this.lastInputAt;
    this.now = now;
    this.lastInputAt = now;
    if (gap > this.config.failure_timeout_ms && this.role !== 'silent' && this.role !== 'left') {
      this.onStall(gap);
    }
  }

  private senderProblem(from: Source, m: Message): string | null {
    if (isServerMessage(m)) {
      if (from.kind !== 'server') return `${m.type} must come from a server connection`;
      if (!this.peerSet.has(from.id)) return `server ${from.id} is not a configured peer`;
      if (m.from !== from.id) return `${m.type}.from ${m.from} does not match sender ${from.id}`;
      return null;
    }
    if (isClientToServerMessage(m)) {
      if (from.kind !== 'client') return `${m.type} must come from a client connection`;
      if (m.client_id !== from.id) return `${m.type}.client_id does not match sender ${from.id}`;
      return null;
    }
    return `${m.type} is a server-to-client message`;
  }

  private emit(event: NodeEvent): void {
    this.events.push(event);
  }

  private send(to: Destination, message: Message): void {
    if (this.role === 'silent') return;
    if (this.role === 'left' && to.kind === 'server') return;
    this.outbox.push({ to, message });
    this.counters.messages_sent++;
  }

  private sendTo(id: ServerId, message: Message): void {
    this.send({ kind: 'server', id }, message);
  }

  private broadcast(message: Message, only?: (id: ServerId) => boolean): void {
    for (const id of this.config.peers) {
      if (only === undefined || only(id)) this.sendTo(id, message);
    }
  }

  private markHardState(): void {
    this.hardStateDirty = true;
  }

  private noteTerm(term: number): void {
    if (term > this.maxTerm) {
      this.maxTerm = Math.min(term, MAX_TERM);
      this.markHardState();
    }
  }

  // =====================================================================================
  // Server messages
  // =====================================================================================

  private onServerMessage(m: ServerMessage): void {
    this.noteTerm(epochTerm(m.epoch));
    if (this.role === 'leader') this.touchMember(m.from);
    if (this.role === 'left') return;
    switch (m.type) {
      case 'Election':
        return this.onElection(m);
      case 'Alive':
        return this.onAlive(m);
      case 'Nominate':
        return this.onNominate(m);
      case 'Coordinator':
        return this.onCoordinator(m);
      case 'Heartbeat':
        return this.onHeartbeat(m);
      case 'StaleEpoch':
        return this.onStaleEpoch(m);
      case 'Handover':
        return this.onHandover(m);
      case 'HistoryAdd':
      case 'HistorySnapshot':
      case 'FailureSimulation':
        return this.onLeaderDirective(m);
      case 'HistoryRemove':
        return m.seq === null ? this.onRemovalReport(m) : this.onLeaderDirective(m);
      case 'HistorySyncRequest':
      case 'HistoryOffer':
        return this.onFollowerRequest(m);
      case 'Leave':
        return this.onLeave(m.from);
    }
  }

  /** Replies StaleEpoch to a sender behind us, at most once per heartbeat interval each. */
  private replyStale(to: ServerId, rejectedType: string): void {
    this.counters.rejected_stale_epoch++;
    const last = this.hintSentAt.get(to);
    if (last !== undefined && this.now - last < this.config.heartbeat_interval_ms) return;
    this.hintSentAt.set(to, this.now);
    this.sendLeaderHint(to, rejectedType);
  }

  /** StaleEpoch doubles as "my leader is alive" when answering an Election in our epoch. */
  private sendLeaderHint(to: ServerId, rejectedType: string): void {
    const msg: StaleEpochMessage = {
      type: 'StaleEpoch',
      from: this.id,
      epoch: this.epochValue,
      leader_id: this.leaderIdValue,
      rejected_type: rejectedType,
    };
    this.sendTo(to, msg);
  }

  /** Something from a newer epoch: follow it (tentatively) and step down if leading. */
  private adoptNewerEpoch(epoch: number, leaderId: ServerId | null): void {
    if (epoch <= this.epochValue) return;
    if (leaderId !== null && leaderId !== this.id && epochLeader(epoch) === leaderId) {
      this.acceptLeader(leaderId, epoch, null);
      return;
    }
    if (this.role === 'leader') this.stepDown('newer_epoch');
    this.setEpoch(epoch);
    this.becomeLeaderless(null, []);
    this.listenBeforeElecting();
  }

  private setEpoch(epoch: number): void {
    if (epoch !== this.epochValue) {
      this.epochValue = epoch;
      this.noteTerm(epochTerm(epoch));
      this.markHardState();
    }
  }

  // --- election ---------------------------------------------------------------------

  private myScore(): number {
    return this.loadReport().score;
  }

  private hasLiveLeader(): boolean {
    return (
      this.role === 'follower' &&
      this.leaderIdValue !== null &&
      this.now - this.leaderContactAt <= LIVE_LEADER_HEARTBEATS * this.config.heartbeat_interval_ms
    );
  }

  private onElection(m: ElectionMessage): void {
    this.noteTerm(m.max_term);
    if (m.epoch > this.epochValue) this.adoptNewerEpoch(m.epoch, null);
    if (this.role === 'leader') {
      this.sendTo(m.from, this.coordinatorMessage('election'));
      return;
    }
    if (this.hasLiveLeader()) {
      // Our leader is clearly alive: tell the candidate instead of letting it take over.
      this.sendLeaderHint(m.from, 'Election');
      return;
    }
    if (betterCandidate(this.myScore(), this.id, m.score, m.from)) {
      const alive: AliveMessage = {
        type: 'Alive',
        from: this.id,
        epoch: this.epochValue,
        max_term: this.maxTerm,
        round: m.round,
        score: this.myScore(),
      };
      this.sendTo(m.from, alive);
    } else if (this.role === 'candidate') {
      // A better candidate is electing: let it finish (improved Bully), keep a backstop.
      this.election = null;
      this.role = 'follower';
    }
    this.postponeElection(3 * this.config.election_timeout_ms);
  }

  private postponeElection(by_ms: number): void {
    if (this.role !== 'follower' || this.leaderIdValue !== null) return;
    const at = this.now + by_ms;
    if (this.electionAt === null || this.electionAt < at) this.electionAt = at;
  }

  private onAlive(m: AliveMessage): void {
    this.noteTerm(m.max_term);
    const e = this.election;
    if (e === null || this.role !== 'candidate' || m.round !== e.round) return;
    e.answers.set(m.from, m.score);
  }

  private onNominate(m: NominateMessage): void {
    this.noteTerm(m.max_term);
    if (this.role === 'leader') {
      this.sendTo(m.from, this.coordinatorMessage('election'));
    } else if (this.hasLiveLeader()) {
      this.sendLeaderHint(m.from, 'Nominate');
    } else {
      this.claimLeadership('nominated');
    }
  }

  private startElection(): void {
    this.claimAt = null;
    this.electionAt = null;
    if (this.config.peers.length === 0) {
      this.claimLeadership('alone');
      return;
    }
    this.role = 'candidate';
    this.electionRound++;
    this.counters.elections_started++;
    this.election = {
      round: this.electionRound,
      deadline_ms: this.now + this.config.election_timeout_ms,
      phase: 'collecting',
      answers: new Map(),
      nominee: null,
    };
    this.emit({ type: 'electionStarted', round: this.electionRound });
    const msg: ElectionMessage = {
      type: 'Election',
      from: this.id,
      epoch: this.epochValue,
      max_term: this.maxTerm,
      round: this.electionRound,
      score: this.myScore(),
    };
    this.broadcast(msg);
  }

  private checkElection(): void {
    const e = this.election;
    if (e === null || this.role !== 'candidate' || this.now < e.deadline_ms) return;
    if (e.nominee !== null) e.answers.delete(e.nominee);
    let best: ServerId | null = null;
    let bestScore = Infinity;
    for (const [id, score] of e.answers) {
      if (best === null || betterCandidate(score, id, bestScore, best)) {
        best = id;
        bestScore = score;
      }
    }
    if (best === null || betterCandidate(this.myScore(), this.id, bestScore, best)) {
      this.claimLeadership('election');
      return;
    }
    e.phase = 'nominated';
    e.nominee = best;
    e.deadline_ms = this.now + this.config.election_timeout_ms;
    const msg: NominateMessage = {
      type: 'Nominate',
      from: this.id,
      epoch: this.epochValue,
      max_term: this.maxTerm,
      round: e.round,
    };
    this.sendTo(best, msg);
  }

  /** Leaderless: a successor claims at its turn; otherwise a full election starts. */
  private checkLeaderless(): void {
    if (this.role !== 'follower' || this.leaderIdValue !== null) return;
    if (this.claimAt !== null && this.now >= this.claimAt) {
      this.claimLeadership('successor');
    } else if (this.electionAt !== null && this.now >= this.electionAt) {
      this.startElection();
    }
  }

  private becomeLeaderless(lostLeader: ServerId | null, successors: readonly ServerId[]): void {
    this.role = 'follower';
    this.leaderIdValue = null;
    this.election = null;
    this.claimAt = null;
    const et = this.config.election_timeout_ms;
    const ladder = successors.filter((s) => s !== lostLeader);
    const rank = ladder.indexOf(this.id);
    if (rank >= 0) this.claimAt = this.now + rank * et;
    // If the whole ladder is gone, a full election: the best-ranked survivor starts first and
    // its Election makes the others defer, so usually only one server broadcasts.
    const excluded = new Set<ServerId>(ladder);
    if (lostLeader !== null) excluded.add(lostLeader);
    const slot = Math.max(1, Math.floor(et / 4));
    const stagger = Math.min(this.fallbackRank(excluded), MAX_FALLBACK_RANK) * slot;
    const jitter = randomInt(this.random, 0, Math.floor(slot / 2));
    this.electionAt = this.now + ladder.length * et + stagger + jitter;
  }

  /** Our place by (score, id) among the servers the last leader saw alive, minus `excluded`. */
  private fallbackRank(excluded: ReadonlySet<ServerId>): number {
    const mine = this.myScore();
    let rank = 0;
    for (const v of this.leaderView) {
      if (excluded.has(v.id) || v.id === this.id || v.state !== 'alive' || v.load === null)
        continue;
      if (betterCandidate(v.load.score, v.id, mine, this.id)) rank++;
    }
    return rank;
  }

  /** After boot, a stall or a silence: wait one failure timeout (plus jitter) for a leader. */
  private listenBeforeElecting(): void {
    const jitter = randomInt(this.random, 0, Math.floor(this.config.election_timeout_ms / 2));
    this.electionAt = this.now + this.config.failure_timeout_ms + jitter;
  }

  private claimLeadership(reason: LeaderReason): void {
    const term = Math.max(this.maxTerm, epochTerm(this.epochValue)) + 1;
    this.noteTerm(term);
    const previousLeader = this.leaderIdValue === null ? epochLeader(this.epochValue) : null;
    this.setEpoch(makeEpoch(term, this.id));
    this.role = 'leader';
    this.leaderIdValue = this.id;
    this.leadingSince = this.now;
    this.election = null;
    this.claimAt = null;
    this.electionAt = null;
    this.overloadedSince = null;
    this.counters.leaderships++;
    this.seq = 0;
    this.appliedSeq = 0;
    this.buffered.clear();
    this.snapshot = null;
    this.syncRequestedAt = null;
    this.behindSince = null;
    this.initMembersForLeadership(previousLeader);
    this.failureSimNextPickAt = this.now + this.config.failure_simulation.interval_ms;
    this.nextOrphanProbeAt = this.now + this.config.limits.orphan_probe_ms;
    this.emit({ type: 'becameLeader', epoch: this.epochValue, reason });
    this.broadcast(this.coordinatorMessage(reason));
    this.nextHeartbeatAt = this.now + this.config.heartbeat_interval_ms;
    this.reassignFromUnavailable();
    this.answerHeardAssignmentRequests();
  }

  private coordinatorMessage(reason: LeaderReason): CoordinatorMessage {
    return {
      type: 'Coordinator',
      from: this.id,
      epoch: this.epochValue,
      max_term: this.maxTerm,
      reason,
      successors: this.computeSuccessors(),
      history: this.historyInfo(),
    };
  }

  /** Seeds the member table from the previous leader's last view (ages carry over). */
  private initMembersForLeadership(previousLeader: ServerId | null): void {
    const view = new Map(this.leaderView.map((v) => [v.id, v]));
    for (const m of this.members.values()) {
      const seen = view.get(m.id);
      m.assigned_since_report = 0;
      if (seen !== undefined) {
        m.state = seen.state === 'suspected' ? 'alive' : seen.state;
        m.synced = seen.synced;
        m.load = seen.load;
        // The view is as old as the leader's last heartbeat (up to a failure timeout ago):
        // members it saw alive get a short grace to report to us before they count as dead.
        const seenAt = seen.age_ms === null ? this.now : this.leaderViewAt - seen.age_ms;
        m.last_heard_ms = Math.max(seenAt, this.now - this.config.failure_timeout_ms / 4);
      } else if (m.last_heard_ms === null || m.state === 'alive' || m.state === 'suspected') {
        // Unknown: give it one failure timeout to show up.
        m.state = 'alive';
        m.last_heard_ms = this.now;
      }
      if (m.id === previousLeader) {
        // The leader we lost: failed unless we heard it recently (a handover).
        m.last_heard_ms = this.leaderLastHeard;
        const lost = this.now - this.leaderLastHeard >= this.config.failure_timeout_ms;
        m.state = lost ? 'failed' : 'alive';
      }
    }
  }

  private stepDown(reason: StepDownReason): void {
    if (this.role !== 'leader') return;
    this.emit({ type: 'steppedDown', epoch: this.epochValue, reason });
    this.role = 'follower';
    this.leaderIdValue = null;
    this.appliedSeq = -1;
  }

  // --- leader announcements ---------------------------------------------------------

  private onCoordinator(m: CoordinatorMessage): void {
    if (epochLeader(m.epoch) !== m.from) return this.rejectInvalid(m, 'epoch not minted by sender');
    if (m.epoch < this.epochValue) return this.replyStale(m.from, m.type);
    if (m.epoch === this.epochValue && this.leaderIdValue === m.from && this.role === 'follower') {
      this.leaderLastHeard = this.now;
      this.leaderContactAt = this.now;
      return;
    }
    this.acceptLeader(m.from, m.epoch, m.history);
    this.leaderContactAt = this.now;
    this.successors = [...m.successors];
  }

  private rejectInvalid(m: ServerMessage, reason: string): void {
    this.counters.rejected_invalid++;
    this.emit({
      type: 'messageRejected',
      from: { kind: 'server', id: m.from },
      reason: `${m.type}: ${reason}`,
    });
  }

  private acceptLeader(leader: ServerId, epoch: number, info: HistoryInfo | null): void {
    const changed =
      epoch !== this.epochValue || this.leaderIdValue !== leader || this.role !== 'follower';
    if (this.role === 'leader') this.stepDown('newer_epoch');
    this.role = 'follower';
    this.election = null;
    this.claimAt = null;
    this.electionAt = null;
    this.setEpoch(epoch);
    this.leaderIdValue = leader;
    this.leaderLastHeard = this.now;
    this.nextHeartbeatAt = this.now;
    if (!changed) return;
    this.leaderContactAt = -Infinity;
    this.emit({ type: 'leaderAcknowledged', leader_id: leader, epoch });
    this.successors = [];
    this.leaderView = [];
    this.resetReplication();
    if (info !== null) this.beginFollowerSync(info);
  }

  private onHeartbeat(m: HeartbeatMessage): void {
    if (m.role === 'leader') return this.onLeaderHeartbeat(m);
    if (m.epoch > this.epochValue) {
      this.adoptNewerEpoch(m.epoch, m.leader_id);
      return;
    }
    if (m.epoch < this.epochValue) {
      this.replyStale(m.from, m.type);
      return;
    }
    if (this.role === 'leader' && m.leader_id === this.id) this.updateMember(m);
  }

  private onLeaderHeartbeat(m: HeartbeatMessage): void {
    if (epochLeader(m.epoch) !== m.from) return this.rejectInvalid(m, 'epoch not minted by sender');
    if (m.epoch < this.epochValue) return this.replyStale(m.from, m.type);
    if (m.epoch > this.epochValue || this.leaderIdValue !== m.from || this.role !== 'follower') {
      this.acceptLeader(m.from, m.epoch, m.history);
    }
    this.leaderLastHeard = this.now;
    this.leaderContactAt = this.now;
    this.successors = [...m.successors];
    this.leaderView = m.members;
    this.leaderViewAt = this.now;
    this.checkReplicationProgress(m.history);
  }

  private onStaleEpoch(m: StaleEpochMessage): void {
    if (m.epoch > this.epochValue) {
      this.adoptNewerEpoch(m.epoch, m.leader_id);
      return;
    }
    // Same epoch: a peer with a live leader answered our election; follow that leader.
    if (
      m.epoch === this.epochValue &&
      m.leader_id !== null &&
      m.leader_id !== this.id &&
      (this.role === 'candidate' || (this.role === 'follower' && this.leaderIdValue === null))
    ) {
      this.acceptLeader(m.leader_id, m.epoch, null);
    }
  }

  private onHandover(m: HandoverMessage): void {
    if (m.epoch !== this.epochValue || m.to !== this.id) return;
    if (
      this.role === 'follower' &&
      (this.leaderIdValue === m.from || this.leaderIdValue === null)
    ) {
      this.claimLeadership('handover');
    }
  }

  private onLeave(from: ServerId): void {
    if (this.role === 'leader') {
      const m = this.members.get(from);
      if (m !== undefined && m.state !== 'left') {
        m.state = 'left';
        this.emit({ type: 'peerLeft', peer: from });
        this.reassignFrom(from);
      }
      return;
    }
    if (this.leaderIdValue === from && this.role === 'follower') this.onLeaderLost();
  }

  // --- failure detection --------------------------------------------------------------

  private checkLeaderAlive(): void {
    if (this.role !== 'follower' || this.leaderIdValue === null) return;
    if (this.now - this.leaderLastHeard >= this.config.failure_timeout_ms) this.onLeaderLost();
  }

  private onLeaderLost(): void {
    const lost = this.leaderIdValue;
    if (lost === null) return;
    this.emit({ type: 'leaderLost', leader_id: lost, epoch: this.epochValue });
    this.becomeLeaderless(lost, this.successors);
    this.checkLeaderless();
  }

  private touchMember(id: ServerId): void {
    const m = this.members.get(id);
    if (m === undefined) return;
    m.last_heard_ms = this.now;
    if (m.state !== 'alive') this.reviveMember(m);
  }

  private reviveMember(m: Member): void {
    const wasDown = m.state === 'failed' || m.state === 'left' || m.state === 'silent';
    m.state = 'alive';
    if (wasDown) {
      m.synced = false;
      this.emit({ type: 'peerRecovered', peer: m.id });
      // The cluster just changed shape (maybe a healed partition whose other side ran its
      // own failure simulation): inject nothing until any silence there must have ended.
      const guard = this.failureSimGuard(this.config.failure_simulation.max_silence_ms);
      this.failureSimBusyUntil = Math.max(this.failureSimBusyUntil, this.now + guard);
    }
  }

  private updateMember(hb: HeartbeatMessage): void {
    const m = this.members.get(hb.from);
    if (m === undefined) return;
    m.last_heard_ms = this.now;
    m.load = hb.load;
    m.assigned_since_report = 0;
    m.synced = hb.synced;
    if (m.state !== 'alive') this.reviveMember(m);
    m.synced = hb.synced;
  }

  private checkMembers(): void {
    if (this.role !== 'leader') return;
    const ft = this.config.failure_timeout_ms;
    for (const m of this.members.values()) {
      if (m.state !== 'alive' && m.state !== 'suspected') continue;
      const age = this.now - (m.last_heard_ms ?? this.now);
      if (age >= ft) {
        // Its tasks move either way; only the name differs (the dashboard shows "silent").
        const silencedUntil = this.silencedPeers.get(m.id);
        if (silencedUntil !== undefined && this.now < silencedUntil) {
          m.state = 'silent';
        } else {
          m.state = 'failed';
          this.emit({ type: 'peerFailed', peer: m.id });
        }
        this.silencedPeers.delete(m.id);
        this.reassignFrom(m.id);
      } else if (age >= ft / 2 && m.state === 'alive') {
        m.state = 'suspected';
        this.emit({ type: 'peerSuspected', peer: m.id });
      }
    }
  }

  private nextMemberDeadline(): number | null {
    const ft = this.config.failure_timeout_ms;
    let next: number | null = null;
    for (const m of this.members.values()) {
      if (m.state !== 'alive' && m.state !== 'suspected') continue;
      const heard = m.last_heard_ms ?? this.now;
      const t = m.state === 'alive' ? heard + ft / 2 : heard + ft;
      if (next === null || t < next) next = t;
    }
    return next;
  }

  private onStall(gap: number): void {
    this.emit({ type: 'stallDetected', stalled_ms: gap });
    // Whatever we believed is stale: drop leadership, listen before acting, resync history.
    if (this.role === 'leader') this.stepDown('stalled');
    for (const m of this.members.values()) {
      if (m.state === 'alive' || m.state === 'suspected') m.last_heard_ms = this.now;
    }
    if (this.role === 'candidate') this.role = 'follower';
    if (this.leaderIdValue !== null) {
      this.leaderLastHeard = this.now;
      this.resetReplication();
    } else {
      this.becomeLeaderless(null, []);
      this.electionAt = this.now + this.config.failure_timeout_ms;
    }
  }

  // --- heartbeats -----------------------------------------------------------------------

  private maybeSendHeartbeat(): void {
    if (this.now < this.nextHeartbeatAt) return;
    const hi = this.config.heartbeat_interval_ms;
    this.nextHeartbeatAt = Math.max(this.nextHeartbeatAt + hi, this.now + hi / 2);
    if (this.role === 'leader') {
      this.selfAssignedSinceReport = 0;
      this.broadcast(this.heartbeatMessage());
    } else if (this.role === 'follower' && this.leaderIdValue !== null) {
      this.sendTo(this.leaderIdValue, this.heartbeatMessage());
    }
  }

  private heartbeatMessage(): HeartbeatMessage {
    const leading = this.role === 'leader';
    return {
      type: 'Heartbeat',
      from: this.id,
      epoch: this.epochValue,
      leader_id: this.leaderIdValue,
      role: this.role,
      load: this.loadReport(),
      synced: this.isSynced,
      history: this.historyInfo(),
      successors: leading ? this.computeSuccessors() : [],
      members: leading ? this.memberViews(this.now) : [],
    };
  }

  loadReport(): LoadReport {
    const capacity = this.config.thread_pool_size + this.config.max_queue_size;
    return {
      score: priorityScore(
        { ...this.localLoad, tasks: this.running + this.queued },
        this.config.score_weights,
      ),
      cpu_pct: this.localLoad.cpu_pct,
      memory_used_pct: this.localLoad.memory_used_pct,
      load_average: this.localLoad.load_average ?? null,
      active_tasks: this.running,
      queue_length: this.queued,
      capacity,
    };
  }

  private historyInfo(): HistoryInfo {
    return this.history.info(this.role === 'leader' ? this.seq : this.appliedSeq);
  }

  private memberViews(now: number): MemberView[] {
    return [...this.members.values()].map((m) => ({
      id: m.id,
      state: m.state,
      synced: m.synced,
      age_ms: m.last_heard_ms === null ? null : Math.max(0, Math.round(now - m.last_heard_ms)),
      load: m.load,
    }));
  }

  private isEligible(m: Member): boolean {
    return m.state === 'alive' && m.synced;
  }

  private computeSuccessors(): ServerId[] {
    const eligible = [...this.members.values()].filter(
      (m) => this.isEligible(m) && m.load !== null,
    );
    eligible.sort((a, b) => {
      const sa = a.load?.score ?? 0;
      const sb = b.load?.score ?? 0;
      return sa !== sb ? sa - sb : a.id - b.id;
    });
    return eligible.slice(0, this.config.successor_list_length).map((m) => m.id);
  }

  // =====================================================================================
  // History replication
  // =====================================================================================

  private resetReplication(): void {
    this.appliedSeq = -1;
    this.buffered.clear();
    this.behindSince = null;
    this.syncRequestedAt = null;
    this.snapshot = null;
  }

  /** First contact with a leader: in sync if digests match, else offer ours and ask for its. */
  private beginFollowerSync(info: HistoryInfo): void {
    if (info.digest === this.history.digest && info.size === this.history.size) {
      this.appliedSeq = info.seq;
      return;
    }
    if (this.history.size > 0) this.sendOffer();
    this.requestSync();
  }

  private sendOffer(): void {
    const leader = this.leaderIdValue;
    if (leader === null) return;
    const per = MESSAGE_LIMITS.max_entries_per_part;
    const entries = this.history.allEntries();
    const tombstones = this.history.allTombstones().slice(-4 * per);
    const parts = Math.max(1, Math.ceil(Math.max(entries.length, tombstones.length) / per));
    for (let part = 0; part < parts; part++) {
      const offer: HistoryOfferMessage = {
        type: 'HistoryOffer',
        from: this.id,
        epoch: this.epochValue,
        part,
        parts,
        entries: entries.slice(part * per, (part + 1) * per),
        tombstones: tombstones.slice(part * per, (part + 1) * per),
      };
      this.sendTo(leader, offer);
    }
  }

  private requestSync(): void {
    const leader = this.leaderIdValue;
    if (leader === null || this.role !== 'follower') return;
    const retry = Math.max(
      2 * this.config.election_timeout_ms,
      2 * this.config.heartbeat_interval_ms,
    );
    if (this.syncRequestedAt !== null && this.now - this.syncRequestedAt < retry) return;
    this.syncRequestedAt = this.now;
    this.sendTo(leader, { type: 'HistorySyncRequest', from: this.id, epoch: this.epochValue });
  }

  private checkReplicationProgress(info: HistoryInfo): void {
    if (this.appliedSeq < 0) {
      if (this.syncRequestedAt === null) this.beginFollowerSync(info);
      else this.requestSync();
      return;
    }
    if (info.seq > this.appliedSeq) {
      if (this.behindSince === null) {
        this.behindSince = this.now;
        this.behindTarget = info.seq;
      } else if (this.now - this.behindSince > 2 * this.config.heartbeat_interval_ms) {
        this.requestSync();
      }
      return;
    }
    this.behindSince = null;
    if (info.seq === this.appliedSeq && info.digest !== this.history.digest) this.requestSync();
  }

  /** HistoryAdd, HistoryRemove (numbered), HistorySnapshot, FailureSimulation from a leader. */
  private onLeaderDirective(
    m: HistoryAddMessage | HistoryRemoveMessage | HistorySnapshotMessage | FailureSimulationMessage,
  ): void {
    if (m.epoch < this.epochValue) return this.replyStale(m.from, m.type);
    if (m.epoch > this.epochValue) return this.adoptNewerEpoch(m.epoch, epochLeader(m.epoch));
    if (this.role !== 'follower' || this.leaderIdValue !== m.from) return;
    this.leaderLastHeard = this.now;
    this.leaderContactAt = this.now;
    switch (m.type) {
      case 'HistoryAdd':
        return this.applyOrBuffer(m.seq, { kind: 'add', entry: m.entry });
      case 'HistoryRemove':
        return this.applyOrBuffer(m.seq ?? 0, { kind: 'remove', ref: m });
      case 'HistorySnapshot':
        return this.onSnapshotPart(m);
      case 'FailureSimulation':
        return this.onFailureSimulation(m);
    }
  }

  private applyOrBuffer(seq: number, change: HistoryChange): void {
    if (this.appliedSeq >= 0 && seq <= this.appliedSeq) return;
    if (this.appliedSeq >= 0 && seq === this.appliedSeq + 1) {
      this.applyChange(change);
      this.appliedSeq = seq;
      this.drainBuffered();
      return;
    }
    if (this.buffered.size >= this.config.limits.max_buffered_changes) {
      this.buffered.clear();
      this.syncRequestedAt = null;
      this.requestSync();
      return;
    }
    this.buffered.set(seq, change);
  }

  private drainBuffered(): void {
    for (;;) {
      const next = this.buffered.get(this.appliedSeq + 1);
      if (next === undefined) break;
      this.buffered.delete(this.appliedSeq + 1);
      this.applyChange(next);
      this.appliedSeq++;
    }
    for (const seq of this.buffered.keys()) if (seq <= this.appliedSeq) this.buffered.delete(seq);
    if (this.behindSince !== null && this.appliedSeq >= this.behindTarget) this.behindSince = null;
  }

  private applyChange(change: HistoryChange): void {
    if (change.kind === 'add') {
      this.history.set(change.entry, this.now);
    } else {
      this.history.remove(change.ref);
    }
  }

  private onSnapshotPart(m: HistorySnapshotMessage): void {
    if (this.snapshot === null || this.snapshot.snapshot_id !== m.snapshot_id) {
      this.snapshot = {
        snapshot_id: m.snapshot_id,
        seq: m.seq,
        parts: m.parts,
        digest: m.digest,
        received: new Map(),
      };
    }
    const s = this.snapshot;
    if (m.parts !== s.parts || m.seq !== s.seq) return;
    s.received.set(m.part, m);
    if (s.received.size < s.parts) return;
    const parts = [...s.received.values()].sort((a, b) => a.part - b.part);
    const entries = parts.flatMap((p) => p.entries);
    const tombstones = parts.flatMap((p) => p.tombstones);
    this.snapshot = null;
    if (digestOf(entries) !== s.digest) {
      this.syncRequestedAt = null;
      this.requestSync();
      return;
    }
    this.history.install(entries, tombstones, this.now);
    this.appliedSeq = s.seq;
    this.syncRequestedAt = null;
    this.behindSince = null;
    this.counters.snapshots_installed++;
    this.drainBuffered();
    this.emit({ type: 'resynced', entries: entries.length, seq: s.seq });
  }

  /** HistorySyncRequest and HistoryOffer: only the leader of the sender's epoch handles them. */
  private onFollowerRequest(
    m: ServerMessage & { type: 'HistorySyncRequest' | 'HistoryOffer' },
  ): void {
    if (m.epoch < this.epochValue) return this.replyStale(m.from, m.type);
    if (m.epoch > this.epochValue) return this.adoptNewerEpoch(m.epoch, epochLeader(m.epoch));
    if (this.role !== 'leader') return;
    if (m.type === 'HistorySyncRequest') this.sendSnapshot(m.from);
    else this.mergeOffer(m);
  }

  private sendSnapshot(to: ServerId): void {
    const per = MESSAGE_LIMITS.max_entries_per_part;
    const entries = this.history.allEntries();
    const tombstones = this.history.allTombstones().slice(-4 * per);
    const parts = Math.max(1, Math.ceil(Math.max(entries.length, tombstones.length) / per));
    const snapshotId = ++this.snapshotCounter;
    const digest = this.history.digest;
    for (let part = 0; part < parts; part++) {
      const msg: HistorySnapshotMessage = {
        type: 'HistorySnapshot',
        from: this.id,
        epoch: this.epochValue,
        seq: this.seq,
        snapshot_id: snapshotId,
        part,
        parts,
        entries: entries.slice(part * per, (part + 1) * per),
        tombstones: tombstones.slice(part * per, (part + 1) * per),
        digest,
      };
      this.sendTo(to, msg);
    }
  }

  private mergeOffer(m: HistoryOfferMessage): void {
    for (const t of m.tombstones) {
      if (this.history.get(taskKey(t.client_id, t.task_id)) !== undefined) this.commitRemove(t);
      else this.history.remove(t);
    }
    for (const entry of m.entries) {
      if (this.history.setIfNewer(entry, this.now)) this.broadcastChange({ kind: 'add', entry });
    }
    this.reassignFromUnavailable();
  }

  /** Leader: number a change and send it to every reachable follower. */
  private broadcastChange(change: HistoryChange): void {
    this.seq++;
    const reachable = (id: ServerId): boolean => {
      const state = this.members.get(id)?.state;
      return state === 'alive' || state === 'suspected';
    };
    if (change.kind === 'add') {
      this.broadcast(
        {
          type: 'HistoryAdd',
          from: this.id,
          epoch: this.epochValue,
          seq: this.seq,
          entry: change.entry,
        },
        reachable,
      );
    } else {
      this.broadcast(
        {
          type: 'HistoryRemove',
          from: this.id,
          epoch: this.epochValue,
          seq: this.seq,
          client_id: change.ref.client_id,
          task_id: change.ref.task_id,
        },
        reachable,
      );
    }
  }

  private commitAdd(entry: HistoryEntry): boolean {
    if (!this.history.set(entry, this.now)) return false;
    this.broadcastChange({ kind: 'add', entry });
    return true;
  }

  private commitRemove(ref: TaskRef): void {
    this.history.remove(ref);
    this.broadcastChange({
      kind: 'remove',
      ref: { client_id: ref.client_id, task_id: ref.task_id },
    });
  }

  /** A server reports that a client acknowledged a task. */
  private onRemovalReport(m: HistoryRemoveMessage): void {
    if (this.role !== 'leader') {
      if (m.epoch < this.epochValue) this.replyStale(m.from, m.type);
      return;
    }
    this.commitRemove(m);
  }

  // =====================================================================================
  // Placement and reassignment (leader)
  // =====================================================================================

  private placementCandidates(exclude: ServerId | null): PlacementCandidate[] {
    const out: PlacementCandidate[] = [];
    if (this.id !== exclude) {
      out.push({
        id: this.id,
        load: this.loadReport(),
        assigned_since_report: this.selfAssignedSinceReport,
      });
    }
    for (const m of this.members.values()) {
      if (m.id === exclude || !this.isEligible(m)) continue;
      out.push({ id: m.id, load: m.load, assigned_since_report: m.assigned_since_report });
    }
    return out;
  }

  private place(exclude: ServerId | null, force: boolean): ServerId | null {
    const chosen = choosePlacement(this.placementCandidates(exclude), {
      weights: this.config.score_weights,
      force,
    });
    if (chosen === null) return null;
    if (chosen === this.id) this.selfAssignedSinceReport++;
    else {
      const m = this.members.get(chosen);
      if (m !== undefined) m.assigned_since_report++;
    }
    return chosen;
  }

  private isUnavailable(serverId: ServerId): boolean {
    if (serverId === this.id) return false;
    const m = this.members.get(serverId);
    return m === undefined || m.state === 'failed' || m.state === 'left' || m.state === 'silent';
  }

  private reassignFrom(serverId: ServerId): void {
    if (this.role !== 'leader') return;
    for (const entry of this.history.onServer(serverId)) this.reassign(entry);
  }

  private reassignFromUnavailable(): void {
    if (this.role !== 'leader') return;
    for (const entry of this.history.allEntries()) {
      if (this.isUnavailable(entry.assignment.server_id)) this.reassign(entry);
    }
  }

  private reassign(entry: HistoryEntry): void {
    const target = this.place(entry.assignment.server_id, true) ?? this.id;
    const assignment: Assignment = {
      server_id: target,
      epoch: this.epochValue,
      attempt: entry.assignment.attempt + 1,
    };
    const updated: HistoryEntry = {
      client_id: entry.client_id,
      task_id: entry.task_id,
      assignment,
    };
    if (!this.commitAdd(updated)) return;
    this.counters.tasks_reassigned++;
    this.emit({
      type: 'taskReassigned',
      client_id: entry.client_id,
      task_id: entry.task_id,
      from_server: entry.assignment.server_id,
      assignment,
    });
    // Best effort: tell the client now instead of waiting for its next poll.
    this.pushStatus(updated);
  }

  // =====================================================================================
  // Client messages
  // =====================================================================================

  private onClientMessage(m: ClientToServerMessage): void {
    switch (m.type) {
      case 'TaskAssignmentRequest':
        return this.onAssignmentRequest(m);
      case 'TaskRequest':
        return this.onTaskRequest(m);
      case 'TaskAck':
        return this.onTaskAck(m);
      case 'TaskStatusQuery':
        return this.onStatusQuery(m);
    }
  }

  private toClient(clientId: ClientId, message: Message): void {
    this.send({ kind: 'client', id: clientId }, message);
  }

  private onAssignmentRequest(m: TaskAssignmentRequestMessage): void {
    if (this.role !== 'leader') {
      this.rememberAssignmentRequest(m);
      return;
    }
    const key = taskKey(m.client_id, m.task_id);
    // A late duplicate of a request whose task was already acknowledged: ignore it, or it
    // would leave an entry nobody will ever acknowledge.
    if (this.history.isTombstoned(key)) return;
    const existing = this.history.get(key);
    if (existing !== undefined) {
      this.answerAssignment(m, existing.assignment);
      return;
    }
    const server = this.history.isFull() ? null : this.place(null, false);
    if (server === null) {
      this.counters.busy_replies++;
      this.toClient(m.client_id, {
        type: 'TaskAssignmentResponse',
        from: this.id,
        epoch: this.epochValue,
        client_id: m.client_id,
        task_id: m.task_id,
        status: 'busy',
        assignment: null,
        retry_after_ms: this.config.heartbeat_interval_ms,
      });
      return;
    }
    const assignment: Assignment = { server_id: server, epoch: this.epochValue, attempt: 1 };
    this.commitAdd({ client_id: m.client_id, task_id: m.task_id, assignment });
    this.counters.tasks_assigned++;
    this.emit({ type: 'taskAssigned', client_id: m.client_id, task_id: m.task_id, assignment });
    this.answerAssignment(m, assignment);
  }

  /** How long a heard request stays worth answering on takeover: one failover's worth. */
  private heardRequestHorizon_ms(): number {
    return this.config.failure_timeout_ms + 2 * this.config.election_timeout_ms;
  }

  private rememberAssignmentRequest(m: TaskAssignmentRequestMessage): void {
    const key = taskKey(m.client_id, m.task_id);
    this.heardAssignmentRequests.delete(key); // re-insert: the Map stays in arrival order
    this.heardAssignmentRequests.set(key, { message: m, at_ms: this.now });
    const oldest_ms = this.now - this.heardRequestHorizon_ms();
    for (const [k, heard] of this.heardAssignmentRequests) {
      if (
        heard.at_ms >= oldest_ms &&
        this.heardAssignmentRequests.size <= MAX_HEARD_ASSIGNMENT_REQUESTS
      )
        break;
      this.heardAssignmentRequests.delete(k);
    }
  }

  /** On takeover: answer the recent requests the previous leader may have left unanswered. */
  private answerHeardAssignmentRequests(): void {
    const oldest_ms = this.now - this.heardRequestHorizon_ms();
    const heard = [...this.heardAssignmentRequests.values()];
    this.heardAssignmentRequests.clear();
    for (const { message, at_ms } of heard)
      if (at_ms >= oldest_ms) this.onAssignmentRequest(message);
  }

  private answerAssignment(m: TaskRef, assignment: Assignment): void {
    this.toClient(m.client_id, {
      type: 'TaskAssignmentResponse',
      from: this.id,
      epoch: this.epochValue,
      client_id: m.client_id,
      task_id: m.task_id,
      status: 'assigned',
      assignment,
      retry_after_ms: 0,
    });
  }

  private onTaskRequest(m: TaskRequestMessage): void {
    const key = taskKey(m.client_id, m.task_id);
    const existing = this.localTasks.get(key);
    if (existing !== undefined) {
      if (existing.state === 'done') this.sendResult(existing);
      else this.sendAccepted(existing);
      return;
    }
    if (this.role === 'left') return this.rejectTask(m, 'shutting_down');
    if (this.history.isTombstoned(key)) return;
    if (m.assignment.server_id !== this.id) return this.rejectTask(m, 'not_assigned');
    const capacity = this.config.thread_pool_size + this.config.max_queue_size;
    if (this.running + this.queued >= capacity) {
      this.counters.busy_replies++;
      return this.rejectTask(m, 'busy');
    }
    const task: LocalTask = {
      ref: { client_id: m.client_id, task_id: m.task_id },
      assignment: m.assignment,
      size_bytes: m.size_bytes,
      state: 'queued',
      outcome: null,
      acked: false,
      finished_at_ms: 0,
      resend_at_ms: 0,
      resends: 0,
    };
    this.localTasks.set(key, task);
    this.queued++;
    this.emit({
      type: 'executeTask',
      client_id: m.client_id,
      task_id: m.task_id,
      assignment: m.assignment,
      size_bytes: m.size_bytes,
    });
    this.sendAccepted(task);
  }

  private sendAccepted(task: LocalTask): void {
    this.toClient(task.ref.client_id, {
      type: 'TaskAccepted',
      from: this.id,
      epoch: this.epochValue,
      client_id: task.ref.client_id,
      task_id: task.ref.task_id,
      queue_position: task.state === 'queued' ? Math.max(0, this.queued - 1) : 0,
    });
  }

  private rejectTask(
    m: TaskRequestMessage,
    reason: 'busy' | 'not_assigned' | 'shutting_down',
  ): void {
    const current = this.history.get(taskKey(m.client_id, m.task_id))?.assignment ?? null;
    this.toClient(m.client_id, {
      type: 'TaskRejected',
      from: this.id,
      epoch: this.epochValue,
      client_id: m.client_id,
      task_id: m.task_id,
      reason,
      assignment: current,
    });
  }

  private sendResult(task: LocalTask): void {
    const outcome = task.outcome;
    if (outcome === null) return;
    this.toClient(task.ref.client_id, {
      type: 'TaskResponse',
      from: this.id,
      epoch: this.epochValue,
      client_id: task.ref.client_id,
      task_id: task.ref.task_id,
      ok: outcome.ok,
      result_size_bytes: outcome.result_size_bytes,
      result_digest: outcome.result_digest,
      error: outcome.error,
    });
  }

  private evictResults(): void {
    if (this.done <= this.config.limits.max_cached_results) return;
    for (const [key, task] of this.localTasks) {
      if (this.done <= this.config.limits.max_cached_results) break;
      if (task.state !== 'done') continue;
      this.dropLocalTask(key, task);
    }
  }

  private dropLocalTask(key: string, task: LocalTask): void {
    this.localTasks.delete(key);
    if (task.state === 'done') {
      this.done--;
      this.emit({ type: 'releaseResult', ...task.ref });
    }
  }

  private onTaskAck(m: TaskAckMessage): void {
    const key = taskKey(m.client_id, m.task_id);
    const task = this.localTasks.get(key);
    if (task !== undefined) {
      if (task.state === 'done') this.dropLocalTask(key, task);
      else if (task.state === 'queued') {
        // Not started: drop it (the runtime's later taskStarted/taskFinished are ignored).
        this.localTasks.delete(key);
        this.queued--;
        this.emit({ type: 'cancelTask', ...task.ref });
      } else {
        task.acked = true;
      }
    }
    const ref: TaskRef = { client_id: m.client_id, task_id: m.task_id };
    if (this.role === 'leader') {
      if (this.history.get(key) !== undefined || !this.history.isTombstoned(key))
        this.commitRemove(ref);
      return;
    }
    if (this.history.isTombstoned(key) && this.history.get(key) === undefined) return;
    if (this.pendingRemovals.size >= this.config.limits.max_cached_results) return;
    this.pendingRemovals.set(key, {
      ref,
      next_send_ms: this.now,
      expires_ms: this.now + this.config.limits.history_ttl_ms,
    });
    this.sendPendingRemovals();
  }

  private sendPendingRemovals(): void {
    for (const [key, p] of this.pendingRemovals) {
      const settled = this.history.isTombstoned(key) && this.history.get(key) === undefined;
      if (settled || this.now >= p.expires_ms) {
        this.pendingRemovals.delete(key);
        continue;
      }
      if (this.now < p.next_send_ms) continue;
      if (this.role === 'leader') {
        this.commitRemove(p.ref);
        this.pendingRemovals.delete(key);
        continue;
      }
      if (this.leaderIdValue === null) continue;
      p.next_send_ms = this.now + this.config.heartbeat_interval_ms;
      this.sendTo(this.leaderIdValue, {
        type: 'HistoryRemove',
        from: this.id,
        epoch: this.epochValue,
        seq: null,
        client_id: p.ref.client_id,
        task_id: p.ref.task_id,
      });
    }
  }

  private localState(key: string): 'queued' | 'running' | 'done' | 'none' {
    return this.localTasks.get(key)?.state ?? 'none';
  }

  private onStatusQuery(m: TaskStatusQueryMessage): void {
    const key = taskKey(m.client_id, m.task_id);
    const fromHistory = this.history.get(key)?.assignment ?? null;
    const local = this.localTasks.get(key)?.assignment ?? null;
    const assignment =
      local !== null && isNewerAssignment(local, fromHistory) ? local : fromHistory;
    this.toClient(m.client_id, {
      type: 'TaskStatusResponse',
      from: this.id,
      epoch: this.epochValue,
      client_id: m.client_id,
      task_id: m.task_id,
      assignment,
      local_state: this.localState(key),
      is_leader: this.role === 'leader',
    });
  }

  // =====================================================================================
  // Failure simulation
  // =====================================================================================

  private onFailureSimulation(m: FailureSimulationMessage): void {
    this.failureSimBusyUntil = this.now + this.failureSimGuard(m.duration_ms);
    this.noteSilence(m.target, m.duration_ms);
    if (m.target === this.id && this.failureSimulationOn) this.goSilent(m.duration_ms);
  }

  /** Remembers who the failure simulation silenced, so its timeout reads "silent", not "failed". */
  private noteSilence(target: ServerId, duration_ms: number): void {
    if (target === this.id) return;
    this.silencedPeers.set(target, this.now + this.failureSimGuard(duration_ms));
  }

  private failureSimGuard(duration_ms: number): number {
    return duration_ms + this.config.failure_timeout_ms + 2 * this.config.election_timeout_ms;
  }

  private maybeScheduleFailureSimulation(): void {
    const f = this.config.failure_simulation;
    if (!this.failureSimulationOn || this.role !== 'leader') return;
    if (this.now < this.failureSimNextPickAt || this.now < this.failureSimBusyUntil) return;
    this.failureSimNextPickAt = this.now + f.interval_ms;
    const candidates: ServerId[] = [this.id];
    for (const m of this.members.values())
      if (m.state === 'alive' && m.synced) candidates.push(m.id);
    // Only a leader that sees a majority of the cluster (and never the last live server)
    // picks: in a partition at most one side can, so silences never overlap.
    const clusterSize = this.config.peers.length + 1;
    if (candidates.length < 2 || candidates.length * 2 <= clusterSize) return;
    const target = pick(this.random, candidates);
    const duration = randomInt(this.random, f.min_silence_ms, f.max_silence_ms);
    this.failureSimBusyUntil = this.now + this.failureSimGuard(duration);
    this.emit({ type: 'failureSimulationScheduled', target, duration_ms: duration });
    this.noteSilence(target, duration);
    const msg: FailureSimulationMessage = {
      type: 'FailureSimulation',
      from: this.id,
      epoch: this.epochValue,
      target,
      duration_ms: duration,
    };
    this.broadcast(msg);
    if (target === this.id) this.goSilent(duration);
  }

  private goSilent(duration_ms: number): void {
    if (this.role === 'leader') this.stepDown('silence');
    this.role = 'silent';
    this.leaderIdValue = null;
    this.election = null;
    this.claimAt = null;
    this.electionAt = null;
    this.silentUntil = this.now + duration_ms;
    this.emit({ type: 'silenceStarted', until_ms: this.silentUntil, duration_ms });
  }

  private endSilence(): void {
    this.silentUntil = null;
    this.role = 'follower';
    this.resetReplication();
    for (const m of this.members.values()) {
      if (m.state === 'alive' || m.state === 'suspected') m.last_heard_ms = this.now;
    }
    this.becomeLeaderless(null, []);
    this.listenBeforeElecting();
    this.emit({ type: 'silenceEnded' });
  }

  // =====================================================================================
  // Housekeeping
  // =====================================================================================

  private housekeeping(): void {
    this.sendPendingRemovals();
    this.resendResults();
    if (this.role !== 'leader') return;
    if (this.now >= this.nextHistoryScanAt) {
      // Full-history scans are a backstop (failures, takeovers and merges reassign at
      // once), so once a second is plenty even with a large history.
      this.nextHistoryScanAt = this.now + HISTORY_SCAN_INTERVAL_MS;
      this.reassignFromUnavailable();
      this.expireHistory();
    }
    this.probeOrphans();
    this.checkHysteresis();
    this.maybeScheduleFailureSimulation();
  }

  private resendResults(): void {
    const limits = this.config.limits;
    for (const [key, task] of this.localTasks) {
      if (task.state !== 'done' || this.now < task.resend_at_ms) continue;
      if (this.now - task.finished_at_ms > limits.history_ttl_ms) {
        this.dropLocalTask(key, task);
        continue;
      }
      task.resends++;
      task.resend_at_ms = this.now + limits.result_resend_ms * 2 ** Math.min(task.resends, 3);
      this.sendResult(task);
    }
  }

  /** Most reminders per probe round, so a large history never causes a burst. */
  private static readonly MAX_PROBES_PER_ROUND = 256;

  /**
   * Reminds clients of old entries. A client that already delivered the task acknowledges
   * it (clearing entries a lost ack or a partition merge left behind); one still waiting
   * learns the current placement.
   */
  private probeOrphans(): void {
    const period = this.config.limits.orphan_probe_ms;
    if (this.now < this.nextOrphanProbeAt) return;
    this.nextOrphanProbeAt = this.now + period;
    let sent = 0;
    for (const entry of this.history.olderThan(this.now - period)) {
      if (sent++ >= ServerNode.MAX_PROBES_PER_ROUND) break;
      this.pushStatus(entry);
    }
  }

  private pushStatus(entry: HistoryEntry): void {
    this.send(
      { kind: 'client', id: entry.client_id },
      {
        type: 'TaskStatusResponse',
        from: this.id,
        epoch: this.epochValue,
        client_id: entry.client_id,
        task_id: entry.task_id,
        assignment: entry.assignment,
        local_state: this.localState(taskKey(entry.client_id, entry.task_id)),
        is_leader: true,
      },
    );
  }

  private expireHistory(): void {
    const cutoff = this.now - this.config.limits.history_ttl_ms;
    for (const entry of this.history.olderThan(cutoff)) this.commitRemove(entry);
  }

  private checkHysteresis(): void {
    const h = this.config.hysteresis;
    let best: Member | null = null;
    for (const m of this.members.values()) {
      if (!this.isEligible(m) || m.load === null) continue;
      if (best === null || betterCandidate(m.load.score, m.id, best.load?.score ?? 0, best.id))
        best = m;
    }
    const mine = this.myScore();
    if (best === null || best.load === null || mine <= best.load.score + h.margin) {
      this.overloadedSince = null;
      return;
    }
    this.overloadedSince ??= this.now;
    const sustained = this.now - this.overloadedSince >= h.sustain_ms;
    if (!sustained || this.now - this.leadingSince < h.sustain_ms) return;
    this.handover(best.id);
  }

  private handover(to: ServerId): void {
    this.emit({ type: 'handover', to });
    this.sendTo(to, { type: 'Handover', from: this.id, epoch: this.epochValue, to });
    const successors = [to, ...this.computeSuccessors().filter((s) => s !== to)];
    this.stepDown('handover');
    this.becomeLeaderless(this.id, successors);
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

function clampPct(v: number): number {
  if (!Number.isFinite(v)) return 0;
  return Math.max(0, Math.min(100, v));
}

function sanitizeOutcome(o: TaskOutcome): TaskOutcome {
  const size = Number.isInteger(o.result_size_bytes) ? o.result_size_bytes : 0;
  return {
    ok: o.ok === true,
    result_size_bytes: Math.max(0, Math.min(MESSAGE_LIMITS.max_size_bytes, size)),
    result_digest: String(o.result_digest ?? '').slice(0, MESSAGE_LIMITS.max_digest_length),
    error:
      o.error === null || o.error === undefined
        ? null
        : String(o.error).slice(0, MESSAGE_LIMITS.max_error_length),
  };
}
