/**
 * The owner side on its own, with real parts: a one-server cloud in this process (directory on
 * SQLite, encryption workers), agent databases and data directories on disk, and P2P sessions
 * over loopback. Alice owns; bob and carol are other users.
 */
import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCopySignature, openCopy, readCopy, viewerEntry } from '../../../src/peer/copies.js';
import { ONLINE_LIST_REUSED_MS } from '../../../src/peer/online-peers.js';
import { checkTitle } from '../../../src/peer/owner-images.js';
import { OwnerSide } from '../../../src/peer/owner.js';
import { ViewerSide } from '../../../src/peer/viewer.js';
import { packagePath } from '../../../src/util/package-info.js';
import { sessionTo, threeUsers, type TestAgent, type ThreeUsers } from './helpers/agent-parts.js';

const PHOTO = new Uint8Array(readFileSync(packagePath('assets', 'samples', 'photo.jpg')));

let users: ThreeUsers;
let alice: TestAgent;
let bob: TestAgent;
let carol: TestAgent;
let owner: OwnerSide;
let imageId: string;

beforeAll(async () => {
  users = await threeUsers('peer-owner-');
  ({ alice, bob, carol } = users);
  owner = new OwnerSide(alice.ctx);
  alice.serve = (session, message) => owner.serving.handle(session, message);
  await alice.goOnline();
}, 180_000);

afterAll(() => users?.close());

