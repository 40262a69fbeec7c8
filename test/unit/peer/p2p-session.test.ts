/**
 * Peer sessions over real loopback TCP, without a directory: the handshake, both request
 * directions, and what a hostile dialer gets (impostor keys, replayed signatures, garbage,
 * oversize frames, requests before the handshake, floods).
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity, sign } from '../../../src/identity/keys.js';
import { P2PNode } from '../../../src/peer/p2p-node.js';
import {
  PeerRefusal,
  PeerSession,
  type LocalPeer,
  type PeerIdentity,
  type RequestHandler,
} from '../../../src/peer/p2p-session.js';
import { toHex } from '../../../src/protocol/directory-protocol.js';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';
import { encodeFrame } from '../../../src/protocol/frame.js';
import {
  P2P_CLUSTER_ID,
  PEER_LIMITS,
  authBytes,
  createPeerCodec,
  type PeerMessage,
} from '../../../src/protocol/peer-protocol.js';
import { createLogger } from '../../../src/util/log.js';

const codec = createPeerCodec();
const logger = createLogger('test', { level: 'error' });

function user(username: string, n: number): LocalPeer {
  return {
    user_id: `${String(n).repeat(8)}-0000-4000-8000-000000000000`,
    username,
    keys: generateIdentity(),
  };
}
const alice = user('alice', 1);
const bob = user('bob', 2);
const mallory = user('mallory', 3);
const identities = new Map<string, PeerIdentity>(
  [alice, bob, mallory].map((u) => [u.user_id, { ...u, public_key: u.keys.publicKey }]),
);
const asPeer = (u: LocalPeer): PeerIdentity => identities.get(u.user_id) as PeerIdentity;

const echo: RequestHandler = async (session, message) => {
  if (message.type === 'RequestNotice')
    return { message: { type: 'Ack', detail: `from ${session.peer.username}` } };
  throw new PeerRefusal('unsupported', `${message.type} is not served here`);
};

const nodes: P2PNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close()));
});

async function listener(me: LocalPeer, handler: RequestHandler = echo, limits = {}) {
  const node = new P2PNode({
    me,
    logger,
    handler,
    resolvePeer: async (userId, username) => {
      const peer = identities.get(userId);
      if (!peer) throw new PeerRefusal('not_found', `no user ${userId}`);
      if (peer.username !== username) throw new PeerRefusal('wrong_user', 'name mismatch');
      return peer;
    },
    sessionLimits: limits,
  });
  nodes.push(node);
  const address = await node.listen('127.0.0.1');
  return { node, port: address.port };
}

/** A raw socket speaking frames by hand; collects decoded replies. */
async function rawClient(port: number) {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await new Promise((resolve) => socket.once('connect', resolve));
  const decoder = new FrameDecoder({ maxBodyBytes: 1 << 20, maxMetaBytes: 1 << 20 });
  const replies: Array<{ message: PeerMessage; requestId: number }> = [];
  let closed = false;
  socket.on('data', (chunk) => {
    for (const frame of decoder.push(chunk)) {
      const decoded = codec.decode(frame, P2P_CLUSTER_ID);
      if (!('failure' in decoded))
        replies.push({ message: decoded.message, requestId: decoded.requestId });
    }
  });
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined);
  const send = (message: PeerMessage, requestId = 1): void =>
    void socket.write(codec.encode(message, { clusterId: P2P_CLUSTER_ID, requestId }));
  const next = async (): Promise<PeerMessage> => {
    for (let i = 0; i < 100 && replies.length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    const reply = replies.shift();
    if (!reply) throw new Error('no reply');
    return reply.message;
  };
  const waitClosed = async (): Promise<boolean> => {
    for (let i = 0; i < 100 && !closed; i++) await new Promise((r) => setTimeout(r, 20));
    return closed;
  };
  return { socket, send, next, waitClosed };
}

