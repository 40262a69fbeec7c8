/**
 * The cloud client middleware. It wires the core's sans-IO ClientSession to real connections:
 *
 * 1. `connect()` says Hello to the configured addresses and learns every server's id and
 *    address from the first Welcome, so a client configured with one address still reaches all.
 * 2. `encrypt()` submits a task: the session multicasts TaskAssignmentRequest, sends the
 *    payload to the server the leader picked, follows reassignments and retries until the
 *    result arrives or the task deadline passes — never giving up earlier while any server
 *    answers. Results are checked against the digest the server announced before they count.
 * 3. The session acknowledges each result (TaskAck) so the cloud forgets the task.
 */
import { createHash, randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ClientSessionConfig } from '../core/config.js';
import { ClientSession, type ClientEvent, type ClientReady } from '../core/client-session.js';
import { SeededRandom } from '../core/random.js';
import type { DecodedMessage } from '../protocol/codec.js';
import {
  createCloudCodec,
  isCoreMessage,
  type CloudMessage,
  type WelcomeMessage,
} from '../protocol/cloud-protocol.js';
import { DEFAULT_MAX_FRAME_BODY_BYTES } from '../protocol/frame.js';
import { DIAL, parseEndpoint, type Endpoint } from '../transport/endpoint.js';
import { MessageLink } from '../transport/message-link.js';
import {
  INSECURE_PLAINTEXT,
  type ClientSecurity,
  type CloudTrust,
  type TlsCredentials,
} from '../transport/tls.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { clientIdOf, newClientCredentials, resolveCloudTrust } from './cloud-trust.js';
import { allImmediate, cloudUnreachable, type DialFailure } from './unreachable.js';

export interface CloudClientOptions {
  /**
   * A name for logs. With TLS the id on the wire is derived from the client's key
   * (src/client/cloud-trust.ts); only the plaintext benchmark mode sends this name as the id
   * (then 1..64 of A-Z a-z 0-9 . _ : @ -, unique in the cloud).
   */
  clientId: string;
  /**
   * The cloud's CA (or its fingerprint); default: resolveCloudTrust(). The benchmark's
   * comparison alone may pass INSECURE_PLAINTEXT.
   */
  trust?: CloudTrust | typeof INSECURE_PLAINTEXT;
  /** The key this client proves (a fresh one by default). Results are bound to it. */
  credentials?: TlsCredentials;
  /** Addresses to start from (any one reachable server is enough). */
  servers: Endpoint[];
  clusterId?: number;
  /** A task fails only after this long without a result. */
  taskDeadline_ms?: number;
  /** Give up finding any server at connect() after this long. */
  connectTimeout_ms?: number;
  maxFrameBytes?: number;
  /** Fine-tuning of the session's timers (see src/core/config.ts). */
  session?: Partial<Omit<ClientSessionConfig, 'client_id' | 'servers'>>;
  logger?: Logger;
}

/** What happened to one task, for progress displays and per-request records. */
export type TaskProgress = ClientEvent;

export interface TaskResult {
  /** The stego PNG. */
  png: Uint8Array;
  /** The server that produced it. */
  serverId: number;
  latency_ms: number;
  /** How many times the task moved to another server. */
  reassignments: number;
  /** Every server the task was assigned to, in order. */
  servers: number[];
}

interface PendingTask {
  payload: Uint8Array;
  started_ms: number;
  servers: number[];
  reassignments: number;
  onProgress: ((event: TaskProgress) => void) | undefined;
  resolve: (result: TaskResult) => void;
  reject: (err: Error) => void;
}

const codec = createCloudCodec();

type ResolvedOptions = CloudClientOptions & {
  clusterId: number;
  maxFrameBytes: number;
  /** The id on the wire: derived from the key under TLS. */
  wireId: string;
  /** Transport security for a link, pinned to a server id when known. */
  security: (expectServerId: number | undefined) => ClientSecurity;
};

export class CloudClient {
  private readonly session: ClientSession;
  private readonly links = new Map<number, MessageLink<CloudMessage>>();
  private readonly tasks = new Map<string, PendingTask>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private closed = false;
  /** The binary of the TaskResponse being fed to the session right now. */
  private responseBytes: { taskId: string; bytes: Uint8Array } | null = null;

  private constructor(
    private readonly options: ResolvedOptions,
    welcome: WelcomeMessage,
  ) {
    this.session = new ClientSession(
      {
        client_id: options.wireId,
        servers: welcome.servers.map((s) => s.id),
        ...(options.taskDeadline_ms === undefined
          ? {}
          : { task_deadline_ms: options.taskDeadline_ms }),
        ...options.session,
      },
      new SeededRandom(randomInt(2 ** 31)),
      performance.now(),
    );
    for (const server of welcome.servers)
      this.links.set(server.id, this.makeLink(server.id, parseEndpoint(server.address, DIAL)));
  }

