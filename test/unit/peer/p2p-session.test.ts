/**
 * Peer sessions over real loopback TLS, without a directory: the handshake, both request
 * directions, and what a hostile dialer or listener gets (impostor keys, no certificate, plain
 * TCP, garbage, oversize frames, requests before the handshake, floods), and what a relay in
 * the middle sees and can do.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../../src/identity/keys.js';
import { P2PNode } from '../../../src/peer/p2p-node.js';
import {
  DEFAULT_SESSION_LIMITS,
  PeerRefusal,
  PeerSession,
  type LocalPeer,
  type PeerIdentity,
  type RequestHandler,
} from '../../../src/peer/p2p-session.js';
import { p2pTransport, type P2PTransport } from '../../../src/peer/p2p-tls.js';
import { encodeFrame } from '../../../src/protocol/frame.js';
import { PEER_LIMITS } from '../../../src/protocol/peer-protocol.js';
import { createLogger } from '../../../src/util/log.js';
import { rawPeerClient, startRelay, type Relay } from '../../helpers/p2p-wire.js';
import { Signal } from '../../helpers/signal.js';

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

const transports = new Map<LocalPeer, Promise<P2PTransport>>();
const tlsOf = (me: LocalPeer): Promise<P2PTransport> => {
  if (!transports.has(me)) transports.set(me, p2pTransport('tls', me));
  return transports.get(me) as Promise<P2PTransport>;
};

const echo: RequestHandler = async (session, message) => {
  if (message.type === 'RequestNotice')
    return { message: { type: 'Ack', detail: `from ${session.peer.username}` } };
  throw new PeerRefusal('unsupported', `${message.type} is not served here`);
};

const nodes: P2PNode[] = [];
const relays: Relay[] = [];
afterEach(async () => {
  for (const relay of relays.splice(0)) relay.close();
  await Promise.all(nodes.splice(0).map((n) => n.close()));
});

const rawClient = (port: number, as: LocalPeer | null = alice, tls = true) =>
  rawPeerClient(port, as, { tls });
const relay = async (port: number): Promise<Relay> => {
  const started = await startRelay(port);
  relays.push(started);
  return started;
};

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

async function dial(port: number, me: LocalPeer, expected: PeerIdentity): Promise<PeerSession> {
  return PeerSession.dial({
    host: '127.0.0.1',
    port,
    me,
    expected,
    handler: echo,
    transport: await tlsOf(me),
  });
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
    const session = await dial(port, alice, asPeer(bob));
    expect(session.isReady).toBe(true);
    const reply = await session.request({ type: 'RequestNotice', request_id: alice.user_id });
    expect(reply.message).toEqual({ type: 'Ack', detail: 'bob heard back: from bob' });
    expect(seenByBob).toEqual(['alice:RequestNotice']);
    session.close('done');
  });

  it('refuses a listener whose TLS key is not the expected user’s, before saying anything', async () => {
    const { port } = await listener(mallory);
    await expect(dial(port, alice, asPeer(bob))).rejects.toThrow(
      /does not hold bob's registered key/,
    );
    // Mallory's node announcing itself as bob, with mallory's key: the same.
    const { port: impostor } = await listener({ ...bob, keys: mallory.keys });
    await expect(dial(impostor, alice, asPeer(bob))).rejects.toThrow(
      /does not hold bob's registered key/,
    );
  });

  it('refuses a listener holding the right key but naming another user', async () => {
    const { port } = await listener({ ...mallory, keys: bob.keys });
    await expect(dial(port, alice, asPeer(bob))).rejects.toThrow(/is mallory .* not bob/);
  });

  it('refuses a dialer that claims another user (wrong key), with a clear error', async () => {
    const { port } = await listener(bob);
    const impostor = { ...alice, keys: mallory.keys };
    await expect(dial(port, impostor, asPeer(bob))).rejects.toThrow(/not alice's registered key/);
  });

  it('refuses a dialer without a certificate, and one speaking plain TCP', async () => {
    const { port } = await listener(bob);
    const anonymous = await rawClient(port, null);
    anonymous.send({ type: 'PeerHello', user_id: alice.user_id, username: 'alice' });
    expect(await anonymous.next()).toMatchObject({ type: 'PeerError', code: 'wrong_key' });
    expect(await anonymous.waitClosed()).toBe(true);
    // Frames in clear never reach the protocol: the TLS handshake fails and the socket closes.
    const plain = await rawClient(port, alice, false);
    plain.send({ type: 'PeerHello', user_id: alice.user_id, username: 'alice' });
    expect(await plain.waitClosed()).toBe(true);
    expect(plain.replies).toEqual([]);
  });

  it('refuses an unknown user and a username that does not match the id', async () => {
    const { port } = await listener(bob);
    const stranger = user('stranger', 4);
    await expect(dial(port, stranger, asPeer(bob))).rejects.toThrow(/no user/);
    const c = await rawClient(port, alice);
    c.send({ type: 'PeerHello', user_id: alice.user_id, username: 'mallory' });
    expect(await c.next()).toMatchObject({ type: 'PeerError', code: 'wrong_user' });
    expect(await c.waitClosed()).toBe(true);
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

  it('closes a connection that never finishes the handshake (TLS or PeerHello)', async () => {
    const { port } = await listener(bob, echo, { handshakeTimeout_ms: 200 });
    const silent = await rawClient(port);
    expect(await silent.next()).toMatchObject({ type: 'PeerError', code: 'handshake_timeout' });
    expect(await silent.waitClosed()).toBe(true);
    const noTls = await rawClient(port, alice, false);
    expect(await noTls.waitClosed()).toBe(true);
  });

  it('a dialer whose handshake the listener gave up on says why (the listener’s reason), never answering the error', async () => {
    // bob's directory lookup of alice never finishes: bob's handshake deadline ends the
    // connection with a PeerError that answers no request (id 0). Alice waits longer than bob.
    const node = new P2PNode({
      me: bob,
      logger,
      handler: echo,
      resolvePeer: () => new Promise<PeerIdentity>(() => undefined),
      sessionLimits: { handshakeTimeout_ms: 1500 },
    });
    nodes.push(node);
    const { port } = await node.listen('127.0.0.1');
    const dialing = PeerSession.dial({
      host: '127.0.0.1',
      port,
      me: alice,
      expected: asPeer(bob),
      handler: echo,
      transport: await tlsOf(alice),
      limits: { ...DEFAULT_SESSION_LIMITS, handshakeTimeout_ms: 120_000 },
    });
    const error = await dialing.then(
      () => null,
      (err: unknown) => String(err),
    );
    expect(error).toMatch(
      /closed before the reply \(the peer closed the connection: handshake_timeout/,
    );
    expect(error).not.toMatch(/unexpected_message/);
  });

  it('a dial that completes after its agent stopped is closed, not kept open to the other side', async () => {
    const helloReached = new Signal();
    let asked = false;
    let admitAlice: () => void = () => undefined;
    const admitted = new Promise<void>((resolve) => (admitAlice = resolve));
    const bobNode = new P2PNode({
      me: bob,
      logger,
      handler: echo,
      resolvePeer: async (userId) => {
        asked = true;
        helloReached.changed();
        await admitted; // bob's directory lookup of alice takes a while
        return identities.get(userId) as PeerIdentity;
      },
    });
    nodes.push(bobNode);
    const { port } = await bobNode.listen('127.0.0.1');
    const aliceNode = new P2PNode({
      me: alice,
      logger,
      handler: echo,
      resolvePeer: async () => asPeer(bob),
    });
    nodes.push(aliceNode);
    const outcome = aliceNode.connect({ ...asPeer(bob), address: '127.0.0.1', port }).then(
      (session) => `connected (open: ${session.isOpen})`,
      (err: unknown) => String(err),
    );
    await helloReached.until(() => asked, "alice's PeerHello at bob");
    await aliceNode.close(); // alice signs out while her handshake waits on bob
    admitAlice();
    expect(await outcome).toMatch(/shutting down/);
    expect(aliceNode.connectionCount).toBe(0);
  });

  it('limits the message rate and closes a flooding peer', async () => {
    const { port } = await listener(bob, echo, { messagesPerSecond: 5, messageBurst: 5 });
    const session = await dial(port, alice, asPeer(bob));
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
    const session = await dial(port, alice, asPeer(bob));
    await expect(session.request({ type: 'PreviewListRequest' })).rejects.toThrow(
      /PreviewListRequest is not served here/,
    );
    session.close('done');
  });
});

describe('a relay between two agents', () => {
  const SECRET_TITLE = 'Holiday at the secret beach';
  const preview = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(3000, 'P')]);
  const serving: RequestHandler = async (_session, message) => {
    if (message.type === 'PreviewListRequest')
      return {
        message: {
          type: 'PreviewList',
          images: [
            {
              image_id: 'isecret1',
              title: SECRET_TITLE,
              width: 10,
              height: 10,
              preview_size_bytes: preview.length,
            },
          ],
        },
      };
    if (message.type === 'PreviewRequest')
      return {
        message: {
          type: 'Preview',
          image_id: message.image_id,
          media_type: 'image/jpeg',
          width: 10,
          height: 10,
          size_bytes: preview.length,
        },
        binary: preview,
      };
    return echo(_session, message, new Uint8Array());
  };

  it('sees no names, titles, ids or preview bytes', async () => {
    const { port } = await listener(bob, serving);
    const middle = await relay(port);
    const session = await dial(middle.port, alice, asPeer(bob));
    const list = await session.request({ type: 'PreviewListRequest' });
    expect(list.message).toMatchObject({ images: [{ title: SECRET_TITLE }] });
    const got = await session.request({ type: 'PreviewRequest', image_id: 'isecret1' });
    expect(Buffer.from(got.binary).equals(preview)).toBe(true);
    await session.request({ type: 'RequestNotice', request_id: alice.user_id });
    session.close('done');
    const seen = middle.bytes();
    expect(seen.length).toBeGreaterThan(preview.length);
    for (const plaintext of [
      SECRET_TITLE,
      'isecret1',
      'PreviewList',
      'RequestNotice',
      'alice',
      'bob',
      alice.user_id,
      'P'.repeat(32),
    ])
      expect(seen.includes(Buffer.from(plaintext)), plaintext).toBe(false);
  });

  it('cannot change one byte without breaking the connection', async () => {
    const { port } = await listener(bob, serving);
    const middle = await relay(port);
    const session = await dial(middle.port, alice, asPeer(bob));
    await session.request({ type: 'PreviewListRequest' });
    // Flip a bit well after the handshake, inside the preview's bytes.
    middle.flipAt('to_dialer', middle.relayed('to_dialer') + 1500);
    await expect(session.request({ type: 'PreviewRequest', image_id: 'isecret1' })).rejects.toThrow(
      /closed/,
    );
    expect(session.isOpen).toBe(false);
  });
});
