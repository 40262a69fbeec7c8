/**
 * An outgoing, self-healing connection to one endpoint (a peer server, or a server the client
 * talks to). It connects on demand, reconnects with capped exponential backoff, and delivers
 * every decoded message to one handler. Messages sent while disconnected wait in a small
 * bounded queue (oldest dropped first): the algorithms above tolerate loss, never unbounded
 * memory. `request()` adds request/response correlation by request id, with a timeout.
 */
import type { Socket } from 'node:net';
import { isDecodeFailure, type DecodedMessage, type MessageCodec } from '../protocol/codec.js';
import type { FrameLimits } from '../protocol/frame.js';
import { DialError, FramedConnection, dial, type CloseReason } from './framed-connection.js';
import { dialTls, type ClientSecurity } from './tls.js';

export interface MessageLinkOptions<M extends { type: string }> {
  host: string;
  port: number;
  codec: MessageCodec<M>;
  clusterId: number;
  limits: FrameLimits;
  /** TLS (who the other side must prove to be, and what we prove), or the benchmark's plaintext. */
  security: ClientSecurity;
  connectTimeout_ms: number;
  /** Backoff after a failed attempt starts here and doubles up to maxBackoff_ms. */
  minBackoff_ms?: number;
  maxBackoff_ms?: number;
  /** Messages kept while disconnected (oldest dropped first). */
  maxQueuedMessages?: number;
  /** Largest total bytes kept while disconnected. */
  maxQueuedBytes?: number;
  /**
   * Fail waiting requests as soon as a connection attempt fails in a way known at once
   * (refused, unknown host, unreachable: DialError.immediate) instead of at their timeout.
   * For clients that tell a person; servers keep waiting for a peer to come back.
   */
  failRequestsWhenUnreachable?: boolean;
}

export interface MessageLinkHandlers<M> {
  onMessage(decoded: DecodedMessage<M>): void;
  onConnect?(): void;
  onDisconnect?(reason: CloseReason | { kind: 'connect_failed'; message: string }): void;
  /** The other side sent something we could not read (logged by the owner). */
  onBadMessage?(detail: string): void;
}

export interface SendOptions {
  requestId?: number;
  epoch?: number;
  binary?: Uint8Array;
}

