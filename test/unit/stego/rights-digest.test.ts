import { describe, expect, it } from 'vitest';
import { generateIdentity } from '../../../src/identity/keys.js';
import { seal } from '../../../src/identity/seal.js';
import {
  imageSectionDigest,
  rightsSignedBytes,
  rightsSignedBytesFromDigest,
  sealablePlaintext,
} from '../../../src/stego/index.js';
import type { AccessRights } from '../../../src/stego/index.js';
import { fakeJpeg } from './helpers.js';

const rights: AccessRights = {
  owner: 'alice',
  imageId: 'img-1',
  viewers: [{ username: 'bob', quota: 3 }],
};

describe('rightsSignedBytesFromDigest', () => {
  it('gives the same bytes as rightsSignedBytes for sealed and plain images', () => {
    const image = { mediaType: 'image/jpeg' as const, bytes: fakeJpeg(500) };
    const sealedImage = seal(
      sealablePlaintext(image),
      generateIdentity().publicKey,
      new TextEncoder().encode('alice|img-1|bob'),
    );
    for (const payload of [{ sealedImage }, { image }]) {
      const digest = imageSectionDigest(payload);
      expect(digest).toHaveLength(32);
      expect(rightsSignedBytesFromDigest(rights, 9, digest)).toEqual(
        rightsSignedBytes({ rights, ...payload }, 9),
      );
    }
  });

  it('differs when the quota, version or image differs', () => {
    const digest = imageSectionDigest({ image: { mediaType: 'image/jpeg', bytes: fakeJpeg(300) } });
    const base = rightsSignedBytesFromDigest(rights, 2, digest);
    const moreViews = { ...rights, viewers: [{ username: 'bob', quota: 4 }] };
    expect(rightsSignedBytesFromDigest(moreViews, 2, digest)).not.toEqual(base);
    expect(rightsSignedBytesFromDigest(rights, 3, digest)).not.toEqual(base);
    const other = Uint8Array.from(digest);
    other[0] = (other[0] as number) ^ 1;
    expect(rightsSignedBytesFromDigest(rights, 2, other)).not.toEqual(base);
  });

  it('refuses a digest that is not 32 bytes and a version out of range', () => {
    expect(() => rightsSignedBytesFromDigest(rights, 1, new Uint8Array(31))).toThrow(/32 bytes/);
    expect(() => rightsSignedBytesFromDigest(rights, 0, new Uint8Array(32))).toThrow(/version/);
    expect(() => rightsSignedBytesFromDigest(rights, 2 ** 32, new Uint8Array(32))).toThrow(
      /version/,
    );
  });
});
