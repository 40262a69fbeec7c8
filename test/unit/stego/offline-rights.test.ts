/**
 * The offline allowance block of the access rights (docs/STEGO-FORMAT.md): an owner signs, per
 * viewer, how many views may be shown without the directory and within which window. The
 * block must survive a container round trip byte for byte, be covered by the owner's
 * signature (a viewer who edits it breaks the signature), and be refused when malformed.
 */
import { describe, expect, it } from 'vitest';
import { generateIdentity, sign, verify } from '../../../src/identity/keys.js';
import {
  MAX_OFFLINE_VIEWS,
  MAX_OFFLINE_WINDOW_SECONDS,
  MIN_OFFLINE_WINDOW_SECONDS,
  decodeContainer,
  embedContainer,
  encodeContainer,
  encodeRights,
  extractContainer,
  rightsSignedBytes,
} from '../../../src/stego/index.js';
import { decodeRights } from '../../../src/stego/rights.js';
import type { AccessRights, PlainPayload } from '../../../src/stego/index.js';
import { fakeJpeg, randomRaster } from './helpers.js';

const DAY_SECONDS = 24 * 3600;

const withAllowance: AccessRights = {
  owner: 'alice',
  imageId: 'img-offline',
  viewers: [
    { username: 'carol', quota: 5, offline: { views: 2, windowSeconds: 2 * DAY_SECONDS } },
    { username: 'bob', quota: 7, offline: { views: 1, windowSeconds: DAY_SECONDS } },
  ],
};

function signedPayload(rights: AccessRights, version = 4): PlainPayload {
  const owner = generateIdentity();
  const image = { mediaType: 'image/jpeg' as const, bytes: fakeJpeg(600) };
  const signature = sign(owner, rightsSignedBytes({ rights, image }, version));
  return {
    image,
    rights,
    consumedViews: [{ username: 'bob', consumed: 2 }],
    ownerSignature: { version, publicKey: owner.publicKey, signature },
  };
}

