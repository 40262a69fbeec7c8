/**
 * Hostile and broken input against real agents (three cloud servers, agents alice, bob and
 * carol): garbage and oversize frames at a P2P listener, impostors without the key they claim,
 * frames in clear,
 * peers asking for what is not theirs, forged or stale rights updates, a peer serving a
 * corrupted copy, and signed directory requests that act for someone else.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity, sign } from '../../src/identity/keys.js';
import type { PeerAgent } from '../../src/peer/agent.js';
import { readCopy, rightsUpdateBytes } from '../../src/peer/copies.js';
import { DEFAULT_OFFLINE_ALLOWANCE } from '../../src/peer/offline-allowance.js';
import { DirectoryClient } from '../../src/peer/directory-client.js';
import { P2PNode } from '../../src/peer/p2p-node.js';
import { PeerRefusal, PeerSession, type LocalPeer } from '../../src/peer/p2p-session.js';
import { toHex } from '../../src/protocol/directory-protocol.js';
import { p2pTransport } from '../../src/peer/p2p-tls.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { PEER_LIMITS } from '../../src/protocol/peer-protocol.js';
import { createLogger } from '../../src/util/log.js';
import { rawPeerClient } from '../helpers/p2p-wire.js';
import {
  PHOTO,
  agentFor,
  dataDirOf,
  eventOf,
  startPeerWorld,
  type PeerWorld,
} from './peer-fixture.js';
import { TEST_TIMEOUT_MS } from './helpers/cluster-fixture.js';

let world: PeerWorld;
let alice: PeerAgent;
let bob: PeerAgent;
let carol: PeerAgent;
let imageId: string;

const local = (agent: PeerAgent): LocalPeer => ({
  user_id: agent.identity.user_id,
  username: agent.identity.username,
  keys: agent.identity.keys,
});
const asPeer = (agent: PeerAgent) => ({
  user_id: agent.identity.user_id,
  username: agent.identity.username,
  public_key: agent.identity.keys.publicKey,
});
const portOf = (agent: PeerAgent): number => agent.p2pAddress?.port as number;
const refuseAll = async (): Promise<never> => {
  throw new PeerRefusal('unsupported', 'nothing served here');
};

beforeAll(async () => {
  world = await startPeerWorld();
  alice = await agentFor(world, 'alice');
  bob = await agentFor(world, 'bob');
  carol = await agentFor(world, 'carol');
  imageId = (await alice.encrypt(PHOTO, 'Photo')).image.image_id;
  await alice.setGrant(imageId, 'bob', 3);
  await eventOf(bob, 'image-received', (e) => e.image_id === imageId);
}, TEST_TIMEOUT_MS);
afterAll(async () => world?.cleanup(), 60_000);

/** A client speaking frames by hand over TLS, as a stranger with a key of its own. */
const raw = async (port: number) => {
  const client = await rawPeerClient(port, { username: 'stranger', keys: generateIdentity() });
  return { ...client, closed: client.waitClosed };
};

/** An authenticated session from `from`'s identity to `to`'s listener. */
async function dialAs(from: PeerAgent | LocalPeer, to: PeerAgent): Promise<PeerSession> {
  const me = 'identity' in from ? local(from) : from;
  return PeerSession.dial({
    host: '127.0.0.1',
    port: portOf(to),
    me,
    expected: asPeer(to),
    handler: refuseAll,
    transport: await p2pTransport('tls', me),
  });
}

