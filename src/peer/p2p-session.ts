/**
 * One authenticated, encrypted connection between two agents (src/protocol/peer-protocol.ts)
 * over TLS 1.3 (p2p-tls.ts). Either side may send requests once the handshake is done: the
 * dialer numbers its requests with odd ids, the listener with even ids, and a reply echoes the
 * id — so one connection carries both directions (an owner who dialed a viewer to say "your copy
 * is ready" serves the viewer's chunk requests on the same connection, even when the owner has
 * no listener).
 *
 * Who the peer is comes from the TLS handshake, never from what it writes: the certificate key
 * it proved must be the directory's key for the user it names (the dialer checks before sending
 * anything, the listener when PeerHello names the user).
 *
 * Everything a peer sends is bounded: frame size, messages per second, requests in progress,
 * malformed messages tolerated, time to finish the handshake, idle time.
 */
import type { Socket } from 'node:net';
import type { Identity } from '../identity/keys.js';
import { isDecodeFailure } from '../protocol/codec.js';
import type { Frame } from '../protocol/frame.js';
import {
  P2P_CLUSTER_ID,
  PEER_LIMITS,
  PEER_REPLY_TYPES,
  createPeerCodec,
  peerErrorText,
  type PeerMessage,
} from '../protocol/peer-protocol.js';
import { FramedConnection, type CloseReason } from '../transport/framed-connection.js';
import type { ErrorCode } from '../util/error-codes.js';
import { CloudP2PError, ExitCode, errorMessage, type ExitCodeValue } from '../util/errors.js';
import { certificateMatches, dialP2P, unreachable, type P2PTransport } from './p2p-tls.js';

export interface PeerIdentity {
  user_id: string;
  username: string;
  public_key: Uint8Array;
}

export interface LocalPeer {
  user_id: string;
  username: string;
  keys: Identity;
}

export interface Reply {
  message: PeerMessage;
  binary?: Uint8Array;
}

export interface SessionLimits {
  handshakeTimeout_ms: number;
  idleTimeout_ms: number;
  requestTimeout_ms: number;
  /** Requests from the peer being handled at once; more get PeerError busy. */
  maxConcurrentIncoming: number;
  /** Token bucket on incoming messages. */
  messagesPerSecond: number;
  messageBurst: number;
  /** Malformed messages tolerated on an authenticated connection before it is closed. */
  maxInvalidMessages: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  handshakeTimeout_ms: 5000,
  idleTimeout_ms: 60_000,
  requestTimeout_ms: 15_000,
  maxConcurrentIncoming: 8,
  messagesPerSecond: 200,
  messageBurst: 400,
  maxInvalidMessages: 5,
};

/** A refusal to send back as PeerError (code and message are shown to the other user). */
export class PeerRefusal extends CloudP2PError {
  constructor(code: ErrorCode, message: string, exitCode: ExitCodeValue = ExitCode.denied) {
    super(code, message, exitCode);
    this.name = 'PeerRefusal';
  }
}

/** The other agent answered our request with PeerError. */
export class RemotePeerError extends CloudP2PError {
  constructor(
    readonly peerCode: string,
    message: string,
    peer: string,
  ) {
    super(
      `peer_${peerCode.slice(0, 59)}`,
      `${peer} refused: ${message}`,
      peerCode === 'denied' || peerCode === 'bad_signature' ? ExitCode.denied : ExitCode.failure,
    );
    this.name = 'RemotePeerError';
  }
}

export type RequestHandler = (
  session: PeerSession,
  message: PeerMessage,
  binary: Uint8Array,
) => Promise<Reply>;

const codec = createPeerCodec();
const FRAME_LIMITS = {
  maxBodyBytes: PEER_LIMITS.max_frame_body_bytes,
  maxMetaBytes: PEER_LIMITS.max_meta_bytes,
};

type State = 'hello' | 'resolving' | 'welcome' | 'ready' | 'closed';