describe('peer sessions', () => {
  it('authenticate both ways and carry requests in both directions on one connection', async () => {
    const seenByBob: string[] = [];
    const { port } = await listener(bob, async (session, message) => {
      seenByBob.push(`${session.peer.username}:${message.type}`);
      // Bob asks alice something back over the same connection before answering.
      const back = await session.request({ type: 'RequestNotice', request_id: bob.user_id });
      return {
        message: {
          type: 'Ack',
          detail: `bob heard back: ${(back.message as { detail?: string }).detail}`,
        },
      };
    });
    const session = await PeerSession.dial('127.0.0.1', port, alice, asPeer(bob), echo);
    expect(session.isReady).toBe(true);
    const reply = await session.request({ type: 'RequestNotice', request_id: alice.user_id });
    expect(reply.message).toEqual({ type: 'Ack', detail: 'bob heard back: from bob' });
    expect(seenByBob).toEqual(['alice:RequestNotice']);
    session.close('done');
  });

  it('refuses a listener that is not who the dialer expected', async () => {
    const { port } = await listener(mallory);
    await expect(PeerSession.dial('127.0.0.1', port, alice, asPeer(bob), echo)).rejects.toThrow(
      /is mallory .* not bob/,
    );
  });

  it('refuses a listener that claims an identity it cannot sign for', async () => {
    // Mallory's node announces itself as bob but holds mallory's key.
    const impostor = { ...bob, keys: mallory.keys };
    const { port } = await listener(impostor);
    await expect(PeerSession.dial('127.0.0.1', port, alice, asPeer(bob), echo)).rejects.toThrow(
      /cannot prove it/,
    );
  });

  it('refuses a dialer that claims another user (wrong key), with a clear error', async () => {
    const { port } = await listener(bob);
    const impostor = { ...alice, keys: mallory.keys };
    await expect(PeerSession.dial('127.0.0.1', port, impostor, asPeer(bob), echo)).rejects.toThrow(
      /not signed by alice's key/,
    );
  });

  it('refuses an unknown user and a username that does not match the id', async () => {
    const { port } = await listener(bob);
    const stranger = user('stranger', 4);
    await expect(PeerSession.dial('127.0.0.1', port, stranger, asPeer(bob), echo)).rejects.toThrow(
      /no user/,
    );
    const c = await rawClient(port);
    c.send({
      type: 'PeerHello',
      user_id: alice.user_id,
      username: 'mallory',
      nonce: 'a'.repeat(64),
    });
    expect(await c.next()).toMatchObject({ type: 'PeerError', code: 'wrong_user' });
    expect(await c.waitClosed()).toBe(true);
  });

  it('refuses a replayed PeerAuth signature from an earlier connection', async () => {
    const { port } = await listener(bob);
    // First connection: alice's genuine handshake; keep the signature she sent.
    const first = await rawClient(port);
    first.send({
      type: 'PeerHello',
      user_id: alice.user_id,
      username: 'alice',
      nonce: 'a'.repeat(64),
    });
    const welcome = (await first.next()) as Extract<PeerMessage, { type: 'PeerWelcome' }>;
    const signature = toHex(sign(alice.keys, authBytes(welcome.nonce, bob.user_id, alice.user_id)));
    first.send({ type: 'PeerAuth', signature }, 3);
    expect(await first.next()).toEqual({ type: 'Ack' });
    first.socket.destroy();
    // Second connection: an eavesdropper replays it; bob chose a new nonce, so it fails.
    const second = await rawClient(port);
    second.send({
      type: 'PeerHello',
      user_id: alice.user_id,
      username: 'alice',
      nonce: 'a'.repeat(64),
    });
    expect(await second.next()).toMatchObject({ type: 'PeerWelcome' });
    second.send({ type: 'PeerAuth', signature }, 3);
    expect(await second.next()).toMatchObject({ type: 'PeerError', code: 'bad_signature' });
    expect(await second.waitClosed()).toBe(true);
  });

  it('answers requests before the handshake with an error and closes', async () => {
    const { port } = await listener(bob);
    const c = await rawClient(port);
    c.send({ type: 'CopyFetch', image_id: 'i1', offset: 0, length: 10 });
    expect(await c.next()).toMatchObject({ type: 'PeerError', code: 'handshake_required' });
    expect(await c.waitClosed()).toBe(true);
  });

  it('answers garbage bytes and oversize frames with an error and closes', async () => {
    const { port } = await listener(bob);
    const garbage = await rawClient(port);
    garbage.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(await garbage.next()).toMatchObject({ type: 'PeerError', code: 'bad_magic' });
    expect(await garbage.waitClosed()).toBe(true);

    const huge = await rawClient(port);
    const header = encodeFrame(
      { type: 1, clusterId: 0, requestId: 1, epoch: 0 },
      new Uint8Array(2),
    );
    // Claim a body far above the limit: refused from the header alone.
    new DataView(header.buffer, header.byteOffset).setUint32(
      4,
      PEER_LIMITS.max_frame_body_bytes + 1,
    );
    huge.socket.write(header.subarray(0, 28));
    expect(await huge.next()).toMatchObject({ type: 'PeerError', code: 'oversize_frame' });
    expect(await huge.waitClosed()).toBe(true);
  });

  it('closes a connection that never finishes the handshake', async () => {
    const { port } = await listener(bob, echo, { handshakeTimeout_ms: 200 });
    const c = await rawClient(port);
    expect(await c.next()).toMatchObject({ type: 'PeerError', code: 'handshake_timeout' });
    expect(await c.waitClosed()).toBe(true);
  });

  it('limits the message rate and closes a flooding peer', async () => {
    const { port } = await listener(bob, echo, { messagesPerSecond: 5, messageBurst: 5 });
    const session = await PeerSession.dial('127.0.0.1', port, alice, asPeer(bob), echo);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () =>
        session.request({ type: 'RequestNotice', request_id: alice.user_id }, { timeout_ms: 2000 }),
      ),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    expect(String((refused[0] as PromiseRejectedResult).reason)).toMatch(/rate_limited|closed/);
  });

  it('passes refusals from the handler back to the caller', async () => {
    const { port } = await listener(bob);
    const session = await PeerSession.dial('127.0.0.1', port, alice, asPeer(bob), echo);
    await expect(session.request({ type: 'PreviewListRequest' })).rejects.toThrow(
      /PreviewListRequest is not served here/,
    );
    session.close('done');
  });
});
