/**
 * A listener that turns connections into typed messages, each tagged with who the other side
 * proved to be (src/transport/tls.ts). Bad input is answered and contained: a frame that cannot
 * be read as a message gets an Error reply and the connection goes on; a stream that loses its
 * framing (garbage, oversize, wrong version) gets an Error reply and is closed. Nothing a
 * connection sends can disturb another connection.
 *
 * Every connection is bounded (ConnectionBudgets): a TLS handshake deadline, an idle deadline,
 * a deadline for each frame to arrive in full, at most `maxFrameBytes` held per connection
 * (the frame limit) and `maxBufferedBytes` for all unfinished frames together (the largest
 * holders among non-members are dropped first), at most `maxConnectionsPerAddress` per remote
 * address, and at most `maxConnections` in all: when full, the connection idle the longest
 * makes room, so floods of idle, slow or half-sent connections cost a bounded amount and a new
 * client still gets in. Proven members of the cloud are never dropped to make room.
 */
import { Server, createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import {
  isDecodeFailure,
  type DecodeFailure,
  type DecodedMessage,
  type MessageCodec,
} from '../protocol/codec.js';
import type { FrameLimits } from '../protocol/frame.js';
import { FramedConnection, type CloseReason } from './framed-connection.js';
import { TlsAcceptor, TlsRefusal, type PeerIdentity, type ServerSecurity } from './tls.js';

export interface Connection<M extends { type: string }> {
  readonly id: number;
  readonly remote: string;
  /** What the other side proved (its certificate), never what its messages claim. */
  readonly peer: PeerIdentity;
  readonly isOpen: boolean;
  /** `onWritten`: see FramedConnection.send (called only when this returns true). */
  send(
    message: M,
    options?: { requestId?: number; epoch?: number; binary?: Uint8Array; onWritten?: () => void },
  ): boolean;
  close(why: string): void;
}

export interface MessageServerHandlers<M extends { type: string }> {
  onMessage(connection: Connection<M>, decoded: DecodedMessage<M>): void;
  /** A frame was refused (already answered with an Error); for logs and metrics. */
  onRefused?(connection: Connection<M>, reason: string, detail: string): void;
  /** A connection was turned away or dropped to respect a budget or a failed proof. */
  onRejected?(remote: string, reason: string, detail: string): void;
  onClose?(connection: Connection<M>, reason: CloseReason): void;
}

export interface ConnectionBudgets {
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Close a connection that sends nothing for this long (0 = never). */
  idleTimeout_ms: number;
  /** A TLS handshake must finish within this. */
  handshakeTimeout_ms: number;
  /** A frame must arrive in full within this from its first byte (0 = never). */
  frameReadTimeout_ms: number;
  /** Bytes of unfinished frames held across all connections. */
  maxBufferedBytes: number;
}

export const DEFAULT_BUDGETS: ConnectionBudgets = {
  maxConnections: 1024,
  maxConnectionsPerAddress: 256,
  idleTimeout_ms: 60_000,
  handshakeTimeout_ms: 5_000,
  frameReadTimeout_ms: 30_000,
  maxBufferedBytes: 256 * 1024 * 1024,
};

export interface MessageServerOptions<M extends { type: string }> {
  codec: MessageCodec<M>;
  clusterId: number;
  limits: FrameLimits;
  security: ServerSecurity;
  budgets: ConnectionBudgets;
  /** Builds the Error message the codec will encode. */
  makeError(code: string, message: string): M;
}

interface Entry<M extends { type: string }> {
  id: number;
  raw: Socket;
  address: string;
  accepted_ms: number;
  /** Set once the handshake is done (at once in plaintext mode). */
  framed: FramedConnection | null;
  connection: Connection<M> | null;
}

export class MessageServer<M extends { type: string }> {
  private readonly server: Server;
  private readonly entries = new Map<number, Entry<M>>();
  private readonly perAddress = new Map<string, number>();
  private readonly acceptor: TlsAcceptor | null;
  private bufferedBytes = 0;
  private connectionsPeak = 0;
  private bufferedBytesPeak = 0;
  private nextId = 1;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly options: MessageServerOptions<M>,
    private readonly handlers: MessageServerHandlers<M>,
  ) {
    this.acceptor = options.security.kind === 'tls' ? new TlsAcceptor(options.security) : null;
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const hint = err.code === 'EADDRINUSE' ? ' (is another server already running on it?)' : '';
        reject(
          Object.assign(new Error(`cannot listen on ${host}:${port}: ${err.message}${hint}`), {
            code: err.code,
          }),
        );
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', onError);
        const address = this.server.address();
        const sweep_ms = this.sweepInterval();
        this.sweeper = setInterval(() => this.sweep(), sweep_ms);
        this.sweeper.unref();
        resolve({ host, port: typeof address === 'object' && address ? address.port : port });
      });
    });
  }

  get connectionCount(): number {
    return this.entries.size;
  }

  /** Bytes held for unfinished frames across all connections. */
  get buffered(): number {
    return this.bufferedBytes;
  }

  /**
   * The most connections held at once and the most unfinished-frame bytes held once a chunk was
   * accounted for (over-budget holders dropped), since start: what the budgets bound, seen
   * without sampling.
   */
  get peaks(): { connections: number; buffered_bytes: number } {
    return { connections: this.connectionsPeak, buffered_bytes: this.bufferedBytesPeak };
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.dropAllConnections('server closing');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Drops every connection without closing the listener (failure simulation: go silent). */
  dropAllConnections(why: string): void {
    for (const entry of [...this.entries.values()]) this.drop(entry, why);
  }

  private accept(raw: Socket): void {
    const { budgets } = this.options;
    const address = raw.remoteAddress ?? '?';
    const remote = `${address}:${raw.remotePort ?? '?'}`;
    raw.on('error', () => undefined); // errors surface through the TLS socket / close
    if ((this.perAddress.get(address) ?? 0) >= budgets.maxConnectionsPerAddress) {
      this.handlers.onRejected?.(
        remote,
        'address_limit',
        `${budgets.maxConnectionsPerAddress} connections from ${address} already`,
      );
      raw.destroy();
      return;
    }
    if (this.entries.size >= budgets.maxConnections && !this.evictIdlest()) {
      this.handlers.onRejected?.(remote, 'connection_limit', 'every connection is busy');
      raw.destroy();
      return;
    }
    const entry: Entry<M> = {
      id: this.nextId++,
      raw,
      address,
      accepted_ms: performance.now(),
      framed: null,
      connection: null,
    };
    this.entries.set(entry.id, entry);
    this.connectionsPeak = Math.max(this.connectionsPeak, this.entries.size);
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    raw.once('close', () => this.forget(entry));
    if (!this.acceptor) {
      this.open(entry, raw, { kind: 'unverified' });
      return;
    }
    const acceptor = this.acceptor;
    const tls = acceptor.wrap(raw);
    tls.on('error', () => tls.destroy());
    tls.once('secure', () => {
      let peer: PeerIdentity;
      try {
        peer = acceptor.identify(tls);
      } catch (err) {
        if (!(err instanceof TlsRefusal)) throw err;
        this.handlers.onRejected?.(remote, err.code, err.message);
        this.refuseProof(tls, err);
        return;
      }
      this.open(entry, tls, peer);
    });
  }

  /** Tells a peer that failed to prove membership why, then closes. */
  private refuseProof(tls: TLSSocket, refusal: TlsRefusal): void {
    const { codec, clusterId, makeError } = this.options;
    tls.end(codec.encode(makeError(refusal.code, refusal.message), { clusterId }));
    setTimeout(() => tls.destroy(), 1000).unref();
  }

  private open(entry: Entry<M>, socket: Socket, peer: PeerIdentity): void {
    const { codec, clusterId, limits, makeError } = this.options;
    const encodeError = (code: string, text: string, requestId = 0): Uint8Array =>
      codec.encode(makeError(code, text), { clusterId, requestId });
    const framed = new FramedConnection(
      socket,
      { limits },
      {
        onFrame: (frame) => {
          const decoded = codec.decode(frame, clusterId);
          if (isDecodeFailure(decoded)) {
            this.refuse(connection, framed, decoded, encodeError);
            return;
          }
          this.handlers.onMessage(connection, decoded);
        },
        onFrameError: (error) => {
          this.handlers.onRefused?.(connection, error.code, error.message);
          return encodeError(error.code, error.message);
        },
        onClose: (reason) => {
          this.forget(entry);
          this.handlers.onClose?.(connection, reason);
        },
        onBufferedChange: (delta) => {
          this.bufferedBytes += delta;
          if (delta > 0 && this.bufferedBytes > this.options.budgets.maxBufferedBytes)
            this.shedBuffered();
          this.bufferedBytesPeak = Math.max(this.bufferedBytesPeak, this.bufferedBytes);
        },
      },
    );
    const connection: Connection<M> = {
      id: entry.id,
      remote: framed.remote,
      peer,
      get isOpen() {
        return framed.isOpen;
      },
      send: (message, { onWritten, ...options } = {}) =>
        framed.send(codec.encodeParts(message, { clusterId, ...options }), onWritten),
      close: (why) => framed.close({ kind: 'local', message: why }),
    };
    entry.framed = framed;
    entry.connection = connection;
  }

  private forget(entry: Entry<M>): void {
    if (!this.entries.delete(entry.id)) return;
    const count = (this.perAddress.get(entry.address) ?? 1) - 1;
    if (count <= 0) this.perAddress.delete(entry.address);
    else this.perAddress.set(entry.address, count);
  }

  private drop(entry: Entry<M>, why: string): void {
    if (entry.framed) entry.framed.close({ kind: 'local', message: why });
    else entry.raw.destroy();
    this.forget(entry);
  }

  /** Closes the non-member connection idle the longest; false when none is idle. */
  private evictIdlest(): boolean {
    let idlest: Entry<M> | null = null;
    let idlestSince = Infinity;
    for (const entry of this.entries.values()) {
      if (entry.connection?.peer.kind === 'server') continue;
      if (entry.framed && entry.framed.frameStarted_ms !== null) continue; // busy receiving a frame
      const since = entry.framed?.lastReceived_ms ?? entry.accepted_ms;
      if (since < idlestSince) {
        idlest = entry;
        idlestSince = since;
      }
    }
    if (!idlest) return false;
    this.handlers.onRejected?.(
      idlest.framed?.remote ?? idlest.address,
      'evicted_idle',
      'connection limit reached: closed the connection idle the longest',
    );
    this.drop(idlest, 'connection limit reached: idle the longest');
    return true;
  }

  /** Over the memory budget: drop the non-members holding the most unfinished bytes. */
  private shedBuffered(): void {
    const { budgets, codec, clusterId, makeError } = this.options;
    while (this.bufferedBytes > budgets.maxBufferedBytes) {
      let largest: Entry<M> | null = null;
      for (const entry of this.entries.values()) {
        if (!entry.framed || entry.connection?.peer.kind === 'server') continue;
        if (!largest || entry.framed.bufferedBytes > (largest.framed?.bufferedBytes ?? 0))
          largest = entry;
      }
      if (!largest?.framed || largest.framed.bufferedBytes === 0) return;
      const text = `the server holds ${budgets.maxBufferedBytes} bytes of unfinished frames at most; this connection held the most`;
      this.handlers.onRejected?.(largest.framed.remote, 'memory_budget', text);
      largest.framed.sendAndClose(codec.encode(makeError('over_budget', text), { clusterId }), {
        kind: 'local',
        message: 'memory budget',
      });
      this.forget(largest);
    }
  }

  private sweepInterval(): number {
    const { idleTimeout_ms, handshakeTimeout_ms, frameReadTimeout_ms } = this.options.budgets;
    const shortest = Math.min(
      ...[idleTimeout_ms, handshakeTimeout_ms, frameReadTimeout_ms].filter((t) => t > 0),
    );
    return Math.max(20, Math.min(1000, Math.floor(shortest / 4)));
  }

  /** Enforces the handshake, idle and frame-read deadlines. */
  private sweep(): void {
    const now = performance.now();
    const { idleTimeout_ms, handshakeTimeout_ms, frameReadTimeout_ms } = this.options.budgets;
    const { codec, clusterId, makeError } = this.options;
    for (const entry of [...this.entries.values()]) {
      const framed = entry.framed;
      if (!framed) {
        if (now - entry.accepted_ms > handshakeTimeout_ms) {
          this.handlers.onRejected?.(entry.address, 'handshake_timeout', 'no TLS handshake');
          this.drop(entry, 'handshake timeout');
        }
        continue;
      }
      if (
        frameReadTimeout_ms > 0 &&
        framed.frameStarted_ms !== null &&
        now - framed.frameStarted_ms > frameReadTimeout_ms
      ) {
        const text = `a frame must arrive in full within ${frameReadTimeout_ms} ms`;
        this.handlers.onRejected?.(framed.remote, 'frame_timeout', text);
        framed.sendAndClose(codec.encode(makeError('frame_timeout', text), { clusterId }), {
          kind: 'frame_timeout',
          timeout_ms: frameReadTimeout_ms,
        });
        this.forget(entry);
        continue;
      }
      if (
        idleTimeout_ms > 0 &&
        framed.frameStarted_ms === null &&
        now - framed.lastReceived_ms > idleTimeout_ms
      ) {
        framed.close({ kind: 'idle', idle_ms: idleTimeout_ms });
        this.forget(entry);
      }
    }
  }

  private refuse(
    connection: Connection<M>,
    framed: FramedConnection,
    failure: DecodeFailure,
    encodeError: (code: string, text: string, requestId?: number) => Uint8Array,
  ): void {
    this.handlers.onRefused?.(connection, failure.failure, failure.message);
    framed.send(encodeError(failure.failure, failure.message, failure.requestId));
  }
}
