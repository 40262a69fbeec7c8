/**
 * The server runtime: wires one core ServerNode to real sockets, timers, worker threads and
 * the HTTP port. It decides nothing about elections or placement. Inputs go to the core's
 * NodeDriver, which carries out the node's commands through the ports given here (the same
 * driver runs in the simulator, with simulated ports):
 *
 *   socket frame ──decode──▶ driver.receive ─┐             ┌─▶ persist hard state (file)
 *   timer (next deadline) ─▶ driver.tick    ├─▶ NodeDriver ┼─▶ send (peer links, client connections)
 *   load sampler ──────────▶ setLocalLoad  ─┘   (core)     ├─▶ run / cancel tasks (worker pool)
 *                                                          └─▶ silence, events (logs, metrics)
 *
 * Peer links and their re-dial live in ./peer-links.ts; what events become in logs and
 * metrics in ./node-observer.ts.
 */
import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { NodeDriver } from '../core/driver/node-driver.js';
import type { TaskRunner } from '../core/driver/ports.js';
import type { Destination, NodeEvent, Source } from '../core/events.js';
import { formatEpoch, type HardState } from '../core/epoch.js';
import type { Message } from '../core/messages.js';
import { SeededRandom } from '../core/random.js';
import { InvariantViolation, ServerNode, type NodeStatus } from '../core/server-node.js';
import type { DecodedMessage } from '../protocol/codec.js';
import { createCloudCodec, errorText, type CloudMessage } from '../protocol/cloud-protocol.js';
import {
  MessageServer,
  type Connection,
  type ConnectionBudgets,
} from '../transport/message-server.js';
import type { ServerSecurity } from '../transport/tls.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { nodeConfigFrom, type ServerConfig } from './config.js';
import { HardStateStore } from './hard-state-store.js';
import { HttpServer } from '../http/http-server.js';
import { sendJson, sendText } from '../http/respond.js';
import { ServerMetrics } from './metrics.js';
import { WarningGate, countNodeEvent, logNodeEvent, logTaskCommand } from './node-observer.js';
import { PeerLinks } from './peer-links.js';
import { senderRefusal } from './sender-policy.js';
import { SystemLoadSampler } from './system-load.js';

/** Runs encryption tasks off the event loop (the worker-thread pool in production). */
export interface TaskExecutor {
  /** Starts a task; `onStart` fires when a worker picks it up. Rejects with `code` 'busy' when full. */
  start(
    payload: Uint8Array,
    onStart: () => void,
  ): { result: Promise<{ png: Uint8Array; digest: string }>; cancel: () => boolean };
  stats(): { running: number; queued: number; size: number; maxQueue: number };
  close(drain_ms: number): Promise<void>;
  /** Hands back the buffer of a result that is no longer needed (optional reuse). */
  recycle?(buffer: ArrayBuffer): void;
}

/** Extra message handlers (the directory service) for types the core does not know. */
export interface ExtraMessageHandler {
  handles(type: string): boolean;
  handle(connection: Connection<CloudMessage>, decoded: DecodedMessage<CloudMessage>): void;
  /** Called once at shutdown, after the worker pool drained. */
  close?(): Promise<void>;
}

export interface RuntimeOptions {
  config: ServerConfig;
  /** TLS from loadServerTls(config), or the benchmark's plaintext (asked for by name only). */
  security: ServerSecurity;
  logger: Logger;
  executor: TaskExecutor;
  extraHandlers?: ExtraMessageHandler[];
}

/** The status document served at /status. */
export interface RuntimeStatus extends Omit<NodeStatus, 'silent_until_ms'> {
  epoch_label: string;
  address: string;
  http_address: string;
  uptime_ms: number;
  silent_for_ms: number | null;
  failure_simulation: boolean;
  /** Times this server went silent by the failure simulation. */
  silences: number;
  /** Worst delay of a core timer firing (heartbeats go out on these) since start, in ms. */
  timer_lateness_max_ms: number;
  pool: ReturnType<TaskExecutor['stats']>;
  connections: number;
  /** Bytes held for unfinished frames across all connections (bounded by max_buffered_mb). */
  buffered_bytes: number;
  /** The most of each held at once since start (high-water marks of the two above). */
  peaks: { connections: number; buffered_bytes: number };
  /** Whether links are TLS (false only in the benchmark's plaintext mode). */
  tls: boolean;
}