interface PendingRequest<M> {
  resolve(decoded: DecodedMessage<M>): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class MessageLink<M extends { type: string }> {
  private connection: FramedConnection | null = null;
  private connecting = false;
  private closed = false;
  private backoff_ms: number;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Encoded frames (each in parts) waiting for a connection. */
  private queue: { parts: Uint8Array[]; size: number }[] = [];
  private queuedBytes = 0;
  private nextRequestId = 1;
  /** Why the last connection attempt failed (named when a request times out). */
  private lastConnectError: string | null = null;
  private readonly pending = new Map<number, PendingRequest<M>>();

  constructor(
    private readonly options: MessageLinkOptions<M>,
    private readonly handlers: MessageLinkHandlers<M>,
  ) {
    this.backoff_ms = options.minBackoff_ms ?? 50;
  }

  get endpoint(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  get isConnected(): boolean {
    return this.connection?.isOpen ?? false;
  }

  /** Starts connecting now (otherwise the first send does). */
  connect(): void {
    if (this.closed || this.connecting || this.isConnected || this.retryTimer) return;
    this.connecting = true;
    const { host, port, connectTimeout_ms, security } = this.options;
    const dialing =
      security.kind === 'tls'
        ? dialTls(host, port, connectTimeout_ms, security)
        : dial(host, port, connectTimeout_ms);
    dialing.then(
      (socket) => this.onConnected(socket),
      (err: Error) => {
        this.connecting = false;
        this.lastConnectError = err.message;
        this.handlers.onDisconnect?.({ kind: 'connect_failed', message: err.message });
        if (this.options.failRequestsWhenUnreachable && err instanceof DialError && err.immediate) {
          // The caller is told it failed: nothing of it may be sent later.
          this.queue = [];
          this.queuedBytes = 0;
          this.failPending(err);
        }
        this.scheduleRetry();
      },
    );
  }

  /** Sends now if connected, else queues (bounded) and connects. Returns false if dropped. */
  send(message: M, options: SendOptions = {}): boolean {
    if (this.closed) return false;
    const bytes = this.options.codec.encodeParts(message, {
      clusterId: this.options.clusterId,
      ...options,
    });
    if (this.connection?.isOpen) return this.connection.send(bytes);
    this.enqueue(bytes);
    this.connect();
    return true;
  }

  /** Sends a request with a fresh request id and resolves with the reply that echoes it. */
  request(
    message: M,
    timeout_ms: number,
    options: Omit<SendOptions, 'requestId'> = {},
  ): Promise<DecodedMessage<M>> {
    const requestId = this.nextRequestId;
    this.nextRequestId = this.nextRequestId >= 0xffff_fffe ? 1 : this.nextRequestId + 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        const why = this.isConnected || !this.lastConnectError ? '' : ` (${this.lastConnectError})`;
        reject(
          new Error(
            `no reply from ${this.endpoint} to ${message.type} within ${timeout_ms} ms${why}`,
          ),
        );
      }, timeout_ms);
      this.pending.set(requestId, { resolve, reject, timer });
      this.send(message, { ...options, requestId });
    });
  }

  /** Drops the connection now (it reconnects on the next send). */
  reset(why: string): void {
    this.connection?.close({ kind: 'local', message: why });
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connection?.close({ kind: 'local', message: 'link closed' });
    this.queue = [];
    this.queuedBytes = 0;
    this.failPending(new Error(`link to ${this.endpoint} closed`));
  }

  private onConnected(socket: Socket): void {
    this.connecting = false;
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.backoff_ms = this.options.minBackoff_ms ?? 50;
    this.lastConnectError = null;
    const connection = new FramedConnection(
      socket,
      { limits: this.options.limits },
      {
        onFrame: (frame) => {
          const decoded = this.options.codec.decode(frame, this.options.clusterId);
          if (isDecodeFailure(decoded)) {
            this.handlers.onBadMessage?.(`${decoded.failure}: ${decoded.message}`);
            return;
          }
          const waiter = decoded.requestId !== 0 ? this.pending.get(decoded.requestId) : undefined;
          if (waiter) {
            clearTimeout(waiter.timer);
            this.pending.delete(decoded.requestId);
            waiter.resolve(decoded);
            return;
          }
          this.handlers.onMessage(decoded);
        },
        onClose: (reason) => {
          if (this.connection === connection) this.connection = null;
          this.failPending(new Error(`connection to ${this.endpoint} lost before the reply`));
          this.handlers.onDisconnect?.(reason);
          if (!this.closed && this.queue.length > 0) this.scheduleRetry();
        },
      },
    );
    this.connection = connection;
    this.handlers.onConnect?.();
    const queued = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const frame of queued) connection.send(frame.parts);
  }

  private enqueue(parts: Uint8Array[]): void {
    const maxMessages = this.options.maxQueuedMessages ?? 64;
    const maxBytes = this.options.maxQueuedBytes ?? 64 * 1024 * 1024;
    const size = parts.reduce((n, part) => n + part.length, 0);
    this.queue.push({ parts, size });
    this.queuedBytes += size;
    while (
      this.queue.length > maxMessages ||
      (this.queuedBytes > maxBytes && this.queue.length > 1)
    ) {
      const dropped = this.queue.shift() as { size: number };
      this.queuedBytes -= dropped.size;
    }
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.backoff_ms;
    this.backoff_ms = Math.min(this.backoff_ms * 2, this.options.maxBackoff_ms ?? 1000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private failPending(err: Error): void {
    for (const [id, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
      this.pending.delete(id);
    }
  }
}