  /** Finds the cloud: says Hello to each address until one answers (retrying until the timeout). */
  static async connect(options: CloudClientOptions): Promise<CloudClient> {
    if (options.servers.length === 0)
      throw new CloudP2PError('no_servers', 'no server addresses configured', ExitCode.usage);
    const clusterId = options.clusterId ?? 1;
    let security: ResolvedOptions['security'];
    let wireId = options.clientId;
    if (options.trust === INSECURE_PLAINTEXT) {
      security = () => ({ kind: INSECURE_PLAINTEXT });
    } else {
      const trust = options.trust ?? resolveCloudTrust();
      const credentials = options.credentials ?? (await newClientCredentials(options.clientId));
      wireId = clientIdOf(credentials);
      security = (expectServerId) => ({
        kind: 'tls',
        clusterId,
        trust,
        credentials,
        ...(expectServerId === undefined ? {} : { expectServerId }),
      });
    }
    const resolved: ResolvedOptions = {
      maxFrameBytes: DEFAULT_MAX_FRAME_BODY_BYTES,
      ...options,
      clusterId,
      wireId,
      security,
    };
    const welcome = await discover(resolved);
    const client = new CloudClient(resolved, welcome);
    resolved.logger?.debug('connected to the cloud', {
      via: welcome.server_id,
      servers: welcome.servers.map((s) => s.id).join(','),
      leader: welcome.leader_id ?? 'none',
    });
    return client;
  }

  /** This client's id on the wire (derived from its key under TLS). */
  get id(): string {
    return this.options.wireId;
  }

  /** Server ids and addresses learned at connect(). */
  get servers(): number[] {
    return [...this.links.keys()];
  }

  get inFlight(): number {
    return this.tasks.size;
  }

  /**
   * Runs one encryption task: `payload` is a cloudp2p container (see docs/STEGO-FORMAT.md).
   * Resolves with the stego PNG; rejects only when the deadline passes or the cloud refuses the
   * payload itself (then retrying elsewhere cannot help).
   */
  encrypt(
    taskId: string,
    payload: Uint8Array,
    onProgress?: (event: TaskProgress) => void,
  ): Promise<TaskResult> {
    if (this.closed)
      return Promise.reject(
        new CloudP2PError('client_closed', 'the cloud client is closed', ExitCode.failure),
      );
    return new Promise<TaskResult>((resolve, reject) => {
      this.tasks.set(taskId, {
        payload,
        started_ms: performance.now(),
        servers: [],
        reassignments: 0,
        onProgress,
        resolve,
        reject,
      });
      try {
        this.session.submit(taskId, payload.length, performance.now());
      } catch (err) {
        this.tasks.delete(taskId);
        reject(err as Error);
        return;
      }
      this.process();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Acknowledgements just queued still go out: give the links a moment before closing them.
    this.process();
    if (this.timer) clearTimeout(this.timer);
    const links = [...this.links.values()];
    setTimeout(() => links.forEach((link) => link.close()), 50).unref();
    for (const [taskId, task] of this.tasks) {
      task.reject(
        new CloudP2PError(
          'client_closed',
          `task ${taskId} abandoned: client closed`,
          ExitCode.failure,
        ),
      );
    }
    this.tasks.clear();
  }

  private makeLink(serverId: number, endpoint: Endpoint): MessageLink<CloudMessage> {
    return new MessageLink<CloudMessage>(
      {
        host: endpoint.host,
        port: endpoint.port,
        codec,
        clusterId: this.options.clusterId,
        limits: { maxBodyBytes: this.options.maxFrameBytes, maxMetaBytes: 1024 * 1024 },
        security: this.options.security(serverId),
        connectTimeout_ms: 1000,
        maxBackoff_ms: 500,
        maxQueuedMessages: 1024,
      },
      {
        onMessage: (decoded) => this.onMessage(serverId, decoded),
        onDisconnect: () => {
          if (this.closed) return;
          this.session.serverUnreachable(serverId, performance.now());
          this.process();
        },
        onBadMessage: (detail) =>
          this.options.logger?.warn('unreadable message from server', { server: serverId, detail }),
      },
    );
  }

  private onMessage(serverId: number, decoded: DecodedMessage<CloudMessage>): void {
    const message = decoded.message;
    if (message.type === 'Error') {
      this.options.logger?.warn('server refused a message', {
        server: serverId,
        code: message.code,
        detail: message.message,
      });
      return;
    }
    // Hello, Welcome and directory replies travel on request/response, not here.
    if (!isCoreMessage(message)) return;
    if (message.type === 'TaskResponse' && message.ok) {
      const digest = createHash('sha256').update(decoded.binary).digest('hex');
      if (digest !== message.result_digest) {
        // Damaged in transit or a faulty server: ignore it; the session polls and gets it again.
        this.options.logger?.warn('result failed its digest check; waiting for another copy', {
          server: serverId,
          task: message.task_id,
        });
        return;
      }
      this.responseBytes = { taskId: message.task_id, bytes: decoded.binary };
    }
    this.session.receive(serverId, message, performance.now());
    this.process();
    this.responseBytes = null;
  }

  private process(): void {
    const ready: ClientReady = this.session.drain();
    for (const event of ready.events) this.onEvent(event);
    for (const { to, message } of ready.messages) {
      const binary =
        message.type === 'TaskRequest' ? this.tasks.get(message.task_id)?.payload : undefined;
      if (message.type === 'TaskRequest' && !binary) continue; // delivered meanwhile
      this.links.get(to)?.send(message, binary ? { binary } : {});
    }
    this.armTimer();
  }

  private onEvent(event: ClientEvent): void {
    const task = this.tasks.get(event.task_id);
    if (!task) return;
    task.onProgress?.(event);
    switch (event.type) {
      case 'assigned':
        task.servers.push(event.assignment.server_id);
        break;
      case 'reassigned':
        task.reassignments++;
        task.servers.push(event.assignment.server_id);
        break;
      case 'delivered': {
        this.tasks.delete(event.task_id);
        if (!event.ok) {
          task.reject(
            new CloudP2PError(
              'task_refused',
              `the cloud refused the task: ${event.error ?? 'no reason given'}`,
              ExitCode.badInput,
            ),
          );
          return;
        }
        const bytes =
          this.responseBytes?.taskId === event.task_id ? this.responseBytes.bytes : null;
        if (!bytes) {
          task.reject(
            new CloudP2PError(
              'internal',
              `result bytes of task ${event.task_id} went missing`,
              ExitCode.failure,
            ),
          );
          return;
        }
        task.resolve({
          png: bytes,
          serverId: event.server_id,
          latency_ms: performance.now() - task.started_ms,
          reassignments: task.reassignments,
          servers: task.servers,
        });
        break;
      }
      case 'failed':
        this.tasks.delete(event.task_id);
        task.reject(
          new CloudP2PError(
            'task_failed',
            `task ${event.task_id} failed: ${event.reason}`,
            ExitCode.unavailable,
          ),
        );
        break;
      case 'conflictingResult':
        this.options.logger?.error('a server returned a different result for a delivered task', {
          task: event.task_id,
          server: event.server_id,
        });
        break;
      default:
        break;
    }
  }

  private armTimer(): void {
    if (this.closed) return;
    const deadline = this.session.nextDeadline_ms();
    if (deadline === null) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.timerAt = Infinity;
      return;
    }
    if (this.timer && deadline >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = deadline;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.session.tick(performance.now());
        this.process();
      },
      Math.max(0, deadline - performance.now()),
    );
  }
}

