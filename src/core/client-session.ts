/**
 * ClientSession: the client side of task submission, as a sans-IO state machine. The real
 * client middleware and the simulator's clients both drive it.
 *
 * For each task: multicast TaskAssignmentRequest to every server and take a leader's answer;
 * send TaskRequest (with that assignment) to the assigned server; on TaskAccepted wait, polling
 * that server with TaskStatusQuery; when it falls silent, poll every server and follow any
 * newer assignment; if still nothing, ask the leaders again. On TaskResponse deliver the result
 * to the application exactly once and acknowledge it (to every server that sends one). Only the
 * per-task deadline ends a task without a result: as long as any server answers, it keeps going.
 *
 * Payload bytes never enter the session: the runtime keeps them by task id and attaches them
 * to every outgoing TaskRequest.
 */
import {
  resolveClientSessionConfig,
  type ClientSessionConfig,
  type ClientSessionConfigInput,
} from './config.js';
import {
  isNewerAssignment,
  MESSAGE_LIMITS,
  isServerToClientMessage,
  type Message,
  type Assignment,
  type ClientToServerMessage,
  type ServerId,
  type ServerToClientMessage,
  type TaskId,
  type TaskResponseMessage,
  type TaskStatusResponseMessage,
} from './messages.js';
import { UsageError } from '../util/errors.js';
import { isTaskId, TASK_ID_RULE } from '../util/ids.js';
import type { RandomSource } from './random.js';

export type ClientEvent =
  /** The leader placed the task. */
  | { type: 'assigned'; task_id: TaskId; assignment: Assignment }
  /** The task moved to another server (or a newer placement) and the session followed. */
  | { type: 'reassigned'; task_id: TaskId; assignment: Assignment; from_server: ServerId | null }
  /** The assigned server took the task. */
  | { type: 'accepted'; task_id: TaskId; server_id: ServerId; queue_position: number }
  /** Every server was full; the session retries after a pause. */
  | { type: 'busy'; task_id: TaskId; server_id: ServerId }
  /** The result, delivered exactly once per task. The runtime hands over the bytes of this response. */
  | {
      type: 'delivered';
      task_id: TaskId;
      server_id: ServerId;
      ok: boolean;
      result_size_bytes: number;
      result_digest: string;
      error: string | null;
      latency_ms: number;
    }
  /** The deadline passed without a result. */
  | { type: 'failed'; task_id: TaskId; reason: string }
  /** A later response for a delivered task carried a different result (must never happen). */
  | {
      type: 'conflictingResult';
      task_id: TaskId;
      server_id: ServerId;
      delivered: string;
      other: string;
    };

export interface ClientOutgoing {
  to: ServerId;
  message: ClientToServerMessage;
}

export interface ClientReady {
  messages: ClientOutgoing[];
  events: ClientEvent[];
}

type Phase = 'assigning' | 'requesting' | 'waiting';

interface ClientTask {
  id: TaskId;
  size_bytes: number;
  submitted_ms: number;
  deadline_ms: number;
  phase: Phase;
  assignment: Assignment | null;
  timer_ms: number;
  /** Consecutive retries in the current phase (drives backoff). */
  retries: number;
  /** Polls in a row that the assigned server did not answer. */
  silent_polls: number;
  /**
   * Epoch of the newest leader that vouched for the current placement. Placements are
   * ranked by it first: after a split brain, a live leader's word beats a placement on a
   * server that has since died, even if that one was made in a higher epoch.
   */
  vouch_epoch: number;
  /** Servers that may hold a placement or a result for it: all are acknowledged at the end. */
  involved: Set<ServerId>;
}

interface CompletedTask {
  ok: boolean;
  digest: string;
}

export interface ClientCounters {
  submitted: number;
  delivered: number;
  failed: number;
  reassignments_followed: number;
  assignment_requests: number;
  task_requests: number;
  status_queries: number;
  rejected_invalid: number;
}

