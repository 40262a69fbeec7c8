/**
 * Copies as the cloud would make them (the same embedding the servers run), checked the way a
 * viewer's agent checks them: signature with the owner's pinned key, the viewer named, the
 * sealed image opening only for that viewer; tampering of each kind refused.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateIdentity, sign, verify } from '../../../src/identity/keys.js';
import {
  CopyError,
  buildCopyContainer,
  checkCloudResult,
  checkCopySignature,
  openCopy,
  readCopy,
  rewriteCopy,
  rightsUpdateBytes,
  viewerEntry,
  withConsumed,
  withSignedRights,
} from '../../../src/peer/copies.js';
import { packagePath } from '../../../src/util/package-info.js';
import { cloudEmbed } from './helpers/cloud-embed.js';

const PHOTO = new Uint8Array(readFileSync(packagePath('assets', 'samples', 'photo.jpg')));
const alice = { username: 'alice', keys: generateIdentity() };
const bob = { username: 'bob', keys: generateIdentity() };
const carol = { username: 'carol', keys: generateIdentity() };

function copyFor(viewer: typeof bob, quota = 3, version = 1) {
  return buildCopyContainer({
    owner: alice,
    imageId: 'img1',
    original: { mediaType: 'image/jpeg', bytes: PHOTO },
    viewer: { username: viewer.username, publicKey: viewer.keys.publicKey },
    quota,
    version,
  });
}

describe('shared copies', () => {
  it('open for the named viewer only, byte-identical, with the owner signature checked', async () => {
    const built = copyFor(bob);
    const png = await cloudEmbed(built.container);
    await checkCloudResult(png, built.container);
    const copy = await readCopy(png);
    expect(copy).toMatchObject({ owner: 'alice', imageId: 'img1', version: 1 });
    expect(copy.imageDigest).toEqual(built.imageDigest);
    checkCopySignature(copy, alice.keys.publicKey);
    expect(viewerEntry(copy, 'bob')).toEqual({ quota: 3, consumed: 0 });
    expect(Buffer.from(openCopy(copy, bob).bytes).equals(Buffer.from(PHOTO))).toBe(true);
    expect(() => viewerEntry(copy, 'carol')).toThrow(/made for bob, not for carol/);
    expect(() => openCopy(copy, carol)).toThrow(CopyError);
  });

  it('refuse a hand-edited quota, a different signing key, and a cloud that changed the payload', async () => {
    const png = await cloudEmbed(copyFor(bob).container);
    const copy = await readCopy(png);
    const edited = await readCopy(
      await rewriteCopy(png, {
        ...copy.payload,
        rights: { ...copy.payload.rights, viewers: [{ username: 'bob', quota: 99 }] },
      }),
    );
    expect(() => checkCopySignature(edited, alice.keys.publicKey)).toThrow(
      /altered after alice signed/,
    );
    // Carol re-signs the edited rights with her own key but keeps alice's name as owner.
    const forged = buildCopyContainer({
      owner: { username: 'alice', keys: carol.keys },
      imageId: 'img1',
      original: { mediaType: 'image/jpeg', bytes: PHOTO },
      viewer: { username: 'bob', publicKey: bob.keys.publicKey },
      quota: 99,
      version: 5,
    });
    const forgedCopy = await readCopy(await cloudEmbed(forged.container));
    expect(() => checkCopySignature(forgedCopy, alice.keys.publicKey)).toThrow(/not alice's/);
    const other = await cloudEmbed(copyFor(carol).container);
    await expect(checkCloudResult(other, copyFor(bob).container)).rejects.toThrow(/differs/);
  });

  it('report a plain image and a damaged one clearly', async () => {
    await expect(readCopy(readFileSync(packagePath('assets', 'cover.png')))).rejects.toThrow(
      /no cloudp2p container/,
    );
    const png = await cloudEmbed(copyFor(bob).container);
    const damaged = Uint8Array.from(png);
    damaged[damaged.length - 20] = (damaged[damaged.length - 20] as number) ^ 0xff;
    await expect(readCopy(damaged)).rejects.toThrow(CopyError);
  });

  it('take a signed rights update and a new consumed count into the same file', async () => {
    const built = copyFor(bob, 3, 1);
    const png = await cloudEmbed(built.container);
    const copy = await readCopy(png);
    const update = { quota: 7, revoked: false, version: 2 };
    const signed = rightsUpdateBytes({
      owner: 'alice',
      imageId: 'img1',
      viewer: 'bob',
      ...update,
      imageDigest: built.imageDigest,
    });
    const signature = sign(alice.keys, signed);
    expect(verify(alice.keys.publicKey, signed, signature)).toBe(true);
    const updatedPng = await rewriteCopy(
      png,
      withSignedRights(
        copy.payload,
        'bob',
        { ...update, signature, ownerKey: alice.keys.publicKey },
        2,
      ),
    );
    expect(updatedPng.length).toBeGreaterThan(0);
    const updated = await readCopy(updatedPng);
    checkCopySignature(updated, alice.keys.publicKey); // the owner's update verifies in the file
    expect(updated.version).toBe(2);
    expect(viewerEntry(updated, 'bob')).toEqual({ quota: 7, consumed: 2 });
    const counted = await readCopy(
      await rewriteCopy(updatedPng, withConsumed(updated.payload, 'bob', 3)),
    );
    expect(viewerEntry(counted, 'bob').consumed).toBe(3);
    checkCopySignature(counted, alice.keys.publicKey); // the counter is not signed
    // A revocation is signed as quota 0.
    const revoked = rightsUpdateBytes({
      owner: 'alice',
      imageId: 'img1',
      viewer: 'bob',
      quota: 7,
      revoked: true,
      version: 3,
      imageDigest: built.imageDigest,
    });
    expect(
      Buffer.from(revoked).equals(
        Buffer.from(
          rightsUpdateBytes({
            owner: 'alice',
            imageId: 'img1',
            viewer: 'bob',
            quota: 0,
            revoked: false,
            version: 3,
            imageDigest: built.imageDigest,
          }),
        ),
      ),
    ).toBe(true);
  });
});
