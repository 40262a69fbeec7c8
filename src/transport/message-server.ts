/**
 * A TCP listener that turns connections into typed messages. Bad input is answered and
 * contained: a frame that cannot be read as a message gets an Error reply and the connection
 * goes on; a stream that loses its framing (garbage, oversize, wrong version) gets an Error
 * reply and is closed. Nothing a connection sends can disturb another connection.
 */
import { Server, createServer, type Socket } from 'node:net';
import {
  isDecodeFailure,
  type DecodeFailure,
  type DecodedMessage,
  type MessageCodec,
} from '../protocol/codec.js';
import type { FrameLimits } from '../protocol/frame.js';
import { FramedConnection, type CloseReason } from './framed-connection.js';

export interface Connection<M extends { type: string }> {
  readonly id: number;
  readonly remote: string;
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
  onClose?(connection: Connection<M>, reason: CloseReason): void;
}

export interface MessageServerOptions<M extends { type: string }> {
  codec: MessageCodec<M>;
  clusterId: number;
  limits: FrameLimits;
  maxConnections: number;
  idleTimeout_ms: number;
  /** Builds the Error message the codec will encode. */
  makeError(code: string, message: string): M;
}

export class MessageServer<M extends { type: string }> {
  private readonly server: Server;
  private readonly connections = new Map<number, { socket: Socket; framed: FramedConnection }>();
  private nextId = 1;

  constructor(
    private readonly options: MessageServerOptions<M>,
    private readonly handlers: MessageServerHandlers<M>,
  ) {
    this.server = createServer((socket) => this.accept(socket));
    this.server.maxConnections = options.maxConnections;
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const hint = err.code === 'EADDRINUSE' ? ' (is another server already running on it?)' : '';
        reject(new Error(`cannot listen on ${host}:${port}: ${err.message}${hint}`));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', onError);
        const address = this.server.address();
        resolve({ host, port: typeof address === 'object' && address ? address.port : port });
      });
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    for (const { framed } of this.connections.values())
      framed.close({ kind: 'local', message: 'server closing' });
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Drops every connection without closing the listener (failure simulation: go silent). */
  dropAllConnections(why: string): void {
    for (const { framed } of this.connections.values())
      framed.close({ kind: 'local', message: why });
  }

  private accept(socket: Socket): void {
    const id = this.nextId++;
    const { codec, clusterId, limits, idleTimeout_ms, makeError } = this.options;
    const encodeError = (code: string, text: string, requestId = 0): Uint8Array =>
      codec.encode(makeError(code, text), { clusterId, requestId });
    const framed = new FramedConnection(
      socket,
      { limits, idleTimeout_ms },
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
          this.connections.delete(id);
          this.handlers.onClose?.(connection, reason);
        },
      },
    );
    const connection: Connection<M> = {
      id,
      remote: framed.remote,
      get isOpen() {
        return framed.isOpen;
      },
      send: (message, { onWritten, ...options } = {}) =>
        framed.send(codec.encodeParts(message, { clusterId, ...options }), onWritten),
      close: (why) => framed.close({ kind: 'local', message: why }),
    };
    this.connections.set(id, { socket, framed });
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
