import { describe, expect, it } from 'vitest';
import { generateIdentity, sign, verify } from '../../../src/identity/keys.js';
import { open, seal } from '../../../src/identity/seal.js';
import {
  ContainerFlag,
  HEADER_BYTES,
  containerSize,
  decodeContainer,
  encodeContainer,
  hiddenImageFromPlaintext,
  plainImage,
  rightsSignedBytes,
  sealablePlaintext,
} from '../../../src/stego/index.js';
import type { AccessRights, ContainerPayload, SealedPayload } from '../../../src/stego/index.js';
import { fakeJpeg } from './helpers.js';

const owner = generateIdentity();
const viewer = generateIdentity();
const rights: AccessRights = {
  owner: 'alice',
  imageId: 'img-1',
  viewers: [{ username: 'bob', quota: 3 }],
};
const context = new TextEncoder().encode('alice|img-1|bob');

function sealedSignedPayload(version = 1, quota = 3): SealedPayload {
  const image = { mediaType: 'image/jpeg' as const, bytes: fakeJpeg(800) };
  const sealedImage = seal(sealablePlaintext(image), viewer.publicKey, context);
  const r: AccessRights = { ...rights, viewers: [{ username: 'bob', quota }] };
  const signature = sign(owner, rightsSignedBytes({ rights: r, sealedImage }, version));
  return {
    sealedImage,
    rights: r,
    consumedViews: [{ username: 'bob', consumed: 1 }],
    ownerSignature: { version, publicKey: owner.publicKey, signature },
  };
}

describe('signed and sealed containers', () => {
  it('round-trip with both flags set and sizes predicted exactly', () => {
    const payload = sealedSignedPayload(7);
    const bytes = encodeContainer(payload);
    expect(bytes.length).toBe(containerSize(payload));
    expect(bytes[5]).toBe(ContainerFlag.signed | ContainerFlag.encrypted);
    const decoded = decodeContainer(bytes) as SealedPayload;
    expect(decoded.image).toBeUndefined();
    expect(decoded.sealedImage).toEqual(payload.sealedImage);
    expect(decoded.ownerSignature).toEqual(payload.ownerSignature);
    expect(decoded.consumedViews).toEqual([{ username: 'bob', consumed: 1 }]);
    expect(encodeContainer(decoded)).toEqual(bytes); // canonical
  });

  it('lets only the viewer open the image, byte-identical', () => {
    const decoded = decodeContainer(encodeContainer(sealedSignedPayload())) as SealedPayload;
    const opened = hiddenImageFromPlaintext(
      open(decoded.sealedImage, viewer.seed, viewer.publicKey, context),
    );
    expect(opened.mediaType).toBe('image/jpeg');
    expect(opened.bytes.length).toBe(800);
    const stranger = generateIdentity();
    expect(() => open(decoded.sealedImage, stranger.seed, stranger.publicKey, context)).toThrow(
      /another user/,
    );
    expect(() => plainImage(decoded)).toThrow(/sealed to a viewer/);
  });

  it('detects a hand-edited quota: the signature no longer verifies', () => {
    const decoded = decodeContainer(encodeContainer(sealedSignedPayload(1, 3))) as SealedPayload;
    const sig = decoded.ownerSignature!;
    expect(verify(sig.publicKey, rightsSignedBytes(decoded, sig.version), sig.signature)).toBe(
      true,
    );
    const edited: ContainerPayload = {
      ...decoded,
      rights: { ...rights, viewers: [{ username: 'bob', quota: 300 }] },
    };
    const reread = decodeContainer(encodeContainer(edited));
    expect(verify(sig.publicKey, rightsSignedBytes(reread, sig.version), sig.signature)).toBe(
      false,
    );
  });

  it('binds the signature to the image and to the version', () => {
    const a = sealedSignedPayload(2);
    const b = sealedSignedPayload(2);
    const sig = a.ownerSignature!;
    // Moving a's signed rights onto b's image, or replaying it as another version, fails.
    expect(
      verify(
        sig.publicKey,
        rightsSignedBytes({ rights: a.rights, sealedImage: b.sealedImage }, 2),
        sig.signature,
      ),
    ).toBe(false);
    expect(verify(sig.publicKey, rightsSignedBytes(a, 3), sig.signature)).toBe(false);
    expect(verify(sig.publicKey, rightsSignedBytes(a, 2), sig.signature)).toBe(true);
  });

  it('does not cover consumed views, which the viewer updates', () => {
    const payload = sealedSignedPayload(1);
    const later = { ...payload, consumedViews: [{ username: 'bob', consumed: 3 }] };
    const sig = payload.ownerSignature!;
    expect(
      verify(
        sig.publicKey,
        rightsSignedBytes(decodeContainer(encodeContainer(later)), 1),
        sig.signature,
      ),
    ).toBe(true);
  });

  it('refuses invalid combinations with payload_invalid', () => {
    const payload = sealedSignedPayload();
    expect(() => encodeContainer({ ...payload, rights: undefined } as ContainerPayload)).toThrow(
      /needs access rights/,
    );
    expect(() =>
      encodeContainer({
        ...payload,
        image: { mediaType: 'image/jpeg', bytes: fakeJpeg(100) },
      } as unknown as ContainerPayload),
    ).toThrow(/either a plain or a sealed image/);
    expect(() => encodeContainer({ ...payload, sealedImage: new Uint8Array(10) })).toThrow(
      /sealed image must be/,
    );
    expect(() =>
      encodeContainer({ ...payload, ownerSignature: { ...payload.ownerSignature!, version: 0 } }),
    ).toThrow(/rights version/);
    expect(() =>
      encodeContainer({
        ...payload,
        ownerSignature: { ...payload.ownerSignature!, signature: new Uint8Array(63) },
      }),
    ).toThrow(/64 bytes/);
  });

  it('reports a flipped flag as corruption', () => {
    const bytes = encodeContainer(sealedSignedPayload());
    const view = new DataView(bytes.buffer);
    bytes[5] = ContainerFlag.encrypted; // claims unsigned but carries a signature section
    view.setUint32(44, crc(bytes.subarray(0, 44)));
    expect(() => decodeContainer(bytes)).toThrow(/signed flag and the signature section disagree/);
    expect(HEADER_BYTES).toBe(48);
  });
});

function crc(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