export class ServerRuntime {
  readonly metrics = new ServerMetrics();
  private readonly config: ServerConfig;
  private readonly security: ServerSecurity;
  private readonly log: Logger;
  /** One warning per misbehaving member per 10 s (far-ahead terms). */
  private readonly warnings = new WarningGate();
  private readonly executor: TaskExecutor;
  private readonly driver: NodeDriver;
  private readonly hardState: HardStateStore;
  private readonly codec = createCloudCodec();
  private readonly listener: MessageServer<CloudMessage>;
  private readonly http: HttpServer;
  private readonly peers: PeerLinks;
  private readonly clients = new Map<string, Connection<CloudMessage>>();
  private readonly loadSampler = new SystemLoadSampler();
  private readonly extraHandlers: ExtraMessageHandler[];
  private readonly started_ms = performance.now();
  private timer: NodeJS.Timeout | null = null;
  private timerDeadline_ms = Infinity;
  private loadTimer: NodeJS.Timeout | null = null;
  private silences = 0;
  /** Worst lateness of the core's timer (heartbeats, timeouts) since start: event-loop health. */
  private timerLatenessMax_ms = 0;
  private stopping = false;
  private listening: { address: string; http: string } | null = null;
  /** Listeners for the dashboard's live stream (events as they happen). */
  private readonly eventListeners = new Set<(event: NodeEvent & { at: string }) => void>();

  constructor(options: RuntimeOptions) {
    this.config = options.config;
    this.log = options.logger;
    this.executor = options.executor;
    this.extraHandlers = options.extraHandlers ?? [];
    this.hardState = new HardStateStore(this.config.data_dir);
    const restored = this.hardState.load();
    if (restored.problem) this.log.warn(restored.problem);
    const node = new ServerNode(
      nodeConfigFrom(this.config),
      new SeededRandom(randomInt(2 ** 31)),
      this.now(),
      restored.state,
      Date.now(),
    );
    this.driver = new NodeDriver(node, {
      now: () => this.now(),
      persist: (state) => this.persist(state),
      send: (to, message, binary, written) => this.send(to, message, binary, written),
      runner: this.taskRunner(),
      silence: (until_ms) => this.onSilence(until_ms),
      settled: (deadline_ms) => this.armTimer(deadline_ms),
      observer: {
        command: (c) => logTaskCommand(this.log, c),
        event: (e) => this.onNodeEvent(e),
        problem: (text, fields) => this.log.error(text, fields),
      },
    });
    const limits = { maxBodyBytes: this.config.limits.max_frame_bytes, maxMetaBytes: 1024 * 1024 };
    const security = options.security;
    this.security = security;
    this.listener = new MessageServer<CloudMessage>(
      {
        codec: this.codec,
        clusterId: this.config.cluster_id,
        limits,
        security,
        budgets: budgetsFrom(this.config),
        makeError: (code, message) => ({ type: 'Error', code, message: errorText(message) }),
      },
      {
        onMessage: (connection, decoded) => this.onMessage(connection, decoded),
        onRefused: (connection, reason, detail) => {
          this.metrics.badFrames.inc({ reason });
          this.log.warn('refused a frame', { from: connection.remote, reason, detail });
        },
        onRejected: (remote, reason, detail) => {
          this.metrics.rejectedConnections.inc({ reason });
          this.log.warn('refused a connection', { from: remote, reason, detail });
        },
        onClose: (connection) => this.forgetClientConnection(connection),
      },
    );
    this.peers = new PeerLinks({
      config: this.config,
      codec: this.codec,
      limits,
      security,
      log: this.log,
      now: () => this.now(),
    });
    this.http = new HttpServer((err) =>
      this.log.error('HTTP handler failed', { error: errorMessage(err) }),
    );
    this.http
      .route('/healthz', (_req, res) =>
        sendText(res, this.stopping ? 503 : 200, this.stopping ? 'stopping\n' : 'ok\n'),
      )
      .route('/status', (_req, res) => sendJson(res, 200, this.status(), { indent: 2 }))
      .route('/metrics', async (_req, res) => {
        res.writeHead(200, { 'content-type': this.metrics.contentType });
        res.end(await this.metrics.text());
      });
  }

