/**
 * Users' secrets against an attacker on the network (issue 11), with real agents and three real
 * servers: a man in the middle relays every P2P byte between alice's and bob's agents. He learns
 * nothing readable, and a byte he alters breaks the session, never a preview or a copy.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PeerAgent } from '../../src/peer/agent.js';
import { freePort, startRelay, type Relay } from '../helpers/p2p-wire.js';
import {
  PHOTO,
  SMALL_PNG,
  agentFor,
  dataDirOf,
  eventOf,
  startPeerWorld,
  type PeerWorld,
} from './peer-fixture.js';

let world: PeerWorld;
let alice: PeerAgent;
let bob: PeerAgent;
/** In front of alice's listener, and of bob's: every P2P connection passes one of them. */
let toAlice: Relay;
let toBob: Relay;

/** Starts `user`'s agent behind a relay: the directory publishes the relay's port. */
async function behindRelay(user: string): Promise<{ agent: PeerAgent; relay: Relay }> {
  const port = await freePort();
  const relay = await startRelay(port);
  const agent = await agentFor(world, user, { listenPort: port, advertisePort: relay.port });
  return { agent, relay };
}

beforeAll(async () => {
  world = await startPeerWorld();
  ({ agent: alice, relay: toAlice } = await behindRelay('alice'));
  ({ agent: bob, relay: toBob } = await behindRelay('bob'));
}, 120_000);
afterAll(async () => {
  toAlice?.close();
  toBob?.close();
  await world?.cleanup();
}, 60_000);

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
/** A 64-byte window from the middle of `bytes`: what a reader of the stream would find. */
const middleOf = (bytes: Uint8Array): Buffer =>
  Buffer.from(bytes).subarray(bytes.length >> 1, (bytes.length >> 1) + 64);

describe('a man in the middle between two agents', () => {
  const TITLE = 'Our secret beach, summer';
  let imageId: string;

  it('learns nothing readable from previews, requests and copies', async () => {
    imageId = (await alice.encrypt(PHOTO, TITLE)).image.image_id;
    const previews = await bob.previews('alice');
    expect(previews.map((p) => p.title)).toEqual([TITLE]);
    const preview = await bob.preview('alice', imageId);
    const created = await bob.request('alice', imageId, 2);
    expect(created.owner_notified).toBe(true); // told over P2P, through the relay
    await eventOf(alice, 'request-received', (e) => e.request.image_id === imageId);
    await alice.answer(created.request.request_id, 'accepted');
    await eventOf(bob, 'image-received', (e) => e.image_id === imageId);
    const copy = readFileSync(
      dataDirOf(world, 'bob').path('received', alice.identity.user_id, `${imageId}.png`),
    );
    // Sessions are reused both ways: bob's connection to alice may carry everything.
    expect(toAlice.connections() + toBob.connections()).toBeGreaterThan(0);
    const seen = Buffer.concat([toAlice.bytes(), toBob.bytes()]);
    expect(seen.length).toBeGreaterThan(copy.length); // the copy went through a relay
    const secrets: Array<[string, Buffer]> = [
      ['title', Buffer.from(TITLE)],
      ['image id', Buffer.from(imageId)],
      ['request id', Buffer.from(created.request.request_id)],
      ["alice's user id", Buffer.from(alice.identity.user_id)],
      ["bob's user id", Buffer.from(bob.identity.user_id)],
      ['a username', Buffer.from('alice')],
      ['a message type', Buffer.from('CopyFetch')],
      ['preview bytes', middleOf(preview)],
      ['copy bytes', middleOf(copy)],
    ];
    for (const [what, bytes] of secrets) expect(seen.includes(bytes), what).toBe(false);
  });

  it('breaks the session by altering one byte of a preview; the preview is never wrong', async () => {
    const genuine = await bob.preview('alice', imageId); // cached by bob's agent now
    const other = (await alice.encrypt(SMALL_PNG, 'Other')).image.image_id;
    const closedBefore = toAlice.connections();
    toAlice.flipAt('to_dialer', toAlice.relayed('to_dialer') + 600);
    await expect(bob.preview('alice', other)).rejects.toThrow(/closed|unreachable|timed out/i);
    // Asked again on a new connection: the genuine preview.
    const fresh = await bob.preview('alice', other);
    expect(fresh[0]).toBe(0xff);
    expect(toAlice.connections()).toBeGreaterThan(closedBefore);
    expect(same(await bob.preview('alice', imageId), genuine)).toBe(true);
  });

  it('breaks the session by altering one byte of a copy; the copy arrives intact later', async () => {
    const id = (await alice.encrypt(PHOTO, 'Another')).image.image_id;
    const created = await bob.request('alice', id, 1);
    await eventOf(alice, 'request-received', (e) => e.request.image_id === id);
    // Alice says the copy is ready over a session to bob (the one bob opened through alice's
    // relay, or hers through bob's); bob pulls it over that session: the copy's bytes travel
    // towards bob. Flip one 100 kB into them, whichever relay carries them.
    toAlice.flipAt('to_dialer', toAlice.relayed('to_dialer') + 100_000);
    toBob.flipAt('to_listener', toBob.relayed('to_listener') + 100_000);
    const connectionsBefore = toAlice.connections() + toBob.connections();
    const answer = await alice.answer(created.request.request_id, 'accepted');
    expect(answer.grant?.delivery).toBe('pending'); // the session broke: the copy waits
    toAlice.flipAt('to_dialer', null);
    toBob.flipAt('to_listener', null);
    await eventOf(bob, 'image-received', (e) => e.image_id === id, 30_000);
    // Delivered on a new connection, and intact.
    expect(toAlice.connections() + toBob.connections()).toBeGreaterThan(connectionsBefore);
    const view = await bob.view('alice', id);
    expect(view.record).toMatchObject({ verdict: 'shown', views_left: 0 });
    expect(same(view.image, PHOTO)).toBe(true);
  });
});