interface Pending {
  resolve(reply: { message: PeerMessage; binary: Uint8Array }): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export interface ListenerOptions {
  me: LocalPeer;
  /** TLS: the peer's certificate key must be the resolved user's key. */
  transport: P2PTransport['kind'];
  /** Looks up (and pins) the key of the user a PeerHello claims to be; throws PeerRefusal. */
  resolvePeer(userId: string, username: string): Promise<PeerIdentity>;
  /** May the session become ready (e.g. per-user connection limits)? Throws PeerRefusal. */
  admit?(peer: PeerIdentity): void;
}

export class PeerSession {
  private state: State;
  private readonly framed: FramedConnection;
  private readonly pending = new Map<number, Pending>();
  private nextRequestId: number;
  private incoming = 0;
  private invalid = 0;
  private tokens: number;
  private lastRefill_ms = Date.now();
  private handshakeTimer: NodeJS.Timeout | null = null;
  private peerIdentity: PeerIdentity | null = null;
  /** Requests the listener sent right after its PeerWelcome, before the dialer took it. */
  private early: Array<{ requestId: number; message: PeerMessage; binary: Uint8Array }> = [];
  private readyWaiters: Array<{ resolve(): void; reject(err: Error): void }> = [];
  private closeListeners: Array<(reason: string) => void> = [];
  readonly remote: string;

  private constructor(
    socket: Socket,
    readonly role: 'dialer' | 'listener',
    private readonly me: LocalPeer,
    private readonly handler: RequestHandler,
    private readonly limits: SessionLimits,
    private readonly listener: ListenerOptions | null,
  ) {
    this.state = role === 'listener' ? 'hello' : 'welcome';
    this.nextRequestId = role === 'dialer' ? 1 : 2;
    this.tokens = limits.messageBurst;
    this.framed = new FramedConnection(
      socket,
      { limits: FRAME_LIMITS, idleTimeout_ms: limits.idleTimeout_ms },
      {
        onFrame: (frame) => this.onFrame(frame),
        onFrameError: (error) =>
          codec.encode(
            { type: 'PeerError', code: error.code, message: peerErrorText(error.message) },
            { clusterId: P2P_CLUSTER_ID },
          ),
        onClose: (reason) => this.onClosed(reason),
      },
    );
    this.remote = this.framed.remote;
    this.handshakeTimer = setTimeout(
      () => this.refuseAndClose(0, 'handshake_timeout', 'the handshake did not finish in time'),
      limits.handshakeTimeout_ms,
    );
    this.handshakeTimer.unref();
  }

  /** Accepts an incoming connection; the handshake runs as the dialer's messages arrive. */
  static accept(
    socket: Socket,
    options: ListenerOptions,
    handler: RequestHandler,
    limits: SessionLimits = DEFAULT_SESSION_LIMITS,
  ): PeerSession {
    return new PeerSession(socket, 'listener', options.me, handler, limits, options);
  }

  /**
   * Connects to `expected` at host:port over `transport` and authenticates both ways: the TLS
   * certificate key must be `expected.public_key` before anything is sent.
   */
  static async dial(args: {
    host: string;
    port: number;
    me: LocalPeer;
    expected: PeerIdentity;
    handler: RequestHandler;
    transport: P2PTransport;
    limits?: SessionLimits;
  }): Promise<PeerSession> {
    const { host, port, expected } = args;
    const limits = args.limits ?? DEFAULT_SESSION_LIMITS;
    let socket: Socket;
    try {
      socket = await dialP2P(host, port, args.transport, limits.handshakeTimeout_ms);
    } catch (err) {
      throw unreachable(expected.username, host, port, err);
    }
    if (args.transport.kind === 'tls' && !certificateMatches(socket, expected.public_key)) {
      socket.destroy();
      throw new PeerRefusal(
        'wrong_key',
        `the agent at ${host}:${port} does not hold ${expected.username}'s registered key (its TLS certificate is for another key): refused`,
      );
    }
    const session = new PeerSession(socket, 'dialer', args.me, args.handler, limits, null);
    try {
      await session.handshakeAsDialer(expected);
    } catch (err) {
      session.close('handshake failed');
      throw err;
    }
    return session;
  }

