/**
 * The viewer side on its own, with real parts: the directory of a one-server cloud in this
 * process, agent databases and data directories on disk, P2P sessions over loopback, and
 * copies hidden the way the cloud hides them. Bob views what alice shares; carol is someone else.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DirectoryOutcomeUnknown } from '../../../src/peer/directory-client.js';
import { sign } from '../../../src/identity/keys.js';
import { toHex } from '../../../src/protocol/directory-protocol.js';
import {
  buildCopyContainer,
  readCopy,
  rewriteCopy,
  rightsUpdateBytes,
  sha256Hex,
  viewerEntry,
} from '../../../src/peer/copies.js';
import { ViewerSide } from '../../../src/peer/viewer.js';
import { packagePath } from '../../../src/util/package-info.js';
import { sessionTo, threeUsers, type TestAgent, type ThreeUsers } from './helpers/agent-parts.js';
import { cloudEmbed } from './helpers/cloud-embed.js';

const PHOTO = new Uint8Array(readFileSync(packagePath('assets', 'samples', 'photo.jpg')));
const IMAGE = 'img1';

let users: ThreeUsers;
let alice: TestAgent;
let bob: TestAgent;
let carol: TestAgent;
let viewer: ViewerSide;

beforeAll(async () => {
  users = await threeUsers('peer-viewer-');
  ({ alice, bob, carol } = users);
  viewer = new ViewerSide(bob.ctx);
  bob.serve = (session, message) => viewer.receiving.handle(session, message);
  await bob.goOnline();
  await alice.goOnline();
}, 180_000);

afterAll(() => users?.close());

/**
 * A copy of the photo that alice made for `who`, hidden as the cloud hides it; the grant it
 * stands for is set in the directory (where views are used when online).
 */
async function copyFor(who: TestAgent, quota: number, imageId = IMAGE) {
  await alice.ctx.directory.setGrant({ image_id: imageId, viewer_id: who.ctx.me.user_id, quota });
  const built = buildCopyContainer({
    owner: alice.ctx.me,
    imageId,
    original: { mediaType: 'image/jpeg', bytes: PHOTO },
    viewer: { username: who.ctx.me.username, publicKey: who.ctx.me.keys.publicKey },
    quota,
    version: 1,
  });
  return { png: await cloudEmbed(built.container), imageDigest: built.imageDigest };
}

const storedCopy = (): string => bob.ctx.dataDir.receivedPath(alice.ctx.me.user_id, IMAGE);