describe('a P2P listener under hostile input', () => {
  it('answers garbage with an error and closes, and keeps serving others', async () => {
    const c = await raw(portOf(bob));
    c.socket.write(Buffer.from('\x00\x01garbage garbage garbage garbage garbage'));
    expect(await c.next()).toMatchObject({ type: 'PeerError', code: 'bad_magic' });
    expect(await c.closed()).toBe(true);
    expect((await carol.previews('alice')).length).toBe(1); // the agents are fine
  });

  it('refuses an oversize frame from its header', async () => {
    const c = await raw(portOf(alice));
    const header = encodeFrame(
      { type: 1, clusterId: 0, requestId: 1, epoch: 0 },
      new Uint8Array(2),
    );
    new DataView(header.buffer, header.byteOffset).setUint32(
      4,
      PEER_LIMITS.max_frame_body_bytes * 4,
    );
    c.socket.write(header.subarray(0, 28));
    expect(await c.next()).toMatchObject({ type: 'PeerError', code: 'oversize_frame' });
    expect(await c.closed()).toBe(true);
  });

  it('refuses malformed messages and requests before the handshake', async () => {
    const c = await raw(portOf(alice));
    c.socket.write(
      encodeFrame(
        { type: 1, clusterId: 0, requestId: 1, epoch: 0 },
        new TextEncoder().encode(
          JSON.stringify({ type: 'PeerHello', user_id: 'x', username: 'y' }),
        ),
      ),
    );
    expect(await c.next()).toMatchObject({ type: 'PeerError', code: 'invalid_message' });
    const d = await raw(portOf(alice));
    d.send({ type: 'PreviewListRequest' });
    expect(await d.next()).toMatchObject({ type: 'PeerError', code: 'handshake_required' });
  });

  it('refuses a user the directory does not know', async () => {
    const stranger: LocalPeer = {
      user_id: '00000000-0000-4000-8000-000000000001',
      username: 'stranger',
      keys: generateIdentity(),
    };
    await expect(dialAs(stranger, alice)).rejects.toThrow(/no user/);
  });

  it('refuses a peer that claims to be bob without bob’s key (wrong user)', async () => {
    const impostor = { ...local(bob), keys: generateIdentity() };
    await expect(dialAs(impostor, alice)).rejects.toThrow(/not bob's registered key/);
  });

  it('refuses a PeerHello naming bob on a connection that did not prove bob’s key', async () => {
    const c = await raw(portOf(alice));
    c.send({ type: 'PeerHello', ...pick(local(bob)) });
    expect(await c.next()).toMatchObject({ type: 'PeerError', code: 'wrong_key' });
    expect(await c.closed()).toBe(true);
  });

  it('reads nothing sent in clear: no TLS, no protocol', async () => {
    const c = await rawPeerClient(portOf(bob), local(alice), { tls: false });
    c.send({ type: 'PeerHello', ...pick(local(alice)) });
    expect(await c.waitClosed()).toBe(true);
    expect(c.replies).toEqual([]);
    expect((await carol.previews('alice')).length).toBe(1); // the agents are fine
  });
});

function pick(peer: LocalPeer) {
  return { user_id: peer.user_id, username: peer.username };
}

describe('authenticated peers asking for what is not theirs', () => {
  it('gives carol no copy of the image granted to bob', async () => {
    const session = await dialAs(carol, alice);
    await expect(
      session.request({ type: 'CopyFetch', image_id: imageId, offset: 0, length: 1024 }),
    ).rejects.toThrow(/no copy of .* for carol/);
    await expect(session.request({ type: 'PreviewRequest', image_id: 'nosuch' })).rejects.toThrow(
      /offers no image nosuch/,
    );
    session.close('done');
  });

  it('refuses rights updates not signed by the owner over bob’s copy, and ignores stale ones', async () => {
    const before = bob.received().find((r) => r.image_id === imageId);
    // Carol tries to change bob's quota of alice's image: she is not the owner.
    const asCarol = await dialAs(carol, bob);
    const forged = {
      type: 'RightsUpdate' as const,
      image_id: imageId,
      quota: 1000,
      version: 50,
      revoked: false,
      signature: toHex(new Uint8Array(64)),
    };
    await expect(asCarol.request(forged)).rejects.toThrow(/holds no copy of carol/);
    asCarol.close('done');
    // Even over a session authenticated as alice, the update itself must carry her signature.
    const asAlice = await dialAs(alice, bob);
    const copy = await readCopy(
      readFileSync(
        dataDirOf(world, 'bob').path('received', alice.identity.user_id, `${imageId}.png`),
      ),
    );
    const byCarolsKey = sign(
      carol.identity.keys,
      rightsUpdateBytes({
        owner: 'alice',
        imageId,
        viewer: 'bob',
        quota: 1000,
        revoked: false,
        version: 50,
        imageDigest: copy.imageDigest,
        offline: DEFAULT_OFFLINE_ALLOWANCE,
      }),
    );
    await expect(asAlice.request({ ...forged, signature: toHex(byCarolsKey) })).rejects.toThrow(
      /not signed by alice for this copy/,
    );
    // A genuine but old update (version 1, the copy's own) changes nothing.
    const old = sign(
      alice.identity.keys,
      rightsUpdateBytes({
        owner: 'alice',
        imageId,
        viewer: 'bob',
        quota: 3,
        revoked: false,
        version: 1,
        imageDigest: copy.imageDigest,
        // The copy was made with the default allowance; a rights update signs it unchanged.
        offline: DEFAULT_OFFLINE_ALLOWANCE,
      }),
    );
    const stale = await asAlice.request({ ...forged, quota: 3, version: 1, signature: toHex(old) });
    expect(stale.message).toMatchObject({ type: 'Ack', detail: 'already up to date' });
    expect(bob.received().find((r) => r.image_id === imageId)).toEqual(before);
    asAlice.close('done');
  });

  it('refuses a corrupted copy from a misbehaving owner agent and keeps nothing', async () => {
    // A node holding alice's real key serves garbage chunks for a copy bob has no grant for.
    const fake = new P2PNode({
      me: local(alice),
      logger: createLogger('fake', { level: 'error' }),
      resolvePeer: async () => asPeer(bob),
      handler: async (_session, message) => {
        if (message.type !== 'CopyFetch') throw new PeerRefusal('unsupported', 'no');
        const bytes = new Uint8Array(Math.min(message.length, 1000)).fill(7);
        return {
          message: {
            type: 'CopyPart',
            image_id: message.image_id,
            version: 1,
            total_bytes: 1000,
            sha256: 'e'.repeat(64),
            offset: message.offset,
            size_bytes: bytes.length,
          },
          binary: bytes,
        };
      },
    });
    try {
      const session = await fake.connect({
        ...asPeer(bob),
        address: '127.0.0.1',
        port: portOf(bob),
      });
      await expect(
        session.request({ type: 'CopyAvailable', image_id: 'bogus', version: 1 }),
      ).rejects.toThrow(/does not match its SHA-256/);
      expect(bob.received().map((r) => r.image_id)).not.toContain('bogus');
    } finally {
      await fake.close();
    }
  });
});

describe('signed directory requests acting for someone else', () => {
  it('cannot answer, report views for, or read another user’s grants', async () => {
    const client = new DirectoryClient({ servers: world.servers, requestTimeout_ms: 2000 });
    client.actAs(carol.identity.user_id, carol.identity.keys);
    try {
      const request = await bob.request('alice', imageId, 1);
      await expect(
        client.call('answer_request', {
          request_id: request.request.request_id,
          decision: 'accepted',
        }),
      ).rejects.toMatchObject({
        code: 'denied',
      });
      await expect(
        client.call('record_views', {
          owner_id: alice.identity.user_id,
          image_id: imageId,
          consumed: 0,
        }),
      ).rejects.toMatchObject({ code: 'not_found' }); // carol holds no such grant
      // Signing as bob with carol's key fails at the signature.
      client.actAs(bob.identity.user_id, carol.identity.keys);
      await expect(client.call('list_grants', { role: 'viewer' })).rejects.toMatchObject({
        code: 'denied',
      });
    } finally {
      client.close();
    }
  });
});
