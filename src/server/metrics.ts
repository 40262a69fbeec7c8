/**
 * The server's Prometheus metrics (served at /metrics). One registry per server runtime, so
 * several servers in one process (tests) never mix their numbers.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DirectoryStats } from '../directory/store.js';

export class ServerMetrics {
  readonly registry = new Registry();

  readonly tasksReceived = new Counter({
    name: 'cloudp2p_tasks_received_total',
    help: 'Encryption task requests received from clients (including duplicates).',
    registers: [this.registry],
  });
  readonly tasksCompleted = new Counter({
    name: 'cloudp2p_tasks_completed_total',
    help: 'Encryption tasks this server finished.',
    registers: [this.registry],
  });
  readonly tasksFailed = new Counter({
    name: 'cloudp2p_tasks_failed_total',
    help: 'Encryption tasks that failed here, by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly tasksRejectedBusy = new Counter({
    name: 'cloudp2p_tasks_rejected_busy_total',
    help: 'Task requests answered "busy" because the queue was full.',
    registers: [this.registry],
  });
  readonly duplicatesAnswered = new Counter({
    name: 'cloudp2p_task_duplicates_answered_total',
    help: 'Duplicate task requests answered from the first result.',
    registers: [this.registry],
  });
  readonly tasksAssigned = new Counter({
    name: 'cloudp2p_tasks_assigned_total',
    help: 'Tasks this server assigned while leader.',
    registers: [this.registry],
  });
  readonly tasksReassigned = new Counter({
    name: 'cloudp2p_tasks_reassigned_total',
    help: 'Tasks this server reassigned away from a failed server while leader.',
    registers: [this.registry],
  });
  readonly taskDuration = new Histogram({
    name: 'cloudp2p_task_duration_seconds',
    help: 'Time from receiving a task request to sending its result.',
    buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });
  readonly elections = new Counter({
    name: 'cloudp2p_elections_started_total',
    help: 'Elections this server started.',
    registers: [this.registry],
  });
  readonly leaderChanges = new Counter({
    name: 'cloudp2p_leader_changes_total',
    help: 'Times this server saw a new leader (any epoch change).',
    registers: [this.registry],
  });
  readonly peerFailures = new Counter({
    name: 'cloudp2p_peer_failures_total',
    help: 'Times a peer was declared failed.',
    registers: [this.registry],
  });
  readonly badFrames = new Counter({
    name: 'cloudp2p_bad_frames_total',
    help: 'Frames or messages refused, by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly rejectedConnections = new Counter({
    name: 'cloudp2p_rejected_connections_total',
    help: 'Connections turned away or dropped (budgets, deadlines, failed membership proofs), by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: 'cloudp2p_is_leader',
    help: '1 when this server is the leader.',
    registers: [this.registry],
  });
  readonly epoch = new Gauge({
    name: 'cloudp2p_epoch',
    help: 'The leadership epoch this server follows.',
    registers: [this.registry],
  });
  readonly queueLength = new Gauge({
    name: 'cloudp2p_queue_length',
    help: 'Encryption tasks waiting for a worker.',
    registers: [this.registry],
  });
  readonly activeTasks = new Gauge({
    name: 'cloudp2p_active_tasks',
    help: 'Encryption tasks running or queued.',
    registers: [this.registry],
  });
  readonly loadScore = new Gauge({
    name: 'cloudp2p_load_score',
    help: "This server's election/placement load score (lower is better).",
    registers: [this.registry],
  });
  readonly directoryRequests = new Counter({
    name: 'cloudp2p_directory_requests_total',
    help: 'Directory requests answered, by operation and outcome (ok, the refusal code, or directory_failure).',
    labelNames: ['op', 'outcome'],
    registers: [this.registry],
  });
  readonly heartbeatDelay = new Histogram({
    name: 'cloudp2p_heartbeat_send_delay_seconds',
    help: 'How late heartbeats left compared with their schedule (event-loop health).',
    buckets: [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cloudp2p_process_' });
  }

  /**
   * Exports the directory store's own counters (store.stats(), read at every scrape):
   * cloudp2p_directory_retries_total{reason}, cloudp2p_directory_node_skips_total and
   * cloudp2p_directory_node_serving{node}. Call once, when the server has a directory.
   */
  watchDirectory(stats: () => DirectoryStats): void {
    new Counter({
      name: 'cloudp2p_directory_retries_total',
      help: 'Directory calls retried whole, by reason: lock_conflict (deadlock, Galera certification conflict, SQLite busy) or node_unavailable (connection lost, node gone).',
      labelNames: ['reason'],
      registers: [this.registry],
      collect() {
        const { retries } = stats();
        this.reset();
        for (const [reason, count] of Object.entries(retries)) this.inc({ reason }, count);
      },
    });
    new Counter({
      name: 'cloudp2p_directory_node_skips_total',
      help: 'Times a database node of the directory URL stopped being used (unreachable, error 1047, not Synced, another cluster).',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(stats().node_skips);
      },
    });
    new Gauge({
      name: 'cloudp2p_directory_node_serving',
      help: 'Per MySQL/MariaDB (Galera) node of the directory URL: 1 while this server uses it, 0 while it is skipped.',
      labelNames: ['node'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const node of stats().nodes) this.set({ node: node.label }, node.serving ? 1 : 0);
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