  get id(): number {
    return this.config.id;
  }

  private get node(): ServerNode {
    return this.driver.node;
  }

  get httpServer(): HttpServer {
    return this.http;
  }

  /** Listens on both ports; if either is taken, closes what it opened and throws (exit code 2). */
  async start(): Promise<{ address: string; http: string }> {
    const { address, http_address } = this.config;
    const tcp = await this.listener
      .listen(address.host, address.port)
      .catch((err: unknown) => Promise.reject(startError(err, this.config.source, 'address')));
    const http = await this.http
      .listen(http_address.host, http_address.port)
      .catch(async (err: unknown) => {
        await this.listener.close();
        throw startError(err, this.config.source, 'http_address');
      });
    this.listening = {
      address: `${tcp.host}:${tcp.port}`,
      http: `http://${http.host}:${http.port}`,
    };
    this.peers.connectAll();
    this.sampleLoad();
    this.loadTimer = setInterval(
      () => this.sampleLoad(),
      Math.max(50, this.config.election.monitor_interval_ms),
    );
    this.guard('start', () => this.driver.flush());
    this.log.info('server started', {
      id: this.config.id,
      address: this.listening.address,
      http: this.listening.http,
      peers: this.config.peers.map((p) => p.id).join(',') || 'none',
      epoch: formatEpoch(this.node.epoch),
      failure_simulation: this.config.failure_simulation.enabled,
    });
    return this.listening;
  }

  /** Graceful shutdown: tell peers, stop taking work, let running tasks finish and deliver, close. */
  async stop(drain_ms = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info('shutting down', { running: this.driver.tasksInRunner });
    this.guard('shutdown', () => this.driver.shutdown());
    await this.executor.close(drain_ms);
    // Give the last results and the Leave messages a moment to leave the socket buffers.
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (this.timer) clearTimeout(this.timer);
    if (this.loadTimer) clearInterval(this.loadTimer);
    this.peers.closeAll();
    await Promise.all([this.listener.close(), this.http.close()]);
    for (const handler of this.extraHandlers) await handler.close?.();
    this.log.info('stopped');
  }

  status(): RuntimeStatus {
    const now = this.now();
    const { silent_until_ms, ...node } = this.node.status(now);
    return {
      ...node,
      epoch_label: formatEpoch(node.epoch),
      address: this.listening?.address ?? `${this.config.address.host}:${this.config.address.port}`,
      http_address:
        this.listening?.http ??
        `http://${this.config.http_address.host}:${this.config.http_address.port}`,
      uptime_ms: Math.round(now - this.started_ms),
      silent_for_ms:
        silent_until_ms === null ? null : Math.max(0, Math.round(silent_until_ms - now)),
      failure_simulation: this.config.failure_simulation.enabled,
      silences: this.silences,
      timer_lateness_max_ms: Math.round(this.timerLatenessMax_ms * 10) / 10,
      pool: this.executor.stats(),
      connections: this.listener.connectionCount,
      buffered_bytes: this.listener.buffered,
      peaks: this.listener.peaks,
      tls: this.security.kind === 'tls',
    };
  }

  /** Who we are and every server's client-facing address (answers a client's Hello). */
  welcome(): CloudMessage {
    const self = {
      id: this.config.id,
      address: `${this.config.address.host}:${this.config.address.port}`,
    };
    const others = this.config.peers.map((peer) => ({
      id: peer.id,
      address: `${peer.address.host}:${peer.address.port}`,
    }));
    return {
      type: 'Welcome',
      server_id: this.config.id,
      servers: [self, ...others],
      leader_id: this.node.leaderId,
      epoch: this.node.epoch,
    };
  }