export class ClientSession {
  readonly config: ClientSessionConfig;
  private readonly random: RandomSource;
  private readonly servers: ReadonlySet<ServerId>;
  private readonly tasks = new Map<TaskId, ClientTask>();
  private readonly completed = new Map<TaskId, CompletedTask>();
  private now: number;
  private outbox: ClientOutgoing[] = [];
  private events: ClientEvent[] = [];
  readonly counters: ClientCounters = {
    submitted: 0,
    delivered: 0,
    failed: 0,
    reassignments_followed: 0,
    assignment_requests: 0,
    task_requests: 0,
    status_queries: 0,
    rejected_invalid: 0,
  };

  constructor(
    config: ClientSessionConfigInput | ClientSessionConfig,
    random: RandomSource,
    now_ms: number,
  ) {
    this.config = resolveClientSessionConfig(config);
    this.random = random;
    this.servers = new Set(this.config.servers);
    this.now = now_ms;
  }

  get clientId(): string {
    return this.config.client_id;
  }

  /** Tasks submitted and not yet delivered or failed. */
  get inFlight(): number {
    return this.tasks.size;
  }

  /** Starts a task. Task ids must be unique within the session (and never reused). */
  submit(task_id: TaskId, size_bytes: number, now_ms: number): void {
    this.advance(now_ms);
    if (!isTaskId(task_id)) {
      throw new UsageError(`task id must be ${TASK_ID_RULE}`);
    }
    if (this.tasks.has(task_id) || this.completed.has(task_id)) {
      throw new UsageError(`task id ${task_id} was already used in this session`);
    }
    if (
      !Number.isInteger(size_bytes) ||
      size_bytes < 0 ||
      size_bytes > MESSAGE_LIMITS.max_size_bytes
    ) {
      throw new UsageError(`task size must be 0..${MESSAGE_LIMITS.max_size_bytes} bytes`);
    }
    if (this.tasks.size >= this.config.max_tasks) {
      throw new UsageError(`at most ${this.config.max_tasks} tasks may be in flight`);
    }
    const task: ClientTask = {
      id: task_id,
      size_bytes,
      submitted_ms: this.now,
      deadline_ms: this.now + this.config.task_deadline_ms,
      phase: 'assigning',
      assignment: null,
      timer_ms: this.now,
      retries: 0,
      silent_polls: 0,
      vouch_epoch: 0,
      involved: new Set(),
    };
    this.tasks.set(task_id, task);
    this.counters.submitted++;
    this.requestAssignment(task);
  }

  /**
   * A message from server `from` (validated by the codec). Messages of the wrong direction,
   * from unknown servers, for another client or for unrelated tasks are ignored and counted.
   */
  receive(from: ServerId, message: Message, now_ms: number): void {
    this.advance(now_ms);
    if (!isServerToClientMessage(message) || !this.servers.has(from)) {
      this.counters.rejected_invalid++;
      return;
    }
    const m = message;
    if (m.client_id !== this.config.client_id || m.from !== from) {
      this.counters.rejected_invalid++;
      return;
    }
    const task = this.tasks.get(m.task_id);
    if (task === undefined) {
      this.onMessageForInactiveTask(from, m);
      return;
    }
    this.onMessage(task, from, m);
  }

  /** Time passed; call at `nextDeadline_ms()`. */
  tick(now_ms: number): void {
    this.advance(now_ms);
    for (const task of [...this.tasks.values()]) {
      if (this.now >= task.deadline_ms) {
        this.fail(task, `no result within ${this.config.task_deadline_ms} ms`);
      } else if (this.now >= task.timer_ms) {
        this.onTimer(task);
      }
    }
  }

  /** Optional hint from the runtime: a connection to `server` failed. Polls its tasks now. */
  serverUnreachable(server: ServerId, now_ms: number): void {
    this.advance(now_ms);
    for (const task of this.tasks.values()) {
      if (task.assignment?.server_id === server && task.phase !== 'assigning') {
        task.silent_polls = Math.max(task.silent_polls, 1);
        task.timer_ms = this.now;
      }
    }
  }