describe('the viewer side', () => {
  it("says so when asked for one's own image under another user's name", async () => {
    bob.ctx.db.addOwnImage({
      image_id: 'bobs-own',
      title: 'mine',
      media_type: 'image/jpeg',
      width: 1,
      height: 1,
      size_bytes: 1,
      preview_width: 1,
      preview_height: 1,
      preview_size_bytes: 1,
      created_at_ms: 0,
    });
    await expect(viewer.grants.request('alice', 'bobs-own', 1)).rejects.toThrow(
      /alice does not offer bobs-own; bobs-own is your own image \(bob\/bobs-own\)/,
    );
    // Not for an id that is nobody's: the directory's own words.
    await expect(viewer.grants.request('alice', 'nobodys', 1)).rejects.toThrow(
      /does not offer image nobodys/,
    );
  });

  it('counts each view in the ledger and in the kept file, then shows the default image', async () => {
    const { png } = await copyFor(bob, 2);
    const first = await viewer.viewing.viewFile(png);
    expect(first.record).toMatchObject({ verdict: 'shown', reason: 'ok', views_left: 1 });
    expect(Buffer.from(first.image).equals(Buffer.from(PHOTO))).toBe(true);
    // The file arrived by hand: it is kept like a delivered copy, with the view counted in it.
    const kept = await readCopy(new Uint8Array(readFileSync(storedCopy())));
    expect(viewerEntry(kept, 'bob')).toEqual({ quota: 2, consumed: 1 });

    const second = await viewer.viewing.view('alice', IMAGE, () => new Uint8Array());
    expect(second.record).toMatchObject({ verdict: 'shown', views_left: 0, consumed: 2 });
    const third = await viewer.viewing.view('alice', IMAGE, () => new Uint8Array());
    expect(third.record).toMatchObject({ verdict: 'default', reason: 'quota_used', views_left: 0 });
    expect(Buffer.from(third.image).equals(readFileSync(packagePath('assets', 'cover.png')))).toBe(
      true,
    );
    expect(bob.events.filter((e) => e.type === 'image-viewed')).toHaveLength(2);
    expect(viewer.viewing.received()).toEqual([
      expect.objectContaining({ owner: 'alice', image_id: IMAGE, state: 'used_up', consumed: 2 }),
    ]);
  });

  it('gives no views back when an older file is put back', async () => {
    const { png } = await copyFor(bob, 2); // counts 0 views inside
    writeFileSync(storedCopy(), png);
    const view = await viewer.viewing.view('alice', IMAGE, () => new Uint8Array());
    expect(view.record).toMatchObject({ verdict: 'default', reason: 'quota_used', consumed: 2 });
  });

  it('uses each view at the directory first: views used on another device and a revocation count at once', async () => {
    const image = 'img-two-devices';
    const { png } = await copyFor(bob, 3, image);
    const grant = { owner_id: alice.ctx.me.user_id, image_id: image };
    const first = await viewer.viewing.viewFile(png);
    expect(first.record).toMatchObject({ verdict: 'shown', views_left: 2, consumed: 1 });
    // Bob's other device uses the two views left; this agent's ledger has not heard of them.
    expect(await bob.ctx.directory.consumeView({ ...grant, view_id: randomUUID() })).toMatchObject({
      granted: true,
      consumed: 2,
    });
    expect(await bob.ctx.directory.consumeView({ ...grant, view_id: randomUUID() })).toMatchObject({
      granted: true,
      consumed: 3,
    });
    const used = await viewer.viewing.view('alice', image, () => new Uint8Array());
    expect(used.record).toMatchObject({ verdict: 'default', reason: 'quota_used', consumed: 3 });
    expect(bob.ctx.db.ledger(alice.ctx.me.user_id, image)).toMatchObject({ consumed: 3 });
    const kept = await readCopy(
      new Uint8Array(readFileSync(bob.ctx.dataDir.receivedPath(alice.ctx.me.user_id, image))),
    );
    expect(viewerEntry(kept, 'bob')).toEqual({ quota: 3, consumed: 3 });
    // The owner adds views: the directory's quota counts before any update reaches the agent;
    // the views already used still count against it.
    await alice.ctx.directory.setGrant({
      image_id: image,
      viewer_id: bob.ctx.me.user_id,
      quota: 4,
    });
    const more = await viewer.viewing.view('alice', image, () => new Uint8Array());
    expect(more.record).toMatchObject({ verdict: 'shown', views_left: 0, consumed: 4, quota: 4 });
    await alice.ctx.directory.setGrant({
      image_id: image,
      viewer_id: bob.ctx.me.user_id,
      quota: 9,
    });
    await alice.ctx.directory.revokeGrant({ image_id: image, viewer_id: bob.ctx.me.user_id });
    const revoked = await viewer.viewing.view('alice', image, () => new Uint8Array());
    expect(revoked.record).toMatchObject({ verdict: 'default', reason: 'revoked', consumed: 4 });
  });

  it('asks again under the same view id while the outcome is unknown: never a second view, and a view counted but not shown is shown next time', async () => {
    const directory = bob.ctx.directory;
    const real = directory.consumeView.bind(directory);
    const asked: string[] = [];
    // A server uses the view at the directory, then its answer is lost (as when a Galera cluster
    // stalls after a node died and the agent's wait runs out): the next `lose` answers never come.
    let lose = 0;
    const spy = vi.spyOn(directory, 'consumeView').mockImplementation(async (view) => {
      asked.push(view.view_id);
      const answer = await real(view);
      if (lose-- > 0) throw new DirectoryOutcomeUnknown('no cloud server answered (answer lost)');
      return answer;
    });
    const viewsUsed = async (image: string) =>
      (await directory.grants('viewer')).find((g) => g.image_id === image)?.views_used;
    try {
      // One lost answer: the second round asks for the same view and is told it was granted.
      const once = await copyFor(bob, 3, 'img-lost-answer');
      lose = 1;
      const shown = await viewer.viewing.viewFile(once.png);
      expect(shown.record).toMatchObject({ verdict: 'shown', consumed: 1, views_left: 2 });
      expect(asked).toHaveLength(2);
      expect(asked[1]).toBe(asked[0]);
      expect(await viewsUsed('img-lost-answer')).toBe(1);

      // Every answer lost: decided offline, and this copy's count was never confirmed here, so
      // the default image; the directory counted that view once although it was asked twice.
      asked.length = 0;
      const twice = await copyFor(bob, 3, 'img-lost-answers');
      lose = 2;
      const refused = await viewer.viewing.viewFile(twice.png);
      expect(refused.record).toMatchObject({ verdict: 'default', reason: 'not_synced' });
      expect(await viewsUsed('img-lost-answers')).toBe(1);
      // The pending view is kept in agent.sqlite: an agent restarted now (a new viewer side on
      // the same database, nothing held in memory) still asks under the same id, so the view
      // already counted is shown and none is added.
      const owner = alice.ctx.me.user_id;
      expect(bob.ctx.db.pendingView(owner, 'img-lost-answers')).toBe(asked[0]);
      const restarted = new ViewerSide(bob.ctx);
      const next = await restarted.viewing.view(
        'alice',
        'img-lost-answers',
        () => new Uint8Array(),
      );
      expect(next.record).toMatchObject({ verdict: 'shown', consumed: 1, views_left: 2 });
      expect(new Set(asked).size).toBe(1);
      expect(asked).toHaveLength(3);
      expect(bob.ctx.db.pendingView(owner, 'img-lost-answers')).toBeNull();
      // Then a new view is a new id and uses a view.
      const after = await viewer.viewing.view('alice', 'img-lost-answers', () => new Uint8Array());
      expect(after.record).toMatchObject({ verdict: 'shown', consumed: 2, views_left: 1 });
      expect(new Set(asked).size).toBe(2);
    } finally {
      spy.mockRestore();
    }
  });

  it('shows the default image, and says why, for a copy made for someone else or altered', async () => {
    const forCarol = await viewer.viewing.viewFile((await copyFor(carol, 5, 'img2')).png);
    expect(forCarol.record).toMatchObject({ verdict: 'default', reason: 'not_named' });
    expect(forCarol.record.message).toMatch(/made for carol, not for bob/);

    const { png } = await copyFor(bob, 1, 'img3');
    const copy = await readCopy(png);
    const edited = await rewriteCopy(png, {
      ...copy.payload,
      rights: { ...copy.payload.rights, viewers: [{ username: 'bob', quota: 99 }] },
    });
    const altered = await viewer.viewing.viewFile(edited);
    expect(altered.record).toMatchObject({ verdict: 'default', reason: 'tampered' });

    const plain = await viewer.viewing.viewFile(readFileSync(packagePath('assets', 'cover.png')));
    expect(plain.record).toMatchObject({ verdict: 'default', reason: 'not_a_copy' });
    expect(bob.ctx.db.ledger(alice.ctx.me.user_id, 'img3')).toBeUndefined();
  });

  it('applies a rights update signed by the owner once, and refuses one signed by anyone else', async () => {
    const held = bob.ctx.db.received(alice.ctx.me.user_id, IMAGE);
    if (!held) throw new Error('bob holds no copy yet');
    const update = { quota: 5, revoked: false, version: 2 };
    const signed = rightsUpdateBytes({
      owner: 'alice',
      imageId: IMAGE,
      viewer: 'bob',
      ...update,
      imageDigest: held.image_digest,
    });
    const message = (signer: TestAgent) => ({
      type: 'RightsUpdate' as const,
      image_id: IMAGE,
      ...update,
      signature: toHex(sign(signer.ctx.me.keys, signed)),
    });
    const toBob = await sessionTo(alice, bob);
    await expect(toBob.request(message(carol))).rejects.toMatchObject({
      peerCode: 'bad_signature',
    });
    expect(bob.ctx.db.ledger(alice.ctx.me.user_id, IMAGE)).toMatchObject({ quota: 2, version: 1 });

    expect((await toBob.request(message(alice))).message).toEqual({
      type: 'Ack',
      detail: 'applied',
    });
    expect(bob.events.filter((e) => e.type === 'rights-changed').at(-1)).toMatchObject({
      owner: 'alice',
      quota: 5,
      version: 2,
      views_left: 3,
    });
    expect((await toBob.request(message(alice))).message).toEqual({
      type: 'Ack',
      detail: 'already up to date',
    });
    // The new rights are in the kept file too, still signed by alice.
    const kept = await readCopy(new Uint8Array(readFileSync(storedCopy())));
    expect(kept.version).toBe(2);
    expect(viewerEntry(kept, 'bob')).toEqual({ quota: 5, consumed: 2 });
  });

  it('pulls a copy in chunks and keeps it only when it matches its SHA-256', async () => {
    const { png } = await copyFor(bob, 4, 'img4');
    let claimed = '0'.repeat(64);
    alice.serve = async (_session, request) => {
      if (request.type !== 'CopyFetch') return null;
      const part = png.subarray(request.offset, request.offset + request.length);
      return {
        message: {
          type: 'CopyPart',
          image_id: request.image_id,
          version: 1,
          total_bytes: png.length,
          sha256: claimed,
          offset: request.offset,
          size_bytes: part.length,
        },
        binary: part,
      };
    };
    const toAlice = await sessionTo(bob, alice);
    await expect(viewer.receiving.pullCopy(toAlice, 'img4')).rejects.toMatchObject({
      code: 'copy_corrupted',
    });
    expect(bob.ctx.db.received(alice.ctx.me.user_id, 'img4')).toBeUndefined();

    claimed = sha256Hex(png);
    expect(await viewer.receiving.pullCopy(toAlice, 'img4')).toBe('received');
    expect(bob.ctx.db.received(alice.ctx.me.user_id, 'img4')).toMatchObject({ file_version: 1 });
    expect(bob.events).toContainEqual({
      type: 'image-received',
      owner: 'alice',
      image_id: 'img4',
      views_left: 4,
    });
    expect(await viewer.receiving.pullCopy(toAlice, 'img4')).toBe('already held');
  });

  it('takes a grant the directory reports only when it is newer than the ledger', () => {
    const grant = {
      owner_id: alice.ctx.me.user_id,
      owner_username: 'alice',
      image_id: 'img5',
      viewer_id: bob.ctx.me.user_id,
      quota: 3,
      version: 2,
      revoked: false,
    };
    expect(viewer.grants.applyDirectoryGrant(grant)).toBe(true);
    expect(viewer.grants.applyDirectoryGrant({ ...grant, quota: 9, version: 1 })).toBe(false);
    expect(viewer.grants.applyDirectoryGrant({ ...grant, viewer_id: carol.ctx.me.user_id })).toBe(
      false,
    );
    expect(bob.ctx.db.ledger(alice.ctx.me.user_id, 'img5')).toMatchObject({ quota: 3, version: 2 });
    expect(viewer.viewing.received()).toContainEqual(
      expect.objectContaining({ image_id: 'img5', state: 'waiting_for_copy', views_left: 3 }),
    );
  });
});