  get peer(): PeerIdentity {
    if (!this.peerIdentity || this.state !== 'ready')
      throw new Error('the session is not authenticated yet');
    return this.peerIdentity;
  }

  get isReady(): boolean {
    return this.state === 'ready' && this.framed.isOpen;
  }

  get isOpen(): boolean {
    return this.framed.isOpen;
  }

  /** Resolves once the listener side finished the handshake (rejects if it closes first). */
  whenReady(): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new Error('closed before the handshake'));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  onClose(listener: (reason: string) => void): void {
    this.closeListeners.push(listener);
  }

  close(why: string): void {
    this.framed.close({ kind: 'local', message: why });
  }

  /** Sends a request to the peer and waits for its reply; PeerError replies reject. */
  request(
    message: PeerMessage,
    options: { binary?: Uint8Array; timeout_ms?: number } = {},
  ): Promise<{ message: PeerMessage; binary: Uint8Array }> {
    if (!this.framed.isOpen)
      return Promise.reject(
        new CloudP2PError(
          'peer_closed',
          'the connection to the peer is closed',
          ExitCode.unavailable,
        ),
      );
    const requestId = this.nextRequestId;
    this.nextRequestId = this.nextRequestId + 2 > 0xffff_fffe ? requestId % 2 || 2 : requestId + 2;
    const timeout_ms = options.timeout_ms ?? this.limits.requestTimeout_ms;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(
          new CloudP2PError(
            'peer_timeout',
            `${this.peerName()} did not answer ${message.type} within ${timeout_ms} ms`,
            ExitCode.unavailable,
          ),
        );
      }, timeout_ms);
      timer.unref();
      this.pending.set(requestId, { resolve, reject, timer });
      this.send(message, requestId, options.binary);
    });
  }

  private peerName(): string {
    return this.peerIdentity
      ? `${this.peerIdentity.username}'s agent`
      : `the peer at ${this.remote}`;
  }

  private send(message: PeerMessage, requestId: number, binary?: Uint8Array): void {
    this.framed.send(
      codec.encode(message, {
        clusterId: P2P_CLUSTER_ID,
        requestId,
        ...(binary ? { binary } : {}),
      }),
    );
  }

  private isMine(requestId: number): boolean {
    return requestId % 2 === (this.role === 'dialer' ? 1 : 0);
  }

  private refuse(requestId: number, code: string, message: string): void {
    this.send({ type: 'PeerError', code, message: peerErrorText(message) }, requestId);
  }

  private refuseAndClose(requestId: number, code: string, message: string): void {
    if (!this.framed.isOpen) return;
    this.framed.sendAndClose(
      codec.encode(
        { type: 'PeerError', code, message: peerErrorText(message) },
        { clusterId: P2P_CLUSTER_ID, requestId },
      ),
      { kind: 'local', message: `${code}: ${message}` },
    );
  }

  private takeToken(): boolean {
    const now = Date.now();
    this.tokens = Math.min(
      this.limits.messageBurst,
      this.tokens + ((now - this.lastRefill_ms) / 1000) * this.limits.messagesPerSecond,
    );
    this.lastRefill_ms = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private onFrame(frame: Frame): void {
    if (this.state === 'closed') return;
    if (!this.takeToken()) {
      this.refuseAndClose(
        frame.requestId,
        'rate_limited',
        `more than ${this.limits.messagesPerSecond} messages per second`,
      );
      return;
    }
    const decoded = codec.decode(frame, P2P_CLUSTER_ID);
    if (isDecodeFailure(decoded)) {
      const waiter = this.isMine(frame.requestId) ? this.pending.get(frame.requestId) : undefined;
      if (waiter) {
        this.pending.delete(frame.requestId);
        clearTimeout(waiter.timer);
        waiter.reject(
          new CloudP2PError(
            'peer_bad_reply',
            `${this.peerName()} sent an unreadable reply: ${decoded.message}`,
            ExitCode.failure,
          ),
        );
        return;
      }
      this.onInvalid(frame.requestId, decoded.failure, decoded.message);
      return;
    }
    const { message, binary, requestId } = decoded;
    if (requestId !== 0 && this.isMine(requestId)) {
      const waiter = this.pending.get(requestId);
      if (!waiter) {
        if (!PEER_REPLY_TYPES.has(message.type))
          this.onInvalid(
            requestId,
            'bad_request_id',
            `requests from the ${this.role === 'dialer' ? 'listener' : 'dialer'} use ${this.role === 'dialer' ? 'even' : 'odd'} request ids`,
          );
        return; // a late reply after a timeout
      }
      this.pending.delete(requestId);
      clearTimeout(waiter.timer);
      if (message.type === 'PeerError')
        waiter.reject(new RemotePeerError(message.code, message.message, this.peerName()));
      else waiter.resolve({ message, binary });
      return;
    }
    if (message.type === 'PeerError') {
      // An error that answers none of our requests is never answered with another error (two
      // agents would trade them). Id 0 is the peer ending the whole connection (its handshake
      // deadline, a rate limit, a framing error): close with its reason, which the caller then
      // sees instead of a misleading 'PeerError is not a request here'.
      if (requestId === 0)
        this.close(`the peer closed the connection: ${message.code}: ${message.message}`);
      return;
    }
    if (requestId === 0 || PEER_REPLY_TYPES.has(message.type)) {
      this.onInvalid(requestId, 'unexpected_message', `${message.type} is not a request here`);
      return;
    }
    this.onRequest(requestId, message, binary);
  }

  private onInvalid(requestId: number, code: string, message: string): void {
    if (this.state !== 'ready') {
      this.refuseAndClose(requestId, code, message);
      return;
    }
    this.invalid++;
    if (this.invalid > this.limits.maxInvalidMessages) {
      this.refuseAndClose(
        requestId,
        'too_many_errors',
        `${this.invalid} malformed messages: closing (${message})`,
      );
      return;
    }
    this.refuse(requestId, code, message);
  }

  private onRequest(requestId: number, message: PeerMessage, binary: Uint8Array): void {
    if (this.state === 'hello') {
      if (message.type !== 'PeerHello') {
        this.refuseAndClose(requestId, 'handshake_required', 'say PeerHello first');
        return;
      }
      this.state = 'resolving';
      void this.answerHello(requestId, message);
      return;
    }
    if (this.state === 'resolving') {
      this.refuseAndClose(requestId, 'handshake_required', 'wait for PeerWelcome');
      return;
    }
    if (this.state === 'welcome') {
      // The listener is ready once it sent PeerWelcome and may ask at once; the dialer takes
      // the Welcome in a moment (after this frame batch): hold a few requests until then.
      if (this.early.length >= this.limits.maxConcurrentIncoming)
        this.refuseAndClose(requestId, 'handshake_required', 'finish the handshake first');
      else this.early.push({ requestId, message, binary });
      return;
    }
    if (message.type === 'PeerHello') {
      this.onInvalid(requestId, 'already_authenticated', 'the handshake is already done');
      return;
    }
    if (this.incoming >= this.limits.maxConcurrentIncoming) {
      this.refuse(
        requestId,
        'busy',
        `at most ${this.limits.maxConcurrentIncoming} requests at once`,
      );
      return;
    }
    this.incoming++;
    this.handler(this, message, binary)
      .then(
        (reply) => {
          if (this.framed.isOpen) this.send(reply.message, requestId, reply.binary);
        },
        (err: unknown) => {
          if (!this.framed.isOpen) return;
          if (err instanceof PeerRefusal) this.refuse(requestId, err.code, err.message);
          else if (err instanceof CloudP2PError && /^[a-z_]{1,64}$/.test(err.code))
            this.refuse(requestId, err.code, err.message);
          else this.refuse(requestId, 'internal', 'the agent failed to handle the request');
        },
      )
      .finally(() => {
        this.incoming--;
      });
  }

  // ---- Handshake ----------------------------------------------------------------------------
  //
  //   dialer -> listener  PeerHello   { user_id, username }   (request)
  //   listener -> dialer  PeerWelcome { user_id, username }   (reply)
  //
  // TLS already proved both keys; these name the users, and each side checks the name against
  // the key: the dialer knew whom it dialed (checked at connect), the listener looks the user
  // up in the directory (pinned) and compares the key with the certificate's.

  private async answerHello(
    requestId: number,
    hello: Extract<PeerMessage, { type: 'PeerHello' }>,
  ): Promise<void> {
    const listener = this.listener as ListenerOptions;
    if (hello.user_id === this.me.user_id) {
      this.refuseAndClose(requestId, 'denied', 'an agent does not connect to itself');
      return;
    }
    let peer: PeerIdentity;
    try {
      peer = await listener.resolvePeer(hello.user_id, hello.username);
    } catch (err) {
      const code = err instanceof PeerRefusal ? err.code : 'unknown_user';
      this.refuseAndClose(requestId, code, errorMessage(err));
      return;
    }
    if (this.state !== 'resolving') return; // closed meanwhile
    if (listener.transport === 'tls' && !certificateMatches(this.framed.socket, peer.public_key)) {
      this.refuseAndClose(
        requestId,
        'wrong_key',
        `this connection's TLS certificate is not ${peer.username}'s registered key: refused`,
      );
      return;
    }
    try {
      listener.admit?.(peer);
    } catch (err) {
      this.refuseAndClose(
        requestId,
        err instanceof PeerRefusal ? err.code : 'denied',
        errorMessage(err),
      );
      return;
    }
    this.peerIdentity = peer;
    this.becomeReady();
    this.send(
      { type: 'PeerWelcome', user_id: this.me.user_id, username: this.me.username },
      requestId,
    );
  }

  private async handshakeAsDialer(expected: PeerIdentity): Promise<void> {
    const welcome = (
      await this.request(
        { type: 'PeerHello', user_id: this.me.user_id, username: this.me.username },
        { timeout_ms: this.limits.handshakeTimeout_ms },
      )
    ).message;
    if (welcome.type !== 'PeerWelcome')
      throw new PeerRefusal('bad_handshake', `expected PeerWelcome, got ${welcome.type}`);
    if (welcome.user_id !== expected.user_id || welcome.username !== expected.username)
      throw new PeerRefusal(
        'wrong_peer',
        `the agent at ${this.remote} is ${welcome.username} (${welcome.user_id}), not ${expected.username}`,
      );
    this.peerIdentity = expected;
    this.becomeReady();
  }

  private becomeReady(): void {
    this.state = 'ready';
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = null;
    for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    for (const early of this.early.splice(0))
      this.onRequest(early.requestId, early.message, early.binary);
  }

  private onClosed(reason: CloseReason): void {
    this.state = 'closed';
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    const why =
      reason.kind === 'local'
        ? reason.message
        : reason.kind === 'frame_error'
          ? reason.error.message
          : reason.kind === 'error'
            ? reason.message
            : reason.kind;
    for (const waiter of this.readyWaiters.splice(0))
      waiter.reject(new Error(`connection closed before the handshake (${why})`));
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(
        new CloudP2PError(
          'peer_closed',
          `the connection to ${this.peerName()} closed before the reply (${why})`,
          ExitCode.unavailable,
        ),
      );
      this.pending.delete(id);
    }
    for (const listener of this.closeListeners) listener(why);
  }
}