describe('offline allowance in the access rights', () => {
  it('round-trips through the rights bytes, the container and a cover, in canonical order', () => {
    const decoded = decodeRights(encodeRights(withAllowance));
    // Canonical: viewers sorted, each keeping its own allowance.
    expect(decoded.viewers).toEqual([
      { username: 'bob', quota: 7, offline: { views: 1, windowSeconds: DAY_SECONDS } },
      { username: 'carol', quota: 5, offline: { views: 2, windowSeconds: 2 * DAY_SECONDS } },
    ]);

    const payload = signedPayload(withAllowance);
    const bytes = encodeContainer(payload);
    const fromBytes = decodeContainer(bytes);
    expect(fromBytes.rights?.viewers.map((v) => v.offline)).toEqual([
      { views: 1, windowSeconds: DAY_SECONDS },
      { views: 2, windowSeconds: 2 * DAY_SECONDS },
    ]);
    expect(encodeContainer(fromBytes)).toEqual(bytes);

    const { raster } = embedContainer(randomRaster(120, 120, 3), payload);
    const extracted = extractContainer(raster);
    expect(encodeContainer(extracted)).toEqual(bytes);
    const sig = extracted.ownerSignature!;
    expect(verify(sig.publicKey, rightsSignedBytes(extracted, sig.version), sig.signature)).toBe(
      true,
    );
  });

  it('writes no block when no viewer has an allowance (older containers read the same)', () => {
    const without: AccessRights = {
      ...withAllowance,
      viewers: withAllowance.viewers.map(({ username, quota }) => ({ username, quota })),
    };
    const plain = encodeRights(without);
    const extended = encodeRights(withAllowance);
    // One marker byte plus 6 bytes (u16 views, u32 window) per viewer.
    expect(extended.length - plain.length).toBe(1 + 6 * 2);
    expect(extended.subarray(0, plain.length)).toEqual(plain);
    expect(decodeRights(plain).viewers.every((v) => v.offline === undefined)).toBe(true);
  });

  it('is covered by the owner signature: a viewer who raises the allowance breaks it', () => {
    const payload = signedPayload(withAllowance);
    const sig = payload.ownerSignature!;
    const raised: AccessRights = {
      ...withAllowance,
      viewers: withAllowance.viewers.map((v) =>
        v.username === 'bob' ? { ...v, offline: { views: 9, windowSeconds: DAY_SECONDS } } : v,
      ),
    };
    const widened: AccessRights = {
      ...withAllowance,
      viewers: withAllowance.viewers.map((v) =>
        v.username === 'bob' ? { ...v, offline: { views: 1, windowSeconds: 7 * DAY_SECONDS } } : v,
      ),
    };
    for (const edited of [raised, widened]) {
      const reread = decodeContainer(encodeContainer({ ...payload, rights: edited }));
      expect(verify(sig.publicKey, rightsSignedBytes(reread, sig.version), sig.signature)).toBe(
        false,
      );
    }
    expect(verify(sig.publicKey, rightsSignedBytes(payload, sig.version), sig.signature)).toBe(
      true,
    );
  });

  it('refuses allowances outside the limits, naming what is allowed', () => {
    const one = (offline: { views: number; windowSeconds: number }): AccessRights => ({
      owner: 'alice',
      imageId: 'img-offline',
      viewers: [{ username: 'bob', quota: 3, offline }],
    });
    expect(() =>
      encodeRights(one({ views: MAX_OFFLINE_VIEWS + 1, windowSeconds: DAY_SECONDS })),
    ).toThrow(new RegExp(`views must be an integer from 0 to ${MAX_OFFLINE_VIEWS}`));
    expect(() => encodeRights(one({ views: 1.5, windowSeconds: DAY_SECONDS }))).toThrow(
      /views must be an integer/,
    );
    expect(() =>
      encodeRights(one({ views: 1, windowSeconds: MIN_OFFLINE_WINDOW_SECONDS - 1 })),
    ).toThrow(/from 3600 \(1 hour\) to 604800 \(7 days\)/);
    expect(() =>
      encodeRights(one({ views: 1, windowSeconds: MAX_OFFLINE_WINDOW_SECONDS + 1 })),
    ).toThrow(/window/);
    // Zero offline views is a valid choice: the viewer sees nothing offline.
    expect(
      decodeRights(encodeRights(one({ views: 0, windowSeconds: DAY_SECONDS }))).viewers[0],
    ).toEqual({ username: 'bob', quota: 3, offline: { views: 0, windowSeconds: DAY_SECONDS } });
  });

  it('refuses an allowance for some viewers only', () => {
    const mixed: AccessRights = {
      ...withAllowance,
      viewers: [withAllowance.viewers[0]!, { username: 'bob', quota: 7 }],
    };
    expect(() => encodeRights(mixed)).toThrow(/every viewer has an offline allowance or none/);
  });

  it('reports a malformed block as corrupted, never as a valid allowance', () => {
    const bytes = encodeRights(withAllowance);
    const viewersEnd = bytes.length - (1 + 6 * 2);
    const unknownBlock = Uint8Array.from(bytes);
    unknownBlock[viewersEnd] = 0x02;
    expect(() => decodeRights(unknownBlock)).toThrow(/unknown block after the viewers/);
    expect(() => decodeRights(bytes.subarray(0, bytes.length - 3))).toThrow(/payload corrupted/);
    const trailing = new Uint8Array(bytes.length + 1);
    trailing.set(bytes);
    expect(() => decodeRights(trailing)).toThrow(/extra bytes after the access rights/);
    // A window of 0 seconds in the bytes breaks the format rules.
    const zeroWindow = Uint8Array.from(bytes);
    zeroWindow.fill(0, viewersEnd + 3, viewersEnd + 7);
    expect(() => decodeRights(zeroWindow)).toThrow(/break the format rules/);
  });
});
