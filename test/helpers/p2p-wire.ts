/**
 * Test tools for the P2P wire: a client speaking frames by hand over TLS (with any identity's
 * certificate, or none) or plain TCP, and a relay that sits between two agents, records every
 * byte and can flip one.
 */
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Identity } from '../../src/identity/keys.js';
import { p2pCredentials } from '../../src/peer/p2p-tls.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import {
  P2P_CLUSTER_ID,
  createPeerCodec,
  type PeerMessage,
} from '../../src/protocol/peer-protocol.js';
import { Signal } from './signal.js';

const codec = createPeerCodec();

/**
 * How long a raw client waits for a reply or for the agent to close before the test fails:
 * a deadline for failure only (a healthy agent answers at once); generous for a busy machine.
 */
export const RAW_CLIENT_DEADLINE_MS = 30_000;

/**
 * A client at `port` presenting `as`'s key in TLS (null: no certificate); with `tls: false`, a
 * plain TCP client (whose frames a TLS listener never reads).
 */
export async function rawPeerClient(
  port: number,
  as: { username: string; keys: Identity } | null,
  options: { tls?: boolean } = {},
) {
  const tls = options.tls ?? true;
  let socket: Socket;
  if (tls) {
    const credentials = as ? await p2pCredentials(as.username, as.keys) : null;
    socket = tlsConnect({
      host: '127.0.0.1',
      port,
      minVersion: 'TLSv1.3',
      rejectUnauthorized: false,
      ...(credentials ?? {}),
    });
    await new Promise((resolve) => socket.once('secureConnect', resolve));
  } else {
    socket = netConnect({ host: '127.0.0.1', port });
    await new Promise((resolve) => socket.once('connect', resolve));
  }
  const decoder = new FrameDecoder({ maxBodyBytes: 1 << 20, maxMetaBytes: 1 << 20 });
  const replies: Array<{ message: PeerMessage; requestId: number }> = [];
  let closed = false;
  const signal = new Signal();
  /** Resolves once `done()` holds or the socket closed; fails at the deadline. */
  const until = (done: () => boolean, what: string): Promise<void> =>
    signal.until(() => done() || closed, `the agent's ${what}`, RAW_CLIENT_DEADLINE_MS);
  socket.on('data', (chunk: Buffer) => {
    if (!tls) return;
    for (const frame of decoder.push(chunk)) {
      const decoded = codec.decode(frame, P2P_CLUSTER_ID);
      if (!('failure' in decoded))
        replies.push({ message: decoded.message, requestId: decoded.requestId });
    }
    signal.changed();
  });
  socket.on('close', () => {
    closed = true;
    signal.changed();
  });
  socket.on('error', () => undefined);
  return {
    socket,
    replies,
    send: (message: PeerMessage, requestId = 1): void =>
      void socket.write(codec.encode(message, { clusterId: P2P_CLUSTER_ID, requestId })),
    /** The next reply (already received, or the next to come); fails if the agent closes first. */
    next: async (): Promise<PeerMessage> => {
      await until(() => replies.length > 0, 'reply');
      const reply = replies.shift();
      if (!reply) throw new Error('the agent closed the connection without a reply');
      return reply.message;
    },
    /** Resolves true once the agent closed the connection (fails at the deadline otherwise). */
    waitClosed: async (): Promise<boolean> => {
      await until(() => closed, 'close');
      return closed;
    },
  };
}

export type Direction = 'to_listener' | 'to_dialer';

export interface Relay {
  port: number;
  /** Every byte that passed, both directions. */
  bytes(): Buffer;
  /** Bytes relayed so far in one direction (all connections). */
  relayed(direction: Direction): number;
  /** Connections relayed so far. */
  connections(): number;
  /**
   * Flips one bit of the stream going `direction` at this offset (counted as `relayed`), once;
   * null disarms.
   */
  flipAt(direction: Direction, offset: number | null): void;
  close(): void;
}

/** A man in the middle that relays bytes between dialers and the listener at `port`. */
export async function startRelay(port: number): Promise<Relay> {
  const captured: Buffer[] = [];
  const relayed: Record<Direction, number> = { to_listener: 0, to_dialer: 0 };
  const flips: Record<Direction, number | null> = { to_listener: null, to_dialer: null };
  let connections = 0;
  const sockets = new Set<Socket>();
  const forward = (direction: Direction, chunk: Buffer, to: Socket): void => {
    captured.push(Buffer.from(chunk));
    const out = Buffer.from(chunk);
    const at = flips[direction];
    if (at !== null && at >= relayed[direction] && at < relayed[direction] + chunk.length) {
      out[at - relayed[direction]] = (out[at - relayed[direction]] as number) ^ 0x01;
      flips[direction] = null;
    }
    relayed[direction] += chunk.length;
    to.write(out);
  };
  const server: Server = createServer((inbound) => {
    connections++;
    const outbound = netConnect({ host: '127.0.0.1', port });
    sockets.add(inbound).add(outbound);
    inbound.on('data', (chunk: Buffer) => forward('to_listener', chunk, outbound));
    outbound.on('data', (chunk: Buffer) => forward('to_dialer', chunk, inbound));
    const end = (): void => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    for (const side of [inbound, outbound]) {
      side.on('error', end);
      side.on('close', end);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    bytes: () => Buffer.concat(captured),
    relayed: (direction) => relayed[direction],
    connections: () => connections,
    flipAt: (direction, offset) => {
      flips[direction] = offset;
    },
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

/** A TCP port that was free a moment ago (for a listener that must be known in advance). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}
