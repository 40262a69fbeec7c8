import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_VIEWERS,
  containerSize,
  decodeContainer,
  encodeContainer,
  encodeRights,
  plainImage,
} from '../../../src/stego/index.js';
import type { ContainerPayload, PlainPayload } from '../../../src/stego/index.js';
import { crc32 } from 'node:zlib';
import { fakeJpeg, fakePng, samplePayload } from './helpers.js';

function expectCode(work: () => unknown, code: string): void {
  expect(work).toThrow(expect.objectContaining({ code }));
}

describe('container encoding', () => {
  it('round-trips every field and reports its exact size', () => {
    const payload = samplePayload();
    const bytes = encodeContainer(payload);
    expect(bytes.length).toBe(containerSize(payload));
    expect(decodeContainer(bytes)).toEqual(payload);
  });

  it('starts with the documented fixed header', () => {
    const bytes = encodeContainer(samplePayload());
    expect(Buffer.from(bytes.subarray(0, 4)).toString('ascii')).toBe('CP2P');
    expect(bytes[4]).toBe(1);
    expect(bytes[5]).toBe(0);
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(8)).toBe(bytes.length - HEADER_BYTES);
    expect(view.getUint32(44)).toBe(crc32(bytes.subarray(0, 44)));
    expect(bytes[HEADER_BYTES]).toBe(0x01); // first section: the hidden image
  });

  it('is canonical: viewer order in the input does not change the bytes', () => {
    const a = samplePayload();
    const b = samplePayload();
    b.rights!.viewers.reverse();
    b.consumedViews!.reverse();
    expect(Buffer.from(encodeContainer(a)).equals(Buffer.from(encodeContainer(b)))).toBe(true);
  });

  it('encodes the rights without the consumed counters (what a signature will cover)', () => {
    const payload = samplePayload();
    const rights = encodeRights(payload.rights!);
    expect(Buffer.from(rights).toString('latin1')).toBe(
      '\x05alice\x05img-1\x00\x02\x03bob\x00\x00\x00\x03\x05carol\x00\x00\x00\x01',
    );
  });

  it('omits rights, counters and message when absent', () => {
    const payload: ContainerPayload = { image: { mediaType: 'image/png', bytes: fakePng(60) } };
    const bytes = encodeContainer(payload);
    expect(bytes.length).toBe(HEADER_BYTES + 5 + 1 + 60);
    expect(decodeContainer(bytes)).toEqual(payload);
  });

  it('round-trips random payloads (property)', () => {
    const username = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.integer(),
        fc.boolean(),
        username,
        fc.uniqueArray(fc.record({ username, quota: fc.integer({ min: 0, max: 1_000_000 }) }), {
          selector: (viewer) => viewer.username,
          maxLength: 8,
        }),
        fc.option(fc.string({ minLength: 1, maxLength: 50, unit: 'grapheme' }), { nil: undefined }),
        (extra, seed, png, owner, viewers, message) => {
          const bytes = png ? fakePng(60 + extra, seed) : fakeJpeg(6 + extra, seed);
          const payload: ContainerPayload = {
            image: { mediaType: png ? 'image/png' : 'image/jpeg', bytes },
            rights: { owner, imageId: 'x', viewers },
            consumedViews: viewers.map((viewer, i) => ({ username: viewer.username, consumed: i })),
            ...(message !== undefined ? { message } : {}),
          };
          const decoded = decodeContainer(encodeContainer(payload));
          expect(plainImage(decoded).bytes).toEqual(bytes);
          expect(decoded.message).toBe(message);
          const sorted = [...viewers].sort((a, b) => (a.username < b.username ? -1 : 1));
          expect(decoded.rights?.viewers).toEqual(sorted);
          for (const entry of decoded.consumedViews ?? []) {
            expect(entry.consumed).toBe(viewers.findIndex((v) => v.username === entry.username));
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('container validation (payload_invalid)', () => {
  const base = samplePayload;
  it.each([
    [
      'a truncated hidden PNG',
      (p: PlainPayload) =>
        void (p.image = { mediaType: 'image/png', bytes: fakePng(80).subarray(0, 70) }),
    ],
    [
      'a hidden JPEG without its end marker',
      (p: PlainPayload) => void (p.image.bytes = p.image.bytes.subarray(0, 400)),
    ],
    ['an empty hidden image', (p: PlainPayload) => void (p.image.bytes = new Uint8Array(0))],
    [
      'a non-image hidden file',
      (p: PlainPayload) => void (p.image.bytes = new TextEncoder().encode('hello')),
    ],
    [
      'a media type that does not match the bytes',
      (p: PlainPayload) => void (p.image.mediaType = 'image/png'),
    ],
    ['a username with a space', (p: PlainPayload) => void (p.rights!.owner = 'al ice')],
    [
      'a username starting with a dot',
      (p: PlainPayload) => void (p.rights!.viewers[0]!.username = '.bob'),
    ],
    ['a 33-character username', (p: PlainPayload) => void (p.rights!.owner = 'a'.repeat(33))],
    ['a non-ASCII username', (p: PlainPayload) => void (p.rights!.owner = 'élise')],
    ['an image id with a slash', (p: PlainPayload) => void (p.rights!.imageId = 'a/b')],
    ['a negative quota', (p: PlainPayload) => void (p.rights!.viewers[0]!.quota = -1)],
    ['a fractional quota', (p: PlainPayload) => void (p.rights!.viewers[0]!.quota = 1.5)],
    [
      'a quota above 1,000,000',
      (p: PlainPayload) => void (p.rights!.viewers[0]!.quota = 1_000_001),
    ],
    [
      'a duplicate viewer',
      (p: PlainPayload) => void p.rights!.viewers.push({ username: 'bob', quota: 1 }),
    ],
    [
      'counters for a non-viewer',
      (p: PlainPayload) => void p.consumedViews!.push({ username: 'dave', consumed: 1 }),
    ],
    [
      'a message over the limit',
      (p: PlainPayload) => void (p.message = 'x'.repeat(MAX_MESSAGE_BYTES + 1)),
    ],
    ['a lone surrogate in the message', (p: PlainPayload) => void (p.message = 'a\ud800b')],
    [
      'too many viewers',
      (p: PlainPayload) =>
        void (p.rights!.viewers = Array.from({ length: MAX_VIEWERS + 1 }, (_, i) => ({
          username: `u${i}`,
          quota: 1,
        }))),
    ],
  ])('refuses %s', (_name, mutate) => {
    const payload = base();
    mutate(payload);
    expectCode(() => encodeContainer(payload), 'payload_invalid');
    expectCode(() => containerSize(payload), 'payload_invalid');
  });

  it('accepts the limits themselves', () => {
    const payload = base();
    payload.message = 'x'.repeat(MAX_MESSAGE_BYTES);
    payload.rights!.viewers = Array.from({ length: MAX_VIEWERS }, (_, i) => ({
      username: `u${i}`,
      quota: 1_000_000,
    }));
    payload.rights!.owner = 'a'.repeat(32);
    payload.consumedViews = [];
    expect(decodeContainer(encodeContainer(payload)).rights?.viewers).toHaveLength(MAX_VIEWERS);
  });
});

describe('container decoding', () => {
  function withHeaderCrc(bytes: Uint8Array): Uint8Array {
    new DataView(bytes.buffer).setUint32(44, crc32(bytes.subarray(0, 44)));
    return bytes;
  }

  it('says "no payload" for bytes without the magic', () => {
    expectCode(() => decodeContainer(new Uint8Array(200)), 'no_payload');
  });

  it('says "corrupted" for any single flipped bit (every position of a small container)', () => {
    const bytes = encodeContainer({ image: { mediaType: 'image/png', bytes: fakePng(60) } });
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const damaged = bytes.slice();
      damaged[bit >> 3]! ^= 0x80 >> (bit & 7);
      expectCode(() => decodeContainer(damaged), 'payload_corrupted');
    }
  });

  it('refuses newer versions and reserved flags as unsupported, not corrupted', () => {
    const newer = encodeContainer(samplePayload());
    newer[4] = 2;
    expectCode(() => decodeContainer(withHeaderCrc(newer)), 'payload_unsupported');
    const unknownFlag = encodeContainer(samplePayload());
    unknownFlag[5] = 0x04;
    expectCode(() => decodeContainer(withHeaderCrc(unknownFlag)), 'payload_unsupported');
    // A known flag without its section is damage, not a newer feature.
    const signedWithoutSignature = encodeContainer(samplePayload());
    signedWithoutSignature[5] = 0x01;
    expectCode(() => decodeContainer(withHeaderCrc(signedWithoutSignature)), 'payload_corrupted');
  });

  it('refuses a body length beyond the carrier', () => {
    const bytes = encodeContainer(samplePayload());
    expectCode(() => decodeContainer(bytes.subarray(0, bytes.length - 1)), 'payload_corrupted');
  });
});