  drain(): ClientReady {
    const ready = { messages: this.outbox, events: this.events };
    this.outbox = [];
    this.events = [];
    return ready;
  }

  /** When `tick` must next be called (null: nothing in flight). */
  nextDeadline_ms(): number | null {
    let next: number | null = null;
    for (const t of this.tasks.values()) {
      const due = Math.min(t.timer_ms, t.deadline_ms);
      if (next === null || due < next) next = due;
    }
    return next === null ? null : Math.max(next, this.now);
  }

  /** Phase and placement of an in-flight task (undefined when not in flight). */
  taskState(task_id: TaskId): { phase: Phase; assignment: Assignment | null } | undefined {
    const t = this.tasks.get(task_id);
    return t === undefined ? undefined : { phase: t.phase, assignment: t.assignment };
  }

  // -------------------------------------------------------------------------------------

  private advance(now_ms: number): void {
    if (Number.isFinite(now_ms) && now_ms > this.now) this.now = now_ms;
  }

  private send(to: ServerId, message: ClientToServerMessage): void {
    this.outbox.push({ to, message });
  }

  private multicast(message: ClientToServerMessage): void {
    for (const s of this.config.servers) this.send(s, message);
  }

  private backoff(base_ms: number, retries: number): number {
    const grown = Math.min(base_ms * 1.5 ** retries, Math.max(base_ms, this.config.max_backoff_ms));
    const jitter = 0.8 + 0.4 * this.random.next();
    return Math.max(1, Math.round(grown * jitter));
  }

  private requestAssignment(task: ClientTask): void {
    task.phase = 'assigning';
    this.counters.assignment_requests++;
    this.multicast({
      type: 'TaskAssignmentRequest',
      client_id: this.config.client_id,
      task_id: task.id,
      size_bytes: task.size_bytes,
    });
    task.timer_ms = this.now + this.backoff(this.config.assignment_timeout_ms, task.retries);
    task.retries++;
  }

  private sendTaskRequest(task: ClientTask): void {
    const a = task.assignment;
    if (a === null) return this.requestAssignment(task);
    task.phase = 'requesting';
    this.sendTaskRequestTo(task, a);
    task.timer_ms = this.now + this.backoff(this.config.request_timeout_ms, task.retries);
  }

  private query(task: ClientTask, to: ServerId | 'all'): void {
    this.counters.status_queries++;
    const q: ClientToServerMessage = {
      type: 'TaskStatusQuery',
      client_id: this.config.client_id,
      task_id: task.id,
    };
    if (to === 'all') this.multicast(q);
    else this.send(to, q);
  }

  private follow(task: ClientTask, assignment: Assignment, vouch: number): void {
    const previous = task.assignment;
    task.assignment = assignment;
    task.vouch_epoch = vouch;
    task.retries = 0;
    task.silent_polls = 0;
    if (previous === null) {
      this.events.push({ type: 'assigned', task_id: task.id, assignment });
    } else {
      this.counters.reassignments_followed++;
      this.events.push({
        type: 'reassigned',
        task_id: task.id,
        assignment,
        from_server: previous.server_id,
      });
    }
    this.sendTaskRequest(task);
  }

  private onTimer(task: ClientTask): void {
    switch (task.phase) {
      case 'assigning':
        return this.requestAssignment(task);
      case 'requesting':
      case 'waiting':
        return this.poll(task);
    }
  }