  onEvent(listener: (event: NodeEvent & { at: string }) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  // ---------------------------------------------------------------------------------------
  // Inputs
  // ---------------------------------------------------------------------------------------

  private now(): number {
    return performance.now();
  }

  private onMessage(
    connection: Connection<CloudMessage>,
    decoded: DecodedMessage<CloudMessage>,
  ): void {
    const message = decoded.message;
    if (this.driver.silentUntil_ms !== null) return; // failure simulation: ignore all communication
    const refusal = senderRefusal(connection.peer, message);
    if (refusal) {
      this.metrics.badFrames.inc({ reason: refusal.code });
      this.log.warn('refused a message', {
        from: connection.remote,
        type: message.type,
        ...refusal,
      });
      connection.send(
        { type: 'Error', code: refusal.code, message: refusal.message },
        { requestId: decoded.requestId },
      );
      return;
    }
    const extra = this.extraHandlers.find((handler) => handler.handles(message.type));
    if (extra) {
      extra.handle(connection, decoded);
      return;
    }
    if (message.type === 'Error') {
      this.log.warn('peer reported an error', {
        from: connection.remote,
        code: message.code,
        detail: message.message,
      });
      return;
    }
    if (message.type === 'Hello') {
      connection.send(this.welcome(), { requestId: decoded.requestId, epoch: this.node.epoch });
      return;
    }
    if (message.type === 'Welcome' || message.type === 'DirectoryResponse') return;
    if (message.type === 'DirectoryRequest') {
      const error = {
        code: 'directory_unavailable',
        message: `server ${this.config.id} has no [directory] configured`,
      };
      connection.send(
        { type: 'DirectoryResponse', ok: false, error },
        { requestId: decoded.requestId },
      );
      return;
    }
    let source: Source;
    if ('client_id' in message && !('from' in message)) {
      source = { kind: 'client', id: message.client_id };
      this.clients.set(message.client_id, connection);
      if (message.type === 'TaskRequest') this.metrics.tasksReceived.inc();
    } else if ('from' in message) {
      source = { kind: 'server', id: message.from };
      this.peers.heardFrom(message.from);
    } else {
      return;
    }
    // A TaskRequest's payload waits in the driver for the executeTask it may cause.
    this.guard('message', () => this.driver.receive(source, message, decoded.binary));
  }

  private sampleLoad(): void {
    if (this.driver.silentUntil_ms === null) this.peers.refreshQuiet();
    const sample = this.loadSampler.sample();
    const loadAverage =
      this.config.election.score_input === 'load_average' ? sample.load_average : null;
    this.guard('load sample', () =>
      this.driver.setLocalLoad({
        cpu_pct: sample.cpu_pct,
        memory_used_pct: sample.memory_used_pct,
        load_average: loadAverage,
      }),
    );
    const stats = this.executor.stats();
    this.metrics.queueLength.set(stats.queued);
    this.metrics.activeTasks.set(stats.running + stats.queued);
  }

  private onTimer(): void {
    this.timer = null;
    const now = this.now();
    const lateness_ms = now - this.timerDeadline_ms;
    if (Number.isFinite(lateness_ms) && lateness_ms > 0) {
      this.metrics.heartbeatDelay.observe(lateness_ms / 1000);
      if (lateness_ms > this.timerLatenessMax_ms) this.timerLatenessMax_ms = lateness_ms;
    }
    this.timerDeadline_ms = Infinity;
    this.guard('timer', () => this.driver.tick());
  }

  /**
   * Runs an input through the driver. A broken core invariant means this server's state is
   * wrong: it must not act on it, so it logs which invariant broke and exits; its peers treat
   * that like any crash, and a restart begins from the persisted hard state.
   */
  private guard(what: string, input: () => void): void {
    try {
      input();
    } catch (err) {
      if (!(err instanceof InvariantViolation)) throw err;
      const details = Object.fromEntries(
        Object.entries(err.details).map(([k, v]) => [
          k,
          typeof v === 'object' ? JSON.stringify(v) : String(v),
        ]),
      );
      this.log.error('core invariant broken; exiting', {
        invariant: err.invariant,
        during: what,
        ...details,
      });
      process.exit(ExitCode.failure);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Ports: what the driver carries out here
  // ---------------------------------------------------------------------------------------

  private persist(state: HardState): void {
    try {
      this.hardState.save(state);
    } catch (err) {
      // Without durable epochs a restart could reuse one: refuse to go on.
      this.log.error('cannot persist hard state; exiting', { error: errorMessage(err) });
      process.exit(1);
    }
  }

  private send(
    to: Destination,
    message: Message,
    binary: Uint8Array | null,
    written: () => void,
  ): void {
    if (to.kind === 'server') {
      this.peers.send(to.id, message);
      written();
      return;
    }
    const epoch = 'epoch' in message ? message.epoch : 0;
    const connection = this.clients.get(to.id);
    // No connection: the client polls and finds its task again.
    if (!connection?.isOpen) return written();
    if (binary === null) {
      connection.send(message, { epoch });
      return written();
    }
    if (!connection.send(message, { epoch, binary, onWritten: written })) written();
  }

  /** The worker pool, as the driver's task runner (and the task metrics on the way). */
  private taskRunner(): TaskRunner {
    return {
      run: (_task, payload, on) => {
        const received_at_ms = this.now();
        const job = this.executor.start(payload, () => this.guard('task start', on.started));
        job.result.then(
          ({ png, digest }) => {
            this.metrics.tasksCompleted.inc();
            this.metrics.taskDuration.observe((this.now() - received_at_ms) / 1000);
            this.guard('task result', () => on.finished({ ok: true, bytes: png, digest }));
          },
          (err: unknown) => {
            const code = (err as { code?: string }).code ?? 'error';
            if (code === 'cancelled') return; // the driver cancelled it before it started
            this.metrics.tasksFailed.inc({ reason: code });
            this.guard('task result', () =>
              on.finished({ ok: false, error: errorText(errorMessage(err)) }),
            );
          },
        );
        return { cancel: job.cancel };
      },
      recycle: (bytes) => this.executor.recycle?.(bytes.buffer as ArrayBuffer),
    };
  }

  /** Failure simulation: ignore all communication until `until_ms` (null: talk again). */
  private onSilence(until_ms: number | null): void {
    if (until_ms === null) return;
    this.silences++;
    // Drop connections; the core ignores its inputs until the end anyway.
    this.listener.dropAllConnections('failure simulation: this server is silent');
    this.peers.resetAll('failure simulation');
  }

  /** One timer, for the core's next deadline (a later one never replaces an earlier one). */
  private armTimer(deadline: number): void {
    if (this.stopping && this.node.currentRole === 'left' && this.driver.tasksInRunner === 0)
      return;
    if (this.timer && deadline >= this.timerDeadline_ms) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDeadline_ms = deadline;
    this.timer = setTimeout(() => this.onTimer(), Math.max(0, deadline - this.now()));
  }

  // ---------------------------------------------------------------------------------------
  // Events
  // ---------------------------------------------------------------------------------------

  private onNodeEvent(event: NodeEvent): void {
    logNodeEvent(this.log, event, this.warnings);
    if (this.eventListeners.size > 0) {
      const stamped = { ...event, at: new Date().toISOString() };
      for (const listener of this.eventListeners) listener(stamped);
    }
    countNodeEvent(this.metrics, event);
  }

  private forgetClientConnection(connection: Connection<CloudMessage>): void {
    for (const [clientId, known] of this.clients) {
      if (known === connection) this.clients.delete(clientId);
    }
  }
}

function budgetsFrom(config: ServerConfig): ConnectionBudgets {
  const limits = config.limits;
  return {
    maxConnections: limits.max_connections,
    maxConnectionsPerAddress: limits.max_connections_per_address,
    idleTimeout_ms: limits.idle_timeout_ms,
    handshakeTimeout_ms: limits.handshake_timeout_ms,
    frameReadTimeout_ms: limits.frame_read_timeout_ms,
    maxBufferedBytes: limits.max_buffered_bytes,
  };
}

/** A port already in use (or not ours to take) is a configuration problem: exit code 2. */
function startError(err: unknown, source: string, key: string): Error {
  const code =
    (err as { code?: string }).code ??
    /\b(EADDRINUSE|EACCES|EADDRNOTAVAIL)\b/.exec(errorMessage(err))?.[1];
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL')
    return new CloudP2PError(
      'port_unavailable',
      `${source}: [server] ${key}: ${errorMessage(err)}`,
      ExitCode.usage,
    );
  return err instanceof Error ? err : new Error(String(err));
}
