/**
 * Use cases 1-10 end to end with real processes: three cloud servers sharing one SQLite
 * directory, and the agents of alice, bob and carol (in this process, over real TCP, with
 * their own data directories). The steps build on each other, in order.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerAgent } from '../../src/peer/agent.js';
import { readCopy, rewriteCopy } from '../../src/peer/copies.js';
import { extractImage } from '../../src/stego/index.js';
import {
  COVER,
  PHOTO,
  SMALL_PNG,
  agentFor,
  dataDirOf,
  eventOf,
  notPrivate,
  openAgent,
  register,
  startPeerWorld,
  until,
  type PeerWorld,
} from './peer-fixture.js';
import { DEADLINE, TEST_TIMEOUT_MS } from './helpers/cluster-fixture.js';

let world: PeerWorld;
let alice: PeerAgent;
let bob: PeerAgent;
let carol: PeerAgent;
let photoId: string;
let smallId: string;

beforeAll(async () => {
  world = await startPeerWorld();
}, TEST_TIMEOUT_MS);
afterAll(async () => world?.cleanup(), 60_000);

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
const copyPath = (viewer: string, owner: PeerAgent, imageId: string): string =>
  dataDirOf(world, viewer).path('received', owner.identity.user_id, `${imageId}.png`);

// Each test waits on the fixture's failure deadlines (a leader after a kill: DEADLINE.start_ms), so
// its own limit is the suite's, not vitest's 30 s default that a busy machine outlasts.
describe('sharing images with view limits', { timeout: TEST_TIMEOUT_MS }, () => {
  it('1. registers users with globally unique ids, once per name and data directory', async () => {
    await register(world, 'alice');
    await register(world, 'bob');
    await register(world, 'carol');
    const ids = ['alice', 'bob', 'carol'].map((u) => dataDirOf(world, u).readIdentity().user_id);
    expect(new Set(ids).size).toBe(3);
    await expect(register(world, 'alice')).rejects.toThrow(/already holds the identity of alice/);
    const other = dataDirOf(world, 'alice-again');
    await expect(
      PeerAgent.register({ dataDir: other, username: 'alice', servers: world.servers }),
    ).rejects.toThrow(/taken|exists|conflict/i);
    for (const user of ['alice', 'bob', 'carol']) expect(notPrivate(world, user)).toEqual([]);
  });

  it('2. signs in with a P2P address the others can see', async () => {
    alice = await agentFor(world, 'alice');
    bob = await agentFor(world, 'bob');
    carol = await agentFor(world, 'carol');
    expect(alice.status()).toMatchObject({ online: true, mode: 'running' });
    const peers = await bob.peers();
    expect(peers.map((p) => p.username).sort()).toEqual(['alice', 'carol']);
    expect(peers.find((p) => p.username === 'alice')?.port).toBe(alice.p2pAddress?.port);
    // agent.sqlite, its WAL and shared memory, agent.json, the lock: the user's only.
    expect(notPrivate(world, 'bob')).toEqual([]);
  });

  it('3. encrypts images through the cloud and offers them', async () => {
    const photo = await alice.encrypt(PHOTO, 'A photo');
    const small = await alice.encrypt(SMALL_PNG, 'Small');
    photoId = photo.image.image_id;
    smallId = small.image.image_id;
    expect(photo.image).toMatchObject({ offered: true, width: 1024, height: 768 });
    expect(photo.image.preview.width).toBeLessThanOrEqual(160);
    // The stored copy is a stego PNG whose image only alice can open.
    const stego = alice.ownStego(photoId);
    const payload = await extractImage(stego);
    expect(payload.sealedImage).toBeDefined();
    expect(payload.rights?.owner).toBe('alice');
    const own = await alice.view('alice', photoId);
    expect(own.record).toMatchObject({ verdict: 'shown', reason: 'own_image' });
    expect(same(own.image, PHOTO)).toBe(true);
  });

  it('keeps every file it wrote private to the user (0600 files, 0700 folders)', () => {
    // Run after each kind of write below too: images, copies made, copies received, views.
    expect(notPrivate(world, 'alice')).toEqual([]);
  });

  it('4. lists online users and fetches low-resolution previews from the owner', async () => {
    const listing = (await bob.peers()).find((p) => p.username === 'alice');
    expect(listing?.images.map((i) => i.image_id).sort()).toEqual([photoId, smallId].sort());
    const previews = await bob.previews('alice');
    expect(previews.map((p) => p.title).sort()).toEqual(['A photo', 'Small']);
    const jpeg = await bob.preview('alice', photoId);
    expect(jpeg[0]).toBe(0xff);
    expect(jpeg.length).toBeLessThan(64 * 1024);
    await expect(bob.preview('alice', 'nosuchimage')).rejects.toThrow(/offers no image/);
  });

  let savedCopy: Uint8Array;
  it('5-7. request, accept, receive, and view until the quota is used up', async () => {
    const created = await bob.request('alice', photoId, 2);
    expect(created).toMatchObject({ owner_notified: true, request: { status: 'pending' } });
    await eventOf(
      alice,
      'request-received',
      (e) => e.request.request_id === created.request.request_id,
    );
    const inbox = await alice.requests('owner', 'pending');
    expect(inbox.map((r) => r.request_id)).toContain(created.request.request_id);
    const answer = await alice.answer(created.request.request_id, 'accepted');
    expect(answer.grant).toMatchObject({ viewer: 'bob', quota: 2, delivery: 'delivered' });
    await eventOf(bob, 'image-received', (e) => e.image_id === photoId);
    expect(bob.received()).toEqual([
      expect.objectContaining({
        owner: 'alice',
        image_id: photoId,
        views_left: 2,
        state: 'viewable',
      }),
    ]);
    savedCopy = readFileSync(copyPath('bob', alice, photoId));

    for (const left of [1, 0]) {
      const view = await bob.view('alice', photoId);
      expect(view.record).toMatchObject({ verdict: 'shown', views_left: left });
      expect(same(view.image, PHOTO)).toBe(true);
    }
    const spent = await bob.view('alice', photoId);
    expect(spent.record).toMatchObject({ verdict: 'default', reason: 'quota_used' });
    expect(same(spent.image, COVER)).toBe(true);
    // The count lives inside the image file too.
    const inFile = await readCopy(readFileSync(copyPath('bob', alice, photoId)));
    expect(inFile.payload.consumedViews).toEqual([{ username: 'bob', consumed: 2 }]);
    // Copies made (alice), copies received and rewritten by each view (bob): private.
    expect(notPrivate(world, 'alice')).toEqual([]);
    expect(notPrivate(world, 'bob')).toEqual([]);
  });

  it('7. restoring an old copy of the file gives no views back', async () => {
    writeFileSync(copyPath('bob', alice, photoId), savedCopy);
    const again = await bob.view('alice', photoId);
    expect(again.record).toMatchObject({ verdict: 'default', reason: 'quota_used' });
    const asFile = await bob.viewFile(savedCopy);
    expect(asFile.record).toMatchObject({ verdict: 'default', reason: 'quota_used' });
  });

  it('6. a rejected request gives nothing', async () => {
    const created = await carol.request('alice', photoId, 5);
    const answer = await alice.answer(created.request.request_id, 'rejected');
    expect(answer.request.status).toBe('rejected');
    expect(answer.grant).toBeUndefined();
    await eventOf(carol, 'request-answered', (e) => e.request.status === 'rejected');
    expect(carol.received()).toEqual([]);
  });

  it('7. a user not named in the image gets the default image', async () => {
    const bobsCopy = readFileSync(copyPath('bob', alice, photoId));
    const byCarol = await carol.viewFile(bobsCopy);
    expect(byCarol.record).toMatchObject({ verdict: 'default', reason: 'not_named' });
    expect(byCarol.record.message).toMatch(/made for bob, not for carol/);
    expect(same(byCarol.image, COVER)).toBe(true);
    const byOwner = await alice.viewFile(bobsCopy);
    expect(byOwner.record).toMatchObject({ verdict: 'default', reason: 'not_named' });
  });

  it('8. asks for more views; the owner raises the quota with a signed update', async () => {
    const more = await bob.request('alice', photoId, 3);
    expect(more.request.kind).toBe('more_views');
    const answer = await alice.answer(more.request.request_id, 'accepted');
    expect(answer.grant).toMatchObject({ quota: 5, version: 2, delivery: 'delivered' });
    await eventOf(bob, 'rights-changed', (e) => e.image_id === photoId && e.quota === 5);
    const view = await bob.view('alice', photoId);
    expect(view.record).toMatchObject({ verdict: 'shown', views_left: 2, quota: 5 });
    // The file now carries alice's signed version 2 record.
    const inFile = await readCopy(readFileSync(copyPath('bob', alice, photoId)));
    expect(inFile.version).toBe(2);
    // The offline allowance signed into the copy (the default) stays as it was.
    expect(inFile.payload.rights.viewers).toEqual([
      { username: 'bob', quota: 5, offline: { views: 1, windowSeconds: 86400 } },
    ]);
    // A signed rights update rewrote the copy: still private.
    expect(notPrivate(world, 'bob')).toEqual([]);
  });

  it('refuses a tampered image with a clear message', async () => {
    const path = copyPath('bob', alice, photoId);
    const good = readFileSync(path);
    const copy = await readCopy(good);
    const tampered = await rewriteCopy(good, {
      ...copy.payload,
      rights: { ...copy.payload.rights, viewers: [{ username: 'bob', quota: 1000 }] },
    });
    writeFileSync(path, tampered);
    const view = await bob.view('alice', photoId);
    expect(view.record).toMatchObject({ verdict: 'default', reason: 'tampered' });
    expect(view.record.message).toMatch(/altered after alice signed it/);
    // A signature of 64 random bytes over the genuine record (alice's key named): refused too,
    // whether the stored copy was replaced or the file is handed to the agent.
    const forged = await rewriteCopy(good, {
      ...copy.payload,
      ownerSignature: {
        ...(copy.payload.ownerSignature as NonNullable<typeof copy.payload.ownerSignature>),
        signature: new Uint8Array(randomBytes(64)),
      },
    });
    expect((await bob.viewFile(forged)).record).toMatchObject({
      verdict: 'default',
      reason: 'tampered',
    });
    writeFileSync(path, forged);
    expect((await bob.view('alice', photoId)).record).toMatchObject({
      verdict: 'default',
      reason: 'tampered',
    });
    writeFileSync(path, good);
    expect((await bob.view('alice', photoId)).record.verdict).toBe('shown');
  });

  it('9. grants to a new viewer, then revokes, while both are online', async () => {
    const grant = await alice.setGrant(smallId, 'carol', 2);
    expect(grant).toMatchObject({ viewer: 'carol', quota: 2, delivery: 'delivered' });
    await eventOf(carol, 'image-received', (e) => e.image_id === smallId);
    const view = await carol.view('alice', smallId);
    expect(view.record).toMatchObject({ verdict: 'shown', views_left: 1 });
    expect(same(view.image, SMALL_PNG)).toBe(true);
    const revoked = await alice.revoke(smallId, 'carol');
    expect(revoked).toMatchObject({ revoked: true, delivery: 'delivered' });
    await eventOf(carol, 'rights-changed', (e) => e.image_id === smallId && e.revoked);
    const after = await carol.view('alice', smallId);
    expect(after.record).toMatchObject({ verdict: 'default', reason: 'revoked' });
  });

  it('9. changes the quota of an offline viewer; it applies when the viewer signs in', async () => {
    await bob.stop('test: bob goes offline');
    expect((await alice.peers()).map((p) => p.username)).not.toContain('bob');
    const pending = await alice.setGrant(photoId, 'bob', 9);
    expect(pending).toMatchObject({ quota: 9, delivery: 'pending' });
    expect((await alice.grants()).find((g) => g.viewer === 'bob')?.delivery).toBe('pending');
    bob = await agentFor(world, 'bob');
    await until(world, 'bob to hold quota 9', () => bob.received().find((r) => r.quota === 9));
    expect(bob.received()[0]).toMatchObject({ quota: 9, consumed: 4, views_left: 5 });
    // Once bob is online alice's agent delivers the signed record too.
    await until(world, 'delivery', async () =>
      (await alice.grants()).find((g) => g.viewer === 'bob' && g.delivery === 'delivered'),
    );
    await until(world, 'the file to carry the new version', async () => {
      const copy = await readCopy(readFileSync(copyPath('bob', alice, photoId)));
      return copy.version === 3;
    });
  });

  it('5. a request to an offline owner is delivered when the owner signs in', async () => {
    await alice.stop('test: alice goes offline');
    const created = await carol.request('alice', photoId, 1);
    expect(created.owner_notified).toBe(false);
    alice = await openAgent(world, 'alice');
    await alice.start();
    await eventOf(
      alice,
      'request-received',
      (e) => e.request.request_id === created.request.request_id,
    );
    await alice.answer(created.request.request_id, 'accepted');
    await eventOf(carol, 'image-received', (e) => e.image_id === photoId);
    expect((await carol.view('alice', photoId)).record.verdict).toBe('shown');
  });

  it('rebuilds its permissions from the directory after losing its local state', async () => {
    await bob.stop('test: bob loses his data');
    const dir = dataDirOf(world, 'bob');
    for (const file of ['agent.sqlite', 'agent.sqlite-wal', 'agent.sqlite-shm'])
      rmSync(dir.path(file), { force: true });
    rmSync(dir.path('received'), { recursive: true, force: true });
    bob = await agentFor(world, 'bob');
    await until(world, 'the copy to come back', () =>
      existsSync(copyPath('bob', alice, photoId)) ? true : undefined,
    );
    const held = await until(world, 'the ledger', () =>
      bob.received().find((r) => r.image_id === photoId),
    );
    expect(held).toMatchObject({ quota: 9, consumed: 4, views_left: 5, state: 'viewable' });
  });

  it('an owner without a running agent (one-shot) delivers over the connection it opens', async () => {
    await alice.stop('test: alice has no agent running');
    const oneShot = await agentFor(world, 'alice', { mode: 'one-shot' });
    const { image } = await oneShot.encrypt(SMALL_PNG, 'One-shot');
    const created = await bob.request('alice', image.image_id, 1);
    expect(created.owner_notified).toBe(false); // alice is not online
    const inbox = await oneShot.requests('owner', 'pending');
    expect(inbox.map((r) => r.request_id)).toContain(created.request.request_id);
    const answer = await oneShot.answer(created.request.request_id, 'accepted');
    expect(answer.grant?.delivery).toBe('delivered');
    await eventOf(bob, 'image-received', (e) => e.image_id === image.image_id);
    await oneShot.stop();
    alice = await agentFor(world, 'alice');
  });

  it('an accept stands when the copy cannot be made yet; the copy follows', async () => {
    const { image } = await alice.encrypt(SMALL_PNG, 'Later');
    const original = dataDirOf(world, 'alice').path('images', `${image.image_id}.original`);
    const bytes = readFileSync(original);
    rmSync(original); // e.g. a disk problem while the request is accepted
    const created = await bob.request('alice', image.image_id, 1);
    const answer = await alice.answer(created.request.request_id, 'accepted');
    expect(answer.request.status).toBe('accepted');
    expect(answer.grant).toMatchObject({ delivery: 'pending' });
    expect(answer.grant?.problem).toMatch(/could not be made yet .*original image/);
    writeFileSync(original, bytes);
    await eventOf(bob, 'image-received', (e) => e.image_id === image.image_id);
    expect((await bob.view('alice', image.image_id)).record.verdict).toBe('shown');
  });

  it('a server killed -9 in the middle of the flows changes nothing users see', async () => {
    const { cluster } = world.tc;
    const encrypting = alice.encrypt(PHOTO, 'During a crash');
    const victim = (await cluster.waitForLeader(DEADLINE.start_ms)).leader;
    await cluster.kill(victim);
    const image = await encrypting;
    const created = await bob.request('alice', image.image.image_id, 2);
    const answer = await alice.answer(created.request.request_id, 'accepted');
    expect(answer.grant?.quota).toBe(2);
    await eventOf(bob, 'image-received', (e) => e.image_id === image.image.image_id);
    const view = await bob.view('alice', image.image.image_id);
    expect(view.record).toMatchObject({ verdict: 'shown', views_left: 1 });
    expect(same(view.image, PHOTO)).toBe(true);
    cluster.start(victim);
    await cluster.waitForLeader(DEADLINE.start_ms);
  });

  it('10. shuts down telling the cloud: the user is offline at once', async () => {
    await carol.stop('test: carol signs out');
    expect((await bob.peers()).map((p) => p.username)).not.toContain('carol');
  });
});