  /**
   * Escalating poll: first the assigned server; if it stays silent, every server (someone
   * may know a newer placement); if that brings nothing, the leaders again (authoritative,
   * and they reassign if the server is gone) while retrying the assigned server too.
   */
  private poll(task: ClientTask): void {
    const a = task.assignment;
    if (a === null) return this.requestAssignment(task);
    task.silent_polls++;
    if (task.silent_polls <= 1) {
      this.query(task, a.server_id);
    } else {
      this.query(task, 'all');
      if (task.silent_polls >= 3) {
        this.counters.assignment_requests++;
        this.multicast({
          type: 'TaskAssignmentRequest',
          client_id: this.config.client_id,
          task_id: task.id,
          size_bytes: task.size_bytes,
        });
        this.sendTaskRequestTo(task, a);
      }
    }
    task.timer_ms =
      this.now + this.backoff(this.config.poll_interval_ms, Math.max(0, task.silent_polls - 1));
  }

  /** The TaskRequest itself, without touching the task's phase or timer (callers do). */
  private sendTaskRequestTo(task: ClientTask, a: Assignment): void {
    this.counters.task_requests++;
    task.involved.add(a.server_id);
    this.send(a.server_id, {
      type: 'TaskRequest',
      client_id: this.config.client_id,
      task_id: task.id,
      size_bytes: task.size_bytes,
      assignment: a,
    });
  }

  private onMessage(task: ClientTask, from: ServerId, m: ServerToClientMessage): void {
    const fromAssigned = task.assignment?.server_id === from;
    if (fromAssigned) task.silent_polls = 0;
    if (m.type === 'TaskAssignmentResponse' && m.status === 'assigned') task.involved.add(from);
    switch (m.type) {
      case 'TaskAssignmentResponse':
        if (m.status === 'busy' || m.assignment === null)
          return this.onBusy(task, from, m.retry_after_ms);
        return this.onPlacement(task, m.assignment, m.epoch, true);
      case 'TaskAccepted':
        if (!fromAssigned) return;
        if (task.phase !== 'waiting') {
          this.events.push({
            type: 'accepted',
            task_id: task.id,
            server_id: from,
            queue_position: m.queue_position,
          });
        }
        task.phase = 'waiting';
        task.retries = 0;
        task.timer_ms = this.now + this.config.poll_interval_ms;
        return;
      case 'TaskRejected':
        if (
          m.assignment !== null &&
          this.shouldFollow(task, m.assignment, m.assignment.epoch, false)
        ) {
          return this.follow(task, m.assignment, m.assignment.epoch);
        }
        if (!fromAssigned) return;
        if (m.reason === 'busy') {
          // The server is momentarily full; try it again after a pause.
          task.phase = 'requesting';
          task.timer_ms = this.now + this.backoff(this.config.request_timeout_ms, task.retries++);
          task.silent_polls = 2;
          return;
        }
        task.retries = 0;
        return this.requestAssignment(task);
      case 'TaskResponse':
        return this.deliver(task, from, m);
      case 'TaskStatusResponse':
        return this.onStatus(task, from, m);
    }
  }

  /**
   * Should the task switch to `a`, vouched for in epoch `vouch` (the sending leader's epoch,
   * or the placement's own epoch when the sender is not a leader)?
   */
  private shouldFollow(
    task: ClientTask,
    a: Assignment,
    vouch: number,
    fromLeader: boolean,
  ): boolean {
    const current = task.assignment;
    if (current === null) return true;
    if (sameAssignment(current, a)) {
      task.vouch_epoch = Math.max(task.vouch_epoch, vouch);
      return false;
    }
    // The assigned server has gone silent: any leader's different placement beats waiting
    // (the epoch that vouched for the silent one may have no live server left knowing it).
    if (fromLeader && task.silent_polls >= 2 && a.server_id !== current.server_id) return true;
    if (vouch !== task.vouch_epoch) return vouch > task.vouch_epoch;
    return isNewerAssignment(a, current);
  }

  private onPlacement(
    task: ClientTask,
    assignment: Assignment,
    vouch: number,
    fromLeader: boolean,
  ): void {
    if (this.shouldFollow(task, assignment, vouch, fromLeader))
      return this.follow(task, assignment, vouch);
    const same = task.assignment !== null && sameAssignment(task.assignment, assignment);
    // A leader confirming the placement we already follow while we were asking: try it again.
    if (same && fromLeader && task.phase === 'assigning') {
      task.retries = 0;
      this.sendTaskRequest(task);
    }
  }