/** Says Hello to every address at once, retrying, and returns the first Welcome. */
async function discover(options: ResolvedOptions): Promise<WelcomeMessage> {
  const deadline = performance.now() + (options.connectTimeout_ms ?? 10_000);
  const problems = new Map<string, string>();
  // Each round gives a server longer to connect and answer: on a saturated machine a TLS
  // handshake can take more than a second, and a fixed short limit would never succeed.
  let attempt_ms = 1000;
  while (performance.now() < deadline) {
    const failures: DialFailure[] = [];
    const attempts = options.servers.map(async (endpoint) => {
      const link = new MessageLink<CloudMessage>(
        {
          host: endpoint.host,
          port: endpoint.port,
          codec,
          clusterId: options.clusterId,
          limits: { maxBodyBytes: 1024 * 1024, maxMetaBytes: 1024 * 1024 },
          security: options.security(undefined),
          connectTimeout_ms: attempt_ms,
          failRequestsWhenUnreachable: true,
        },
        { onMessage: () => undefined },
      );
      try {
        const reply = await link.request(
          { type: 'Hello', client_id: options.wireId },
          attempt_ms * 1.5,
        );
        if (reply.message.type === 'Welcome') return reply.message;
        if (reply.message.type === 'Error')
          throw new Error(`${reply.message.code}: ${reply.message.message}`);
        throw new Error(`answered Hello with ${reply.message.type}`);
      } catch (err) {
        problems.set(`${endpoint.host}:${endpoint.port}`, errorMessage(err));
        failures.push({ endpoint: `${endpoint.host}:${endpoint.port}`, error: err });
        throw err;
      } finally {
        link.close();
      }
    });
    try {
      return await Promise.any(attempts);
    } catch {
      // Nothing listens at any address: waiting will not change that, say so now.
      if (allImmediate(failures)) throw cloudUnreachable('cloud_unreachable', failures);
      await new Promise((resolve) => setTimeout(resolve, 250));
      attempt_ms = Math.min(attempt_ms * 2, 8000);
    }
  }
  const detail = [...problems].map(([address, problem]) => `${address}: ${problem}`).join('; ');
  throw new CloudP2PError(
    'cloud_unreachable',
    `no cloud server answered within ${options.connectTimeout_ms ?? 10_000} ms (${detail})`,
    ExitCode.unavailable,
  );
}
