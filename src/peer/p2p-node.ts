/**
 * The agent's peer-to-peer side: a TLS listener on a port the OS picks (published in the
 * directory at sign-in) and outgoing TLS connections to other agents, both presenting the
 * user's identity key (p2p-tls.ts). Authenticated sessions are reused in both directions: if bob
 * already connected to alice, alice's next request to bob goes over that connection.
 */
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import {
  DEFAULT_SESSION_LIMITS,
  PeerRefusal,
  PeerSession,
  type LocalPeer,
  type PeerIdentity,
  type RequestHandler,
  type SessionLimits,
} from './p2p-session.js';
import {
  p2pServerOptions,
  p2pTransport,
  type P2PTransport,
  type P2PTransportKind,
} from './p2p-tls.js';

export interface P2PNodeOptions {
  me: LocalPeer;
  /** The key of a user, from the pinned keys or the directory; throws when unknown. */
  resolvePeer(userId: string, username: string): Promise<PeerIdentity>;
  handler: RequestHandler;
  logger: Logger;
  /** Incoming connections at once (authenticated or not). */
  maxConnections?: number;
  /** Authenticated sessions per remote user. */
  maxSessionsPerUser?: number;
  /** New incoming connections accepted per second (burst: twice as many). */
  connectionsPerSecond?: number;
  sessionLimits?: Partial<SessionLimits>;
  /** `tls` always; `plaintext-benchmark-only` exists for `npm run bench:peer` alone. */
  transport?: P2PTransportKind;
}

export class P2PNode {
  private server: Server | null = null;
  private readonly sessions = new Set<PeerSession>();
  private readonly dialing = new Map<string, Promise<PeerSession>>();
  private readonly limits: SessionLimits;
  private readonly maxConnections: number;
  private readonly maxSessionsPerUser: number;
  private closed = false;
  private connectionTokens: number;
  private lastConnection_ms = Date.now();
  private transport: Promise<P2PTransport> | null = null;
  address: { host: string; port: number } | null = null;

  constructor(private readonly options: P2PNodeOptions) {
    this.limits = { ...DEFAULT_SESSION_LIMITS, ...options.sessionLimits };
    this.maxConnections = options.maxConnections ?? 64;
    this.maxSessionsPerUser = options.maxSessionsPerUser ?? 4;
    this.connectionTokens = (options.connectionsPerSecond ?? 20) * 2;
  }

  /** This agent's transport: its TLS certificate is made once, on first use. */
  private ownTransport(): Promise<P2PTransport> {
    if (!this.transport) {
      const making = p2pTransport(this.options.transport ?? 'tls', this.options.me);
      this.transport = making;
      making.catch(() => {
        if (this.transport === making) this.transport = null;
      });
    }
    return this.transport;
  }

  /** Listens on `host` with an OS-chosen port (or `port`); resolves with the bound address. */
  async listen(host: string, port = 0): Promise<{ host: string; port: number }> {
    const transport = await this.ownTransport();
    const server =
      transport.kind === 'tls'
        ? createTlsServer(
            p2pServerOptions(transport.credentials, this.limits.handshakeTimeout_ms),
            (socket) => this.accept(socket, transport.kind),
          )
        : createTcpServer((socket) => this.accept(socket, transport.kind));
    // Each handshake costs a signature (and maybe a directory lookup): a flood of new
    // connections is cut short before TLS starts.
    server.on('connection', (socket: Socket) => {
      if (this.closed || !this.takeConnectionToken()) socket.destroy();
    });
    server.on('tlsClientError', (err: Error, socket: Socket) => {
      // A failed or timed-out TLS handshake (plain TCP, garbage, no certificate sent in time):
      // nothing reached the protocol; the socket is ours to close.
      socket.destroy();
      this.options.logger.debug('peer TLS handshake failed', {
        remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
        error: errorMessage(err),
      });
    });
    server.maxConnections = this.maxConnections;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err) =>
        reject(new Error(`cannot listen for peers on ${host}:${port}: ${err.message}`)),
      );
      server.listen(port, host, () => {
        const address = server.address();
        this.address = {
          host,
          port: typeof address === 'object' && address ? address.port : port,
        };
        resolve(this.address);
      });
    });
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  /** An authenticated session to `peer` (reused when one is open), dialing if needed. */
  async connect(peer: PeerIdentity & { address: string; port: number }): Promise<PeerSession> {
    const open = this.readySessionTo(peer.user_id);
    if (open) return open;
    const inFlight = this.dialing.get(peer.user_id);
    if (inFlight) return inFlight;
    const dialing = this.ownTransport()
      .then((transport) =>
        PeerSession.dial({
          host: peer.address,
          port: peer.port,
          me: this.options.me,
          expected: peer,
          handler: this.options.handler,
          transport,
          limits: this.limits,
        }),
      )
      .then((session) => {
        // The agent stopped while this dial was in flight: close() has closed every session it
        // knew, not this one. Left open, it would stay 'ready' on the other side with no agent
        // behind it, and the other agent would keep sending there (an owner's CopyAvailable to
        // a viewer who signed in again elsewhere, refused forever: seen in the lab campaign).
        if (this.closed) {
          session.close('agent stopping');
          throw new PeerRefusal('stopping', 'the agent is shutting down');
        }
        this.track(session);
        return session;
      });
    this.dialing.set(peer.user_id, dialing);
    try {
      return await dialing;
    } finally {
      this.dialing.delete(peer.user_id);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const session of this.sessions) session.close('agent stopping');
    this.sessions.clear();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private takeConnectionToken(): boolean {
    const now = Date.now();
    const rate = this.options.connectionsPerSecond ?? 20;
    this.connectionTokens = Math.min(
      rate * 2,
      this.connectionTokens + ((now - this.lastConnection_ms) / 1000) * rate,
    );
    this.lastConnection_ms = now;
    if (this.connectionTokens < 1) return false;
    this.connectionTokens -= 1;
    return true;
  }

  private readySessionTo(userId: string): PeerSession | undefined {
    for (const session of this.sessions) {
      if (session.isReady && session.peer.user_id === userId) return session;
    }
    return undefined;
  }

  private track(session: PeerSession): void {
    this.sessions.add(session);
    session.onClose(() => this.sessions.delete(session));
  }

  private accept(socket: Socket, transport: P2PTransportKind): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const session = PeerSession.accept(
      socket,
      {
        me: this.options.me,
        transport,
        resolvePeer: (userId, username) => this.options.resolvePeer(userId, username),
        admit: (peer) => {
          let count = 0;
          for (const other of this.sessions)
            if (other !== session && other.isReady && other.peer.user_id === peer.user_id) count++;
          if (count >= this.maxSessionsPerUser)
            throw new PeerRefusal(
              'too_many_connections',
              `at most ${this.maxSessionsPerUser} connections per user`,
            );
        },
      },
      this.options.handler,
      this.limits,
    );
    this.track(session);
    session.whenReady().then(
      () => {
        // The session may close between its handshake and this callback; `peer` then throws,
        // and a throw here would be an unhandled rejection that ends the whole process.
        if (!session.isReady) return;
        this.options.logger.debug('peer connected', {
          peer: session.peer.username,
          remote: session.remote,
        });
      },
      () => undefined,
    );
  }
}