  private onBusy(task: ClientTask, from: ServerId, retryAfter: number): void {
    if (task.phase !== 'assigning') return;
    this.events.push({ type: 'busy', task_id: task.id, server_id: from });
    const wait = Math.max(
      retryAfter,
      this.backoff(this.config.assignment_timeout_ms, task.retries),
    );
    task.timer_ms = this.now + wait;
  }

  private onStatus(task: ClientTask, from: ServerId, m: TaskStatusResponseMessage): void {
    if (m.assignment !== null) {
      const vouch = m.is_leader ? m.epoch : m.assignment.epoch;
      if (this.shouldFollow(task, m.assignment, vouch, m.is_leader)) {
        return this.follow(task, m.assignment, vouch);
      }
    }
    if (task.assignment?.server_id === from) {
      if (m.local_state === 'queued' || m.local_state === 'running') {
        task.phase = 'waiting';
        task.timer_ms = this.now + this.config.poll_interval_ms;
      } else {
        // Finished (its response was lost) or unknown to it (restarted): send the task again;
        // a finished task is answered from the server's cached result.
        task.retries = 0;
        this.sendTaskRequest(task);
      }
      return;
    }
    if (m.is_leader && m.assignment === null && task.phase !== 'assigning') {
      // The leader has never heard of it (lost in a partition): ask for a placement.
      task.retries = 0;
      this.requestAssignment(task);
    }
  }

  private deliver(task: ClientTask, from: ServerId, m: TaskResponseMessage): void {
    this.tasks.delete(task.id);
    this.remember(task.id, { ok: m.ok, digest: m.result_digest });
    this.counters.delivered++;
    this.events.push({
      type: 'delivered',
      task_id: task.id,
      server_id: from,
      ok: m.ok,
      result_size_bytes: m.result_size_bytes,
      result_digest: m.result_digest,
      error: m.error,
      latency_ms: this.now - task.submitted_ms,
    });
    // Every leader that placed it and every server asked to run it may hold state for it
    // (split brain can produce two placements): acknowledge to all of them.
    task.involved.add(from);
    for (const server of task.involved) this.ack(server, task.id);
  }

  private ack(to: ServerId, task_id: TaskId): void {
    this.send(to, { type: 'TaskAck', client_id: this.config.client_id, task_id });
  }

  private fail(task: ClientTask, reason: string): void {
    this.tasks.delete(task.id);
    this.counters.failed++;
    this.events.push({ type: 'failed', task_id: task.id, reason });
  }

  private remember(task_id: TaskId, c: CompletedTask): void {
    this.completed.set(task_id, c);
    while (this.completed.size > this.config.completed_memory) {
      const oldest = this.completed.keys().next().value;
      if (oldest === undefined) break;
      this.completed.delete(oldest);
    }
  }

  /**
   * Late or duplicate messages about a task already delivered: acknowledge again so the
   * server and the history let go of it, and check the result never differs.
   */
  private onMessageForInactiveTask(from: ServerId, m: ServerToClientMessage): void {
    const done = this.completed.get(m.task_id);
    if (done === undefined) return;
    if (m.type === 'TaskResponse') {
      if (m.ok !== done.ok || m.result_digest !== done.digest) {
        this.events.push({
          type: 'conflictingResult',
          task_id: m.task_id,
          server_id: from,
          delivered: done.digest,
          other: m.result_digest,
        });
      }
      this.ack(from, m.task_id);
    } else if (m.type === 'TaskStatusResponse' || m.type === 'TaskAssignmentResponse') {
      // Only a server that still holds a placement for it needs telling.
      if (m.assignment !== null) this.ack(from, m.task_id);
    }
  }
}

function sameAssignment(a: Assignment, b: Assignment): boolean {
  return a.server_id === b.server_id && a.epoch === b.epoch && a.attempt === b.attempt;
}