describe('the owner side', () => {
  it('refuses titles that are empty, too long or hold control characters', () => {
    expect(checkTitle('A walk in the park')).toBe('A walk in the park');
    for (const bad of ['', '   ', 'x'.repeat(201), 'line\nbreak', 'tab\there', 42])
      expect(() => checkTitle(bad)).toThrow(/1-200 characters without control characters/);
  });

  it('encrypts through the cloud, keeps the original, preview and own copy, and offers it', async () => {
    const steps: string[] = [];
    const result = await owner.images.encrypt(PHOTO, 'Park', (step) => steps.push(step));
    imageId = result.image.image_id;
    expect(result.image).toMatchObject({ title: 'Park', media_type: 'image/jpeg', offered: true });
    expect(steps[0]).toMatch(/^checked: image\/jpeg/);
    expect(steps).toContain('offered in the directory');
    const { dataDir } = alice.ctx;
    for (const path of [
      dataDir.originalPath(imageId),
      dataDir.previewPath(imageId),
      dataDir.stegoPath(imageId),
    ])
      expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(new Uint8Array(readFileSync(dataDir.originalPath(imageId)))).toEqual(PHOTO);
    // The own copy is sealed to alice and signed by her: it opens to the original.
    const own = await readCopy(owner.images.stegoCopy(imageId));
    checkCopySignature(own, alice.ctx.me.keys.publicKey);
    expect(openCopy(own, alice.ctx.me).bytes).toEqual(PHOTO);
    const listed = await alice.ctx.directory.images({ owner_id: alice.ctx.me.user_id });
    expect(listed.map((image) => image.image_id)).toEqual([imageId]);
    expect(alice.events).toContainEqual({ type: 'image-added', image_id: imageId, title: 'Park' });
  });

  it('makes the copy for an offline viewer at once and delivers it when they come online', async () => {
    const granted = await owner.grants.setGrant(imageId, 'bob', 3);
    expect(granted).toMatchObject({ viewer: 'bob', quota: 3, revoked: false, delivery: 'pending' });
    const copy = await readCopy(
      new Uint8Array(readFileSync(alice.ctx.dataDir.copyPath(imageId, bob.ctx.me.user_id))),
    );
    checkCopySignature(copy, alice.ctx.me.keys.publicKey);
    expect(viewerEntry(copy, 'bob')).toEqual({ quota: 3, consumed: 0 });
    expect(openCopy(copy, bob.ctx.me).bytes).toEqual(PHOTO);
    expect(await owner.delivery.deliverPending()).toBe(0); // bob is offline: it waits

    const viewer = new ViewerSide(bob.ctx);
    bob.serve = (session, message) => viewer.receiving.handle(session, message);
    await bob.goOnline();
    alice.clock.advance(ONLINE_LIST_REUSED_MS + 1); // alice asks the directory afresh
    expect(await owner.delivery.deliverPending()).toBe(1);
    expect(alice.events.filter((e) => e.type === 'grant-changed').at(-1)).toMatchObject({
      grant: { viewer: 'bob', delivery: 'delivered' },
    });
    expect(bob.ctx.db.received(alice.ctx.me.user_id, imageId)).toMatchObject({ file_version: 1 });
    expect(await owner.grants.grants()).toEqual([
      expect.objectContaining({ viewer: 'bob', quota: 3, views_used: 0, delivery: 'delivered' }),
    ]);
    // bob's agent reports the views he used; alice sees them per viewer.
    await bob.ctx.directory.recordViews({
      owner_id: alice.ctx.me.user_id,
      image_id: imageId,
      consumed: 2,
    });
    expect(await owner.grants.grants()).toEqual([
      expect.objectContaining({ viewer: 'bob', quota: 3, views_used: 2 }),
    ]);
  });

  it('serves a copy only to the viewer it was made for, within its length, and not once revoked', async () => {
    const fetch = { type: 'CopyFetch' as const, image_id: imageId, offset: 0, length: 1024 };
    await expect((await sessionTo(carol, alice)).request(fetch)).rejects.toMatchObject({
      peerCode: 'no_copy',
    });
    const asBob = await sessionTo(bob, alice);
    const part = await asBob.request(fetch);
    expect(part.message).toMatchObject({ type: 'CopyPart', offset: 0, size_bytes: 1024 });
    const total = (part.message as { total_bytes: number }).total_bytes;
    await expect(asBob.request({ ...fetch, offset: total })).rejects.toMatchObject({
      peerCode: 'bad_range',
    });
    const revoked = await owner.grants.revoke(imageId, 'bob');
    expect(revoked).toMatchObject({ revoked: true, quota: 3 });
    await expect(asBob.request(fetch)).rejects.toMatchObject({ peerCode: 'denied' });
  });

  it('sends nothing to a viewer whose grant was revoked before the copy reached them', async () => {
    await owner.grants.setGrant(imageId, 'carol', 2);
    expect(await owner.delivery.deliverPending()).toBe(0); // carol is offline: it waits
    expect(await owner.grants.revoke(imageId, 'carol')).toMatchObject({
      revoked: true,
      delivery: 'none',
    });
    const viewer = new ViewerSide(carol.ctx);
    carol.serve = (session, message) => viewer.receiving.handle(session, message);
    await carol.goOnline();
    alice.clock.advance(ONLINE_LIST_REUSED_MS + 1);
    expect(await owner.delivery.deliverPending()).toBe(0);
    expect(
      alice.ctx.db.undeliveredCopies().filter((copy) => copy.viewer_id === carol.ctx.me.user_id),
    ).toEqual([]);
    expect(carol.ctx.db.received(alice.ctx.me.user_id, imageId)).toBeUndefined();
    expect(await owner.grants.grants()).toContainEqual(
      expect.objectContaining({ viewer: 'carol', revoked: true, delivery: 'none' }),
    );
  });

  it('answers previews from its own images only', async () => {
    const asCarol = await sessionTo(carol, alice);
    const list = await asCarol.request({ type: 'PreviewListRequest' });
    expect(list.message).toMatchObject({
      type: 'PreviewList',
      images: [{ image_id: imageId, title: 'Park' }],
    });
    const preview = await asCarol.request({ type: 'PreviewRequest', image_id: imageId });
    const file = readFileSync(alice.ctx.dataDir.previewPath(imageId));
    expect(Buffer.from(preview.binary).equals(file)).toBe(true);
    await expect(
      asCarol.request({ type: 'PreviewRequest', image_id: 'i0000000000x' }),
    ).rejects.toMatchObject({ peerCode: 'not_found' });
  });

  it('withdraws an image: no longer listed, offered again or previewed; grants stand unless revoked too', async () => {
    const second = (await owner.images.encrypt(PHOTO, 'Lake')).image.image_id;
    await owner.grants.setGrant(imageId, 'carol', 2);
    const withdrawn = await owner.grants.withdraw(imageId);
    expect(withdrawn.image).toMatchObject({ image_id: imageId, offered: false, withdrawn: true });
    expect(withdrawn.revoked).toEqual([]);
    const listed = async () =>
      (await alice.ctx.directory.images({ owner_id: alice.ctx.me.user_id })).map((i) => i.image_id);
    expect(await listed()).toEqual([second]);
    // Sign-in's catch-up offers missing images again, but not a withdrawn one.
    expect(await owner.images.reofferMissing()).toBe(0);
    expect(await listed()).toEqual([second]);
    const asCarol = await sessionTo(carol, alice);
    const list = await asCarol.request({ type: 'PreviewListRequest' });
    expect(list.message).toMatchObject({ images: [{ image_id: second }] });
    await expect(
      asCarol.request({ type: 'PreviewRequest', image_id: imageId }),
    ).rejects.toMatchObject({ peerCode: 'not_found' });
    // Existing grants keep working: carol still holds hers.
    expect(withdrawn.image.grants).toContainEqual(
      expect.objectContaining({ viewer: 'carol', quota: 2, revoked: false }),
    );
    // Withdrawing again (already unlisted) is fine; with revokeGrants every grant is revoked.
    const again = await owner.grants.withdraw(imageId, { revokeGrants: true });
    expect(again.revoked.map((g) => g.viewer)).toEqual(['carol']);
    expect(again.image.grants.every((g) => g.revoked)).toBe(true);
  });
});
