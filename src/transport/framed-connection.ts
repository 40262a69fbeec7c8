/**
 * A TCP socket that speaks cloudp2p frames: decodes incoming bytes into frames, writes encoded
 * frames, bounds its write buffer, and closes itself on framing errors, idle timeouts or a peer
 * that stops reading. Used by servers, clients and peer agents alike.
 */
import { Socket, connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { FrameError, type Frame, type FrameLimits } from '../protocol/frame.js';

export interface FramedConnectionOptions {
  limits: FrameLimits;
  /** Close when nothing is received for this long (0 = never). */
  idleTimeout_ms?: number;
  /** Close when this many bytes are queued for writing: the peer is not reading. */
  maxWriteBuffer_bytes?: number;
}

export type CloseReason =
  | { kind: 'ended' }
  | { kind: 'error'; message: string }
  | { kind: 'frame_error'; error: FrameError }
  | { kind: 'idle'; idle_ms: number }
  | { kind: 'frame_timeout'; timeout_ms: number }
  | { kind: 'write_backlog'; buffered_bytes: number }
  | { kind: 'local'; message: string };

export interface FramedConnectionHandlers {
  onFrame(frame: Frame): void;
  /** Framing is lost: return a last frame to send (an error reply) before the connection closes. */
  onFrameError?(error: FrameError): Uint8Array | null;
  /** Called exactly once. */
  onClose?(reason: CloseReason): void;
  /** Bytes held for an unfinished frame changed by `delta` (for a server-wide memory budget). */
  onBufferedChange?(delta: number): void;
}

const DEFAULT_MAX_WRITE_BUFFER_BYTES = 256 * 1024 * 1024;

export class FramedConnection {
  private readonly decoder: FrameDecoder;
  private closed = false;
  private closeReason: CloseReason | null = null;
  private heldBytes = 0;
  readonly remote: string;
  /** The remote IP address alone (per-address limits). */
  readonly remoteAddress: string;
  /** When the last bytes arrived (performance.now()). */
  lastReceived_ms = performance.now();
  /** When the unfinished frame began to arrive, or null between frames. */
  frameStarted_ms: number | null = null;

  constructor(
    readonly socket: Socket,
    private readonly options: FramedConnectionOptions,
    private handlers: FramedConnectionHandlers,
  ) {
    this.decoder = new FrameDecoder(options.limits);
    this.remoteAddress = socket.remoteAddress ?? '?';
    this.remote = `${this.remoteAddress}:${socket.remotePort ?? '?'}`;
    socket.setNoDelay(true);
    if (options.idleTimeout_ms) {
      socket.setTimeout(options.idleTimeout_ms, () =>
        this.close({ kind: 'idle', idle_ms: options.idleTimeout_ms as number }),
      );
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (err) => this.close({ kind: 'error', message: err.message }));
    socket.on('close', () => this.close({ kind: 'ended' }));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Bytes held for a frame not complete yet. */
  get bufferedBytes(): number {
    return this.heldBytes;
  }

  setHandlers(handlers: FramedConnectionHandlers): void {
    this.handlers = handlers;
  }

  /** Queues an encoded frame. Returns false (and does nothing) once the connection is closed. */
  /**
   * Queues an encoded frame. Returns false (and does nothing) once the connection is closed.
   * `onWritten` runs once the socket no longer needs the bytes (flushed, or the connection
   * failed): only then may the caller reuse the buffers.
   */
  send(encodedFrame: Uint8Array | readonly Uint8Array[], onWritten?: () => void): boolean {
    if (this.closed) return false;
    const parts = encodedFrame instanceof Uint8Array ? [encodedFrame] : encodedFrame;
    // Several parts (header + metadata, then the image bytes) go back to back without being
    // copied together.
    this.socket.cork();
    parts.forEach((part, i) => {
      if (i === parts.length - 1 && onWritten) this.socket.write(part, () => onWritten());
      else this.socket.write(part);
    });
    this.socket.uncork();
    const limit = this.options.maxWriteBuffer_bytes ?? DEFAULT_MAX_WRITE_BUFFER_BYTES;
    if (this.socket.writableLength > limit) {
      this.close({ kind: 'write_backlog', buffered_bytes: this.socket.writableLength });
    }
    return true;
  }

  /** Sends a last frame (e.g. an error reply) and closes once it is flushed. */
  sendAndClose(encodedFrame: Uint8Array, reason: CloseReason): void {
    if (this.closed) return;
    this.markClosed(reason);
    this.socket.end(encodedFrame);
    // A peer that never reads must not hold the socket open forever.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.markClosed(reason);
    this.socket.destroy();
  }

  private markClosed(reason: CloseReason): void {
    this.closed = true;
    this.closeReason = reason;
    this.socket.removeAllListeners('data');
    this.trackBuffered(0);
    this.handlers.onClose?.(reason);
  }

  get reason(): CloseReason | null {
    return this.closeReason;
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    this.lastReceived_ms = performance.now();
    try {
      frames = this.decoder.push(chunk);
      // A frame completed in this chunk: whatever is left is a new frame, started now.
      if (frames.length > 0) this.frameStarted_ms = null;
      this.trackBuffered(this.decoder.inFrame ? Math.max(1, this.decoder.buffered) : 0);
    } catch (err) {
      if (err instanceof FrameError) {
        const reply = this.handlers.onFrameError?.(err) ?? null;
        if (reply) this.sendAndClose(reply, { kind: 'frame_error', error: err });
        else this.close({ kind: 'frame_error', error: err });
        return;
      }
      throw err;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.handlers.onFrame(frame);
    }
  }

  /** Records what the decoder holds now and when the current frame started. */
  private trackBuffered(held: number): void {
    if (held > 0 && this.frameStarted_ms === null) this.frameStarted_ms = this.lastReceived_ms;
    if (held === 0) this.frameStarted_ms = null;
    const delta = held - this.heldBytes;
    this.heldBytes = held;
    if (delta !== 0) this.handlers.onBufferedChange?.(delta);
  }

  private onEnd(): void {
    try {
      this.decoder.end();
      this.close({ kind: 'ended' });
    } catch (err) {
      this.close(
        err instanceof FrameError
          ? { kind: 'frame_error', error: err }
          : { kind: 'error', message: String(err) },
      );
    }
  }
}

/**
 * A connection attempt that failed, with the socket's error code when there was one. Refused,
 * unknown-host and unreachable failures are known at once (`immediate`): a client can say so
 * instead of waiting out its reply timeout.
 */
export class DialError extends Error {
  readonly immediate: boolean;
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = 'DialError';
    this.immediate = code !== undefined && IMMEDIATE_DIAL_FAILURES.has(code);
  }
}

const IMMEDIATE_DIAL_FAILURES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);

/** Opens a TCP connection with a connect timeout; rejects with a clear message. */
export function dial(host: string, port: number, timeout_ms: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new DialError(
          `connecting to ${host}:${port} timed out after ${timeout_ms} ms`,
          'ETIMEDOUT',
        ),
      );
    }, timeout_ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new DialError(`cannot connect to ${host}:${port}: ${err.message}`, err.code));
    });
  });
}
