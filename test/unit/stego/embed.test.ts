import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CapacityError,
  capacityBytesFor,
  containerSize,
  embedContainer,
  embedSeedText,
  extractContainer,
  extractSeedText,
  smallestCoverFor,
  updateConsumedViewsInRaster,
  plainImage,
} from '../../../src/stego/index.js';
import type { ContainerPayload, Raster } from '../../../src/stego/index.js';
import { fakePng, randomRaster, samplePayload } from './helpers.js';

function payloadOfSize(totalBytes: number): ContainerPayload {
  // Container overhead without rights/message: 48 header + 5 section header + 1 media type.
  return { image: { mediaType: 'image/png', bytes: fakePng(totalBytes - 54) } };
}

describe('embedding and extracting a container', () => {
  it.each([3, 4] as const)('round-trips in a %i-channel raster and keeps alpha', (channels) => {
    const cover = randomRaster(97, 61, channels);
    const payload = samplePayload();
    const { raster, embeddedBytes } = embedContainer(cover, payload);
    expect(embeddedBytes).toBe(containerSize(payload));
    expect(extractContainer(raster)).toEqual(payload);
    for (let i = 0; i < cover.data.length; i++) {
      const changed = (raster.data[i] as number) ^ (cover.data[i] as number);
      expect(changed & 0xfe).toBe(0); // only LSBs change
      if (channels === 4 && i % 4 === 3) expect(changed).toBe(0); // alpha untouched
    }
    expect(cover.data).toEqual(randomRaster(97, 61, channels).data); // input not mutated
  });

  it('is deterministic', () => {
    const cover = randomRaster(64, 64, 3);
    const a = embedContainer(cover, samplePayload()).raster.data;
    const b = embedContainer(cover, samplePayload()).raster.data;
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('uses R, G, B LSBs in row-major order, most significant bit first', () => {
    const cover: Raster = { width: 4, height: 80, channels: 4, data: new Uint8Array(4 * 80 * 4) };
    const { raster } = embedContainer(cover, payloadOfSize(54 + 60));
    const bits: number[] = [];
    for (let p = 0; p < 11; p++)
      for (let c = 0; c < 3; c++) bits.push((raster.data[p * 4 + c] as number) & 1);
    const firstBytes = [0, 1, 2, 3].map((b) => parseInt(bits.slice(b * 8, b * 8 + 8).join(''), 2));
    expect(String.fromCharCode(...firstBytes)).toBe('CP2P');
  });

  it('fits a payload exactly at capacity and refuses one byte more', () => {
    const cover = randomRaster(40, 30, 3); // 40*30*3/8 = 450 bytes
    const capacity = capacityBytesFor(40, 30);
    expect(capacity).toBe(450);
    const fits = payloadOfSize(capacity);
    expect(containerSize(fits)).toBe(capacity);
    expect(extractContainer(embedContainer(cover, fits).raster)).toEqual(fits);
    const tooBig = payloadOfSize(capacity + 1);
    let error: unknown;
    try {
      embedContainer(cover, tooBig);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CapacityError);
    const capacityError = error as CapacityError;
    expect(capacityError.code).toBe('capacity_exceeded');
    expect(capacityError.exitCode).toBe(6);
    expect(capacityError.neededBytes).toBe(451);
    expect(capacityError.availableBytes).toBe(450);
    expect(capacityError.message).toContain('needs 451 bytes');
    expect(capacityError.message).toContain('holds 450 bytes');
    const smallest = capacityError.smallestCover;
    expect(capacityError.message).toContain(`${smallest.width}x${smallest.height}`);
    expect(capacityBytesFor(smallest.width, smallest.height)).toBeGreaterThanOrEqual(451);
  });

  it('suggests the smallest cover with the same aspect ratio', () => {
    for (const [needed, w, h] of [
      [451, 40, 30],
      [200_000, 800, 600],
      [1_000_000, 1280, 960],
      [5000, 1, 1000],
    ] as const) {
      const size = smallestCoverFor(needed, w, h);
      expect(capacityBytesFor(size.width, size.height)).toBeGreaterThanOrEqual(needed);
      // One pixel less on either side no longer fits, or breaks the aspect ratio by more than a pixel.
      expect(
        capacityBytesFor(size.width - 1, size.height) < needed ||
          capacityBytesFor(size.width, size.height - 1) < needed,
      ).toBe(true);
      expect(Math.abs(size.width / size.height - w / h)).toBeLessThan(
        w / h / Math.min(size.width, size.height) + 0.01,
      );
    }
  });

  it('says "no payload" for a plain image and for one too small to hold a header', () => {
    expect(() => extractContainer(randomRaster(50, 50, 3))).toThrow(
      expect.objectContaining({ code: 'no_payload', exitCode: 4 }),
    );
    expect(() => extractContainer(randomRaster(10, 10, 3))).toThrow(
      expect.objectContaining({ code: 'no_payload' }),
    );
  });

  it('says "corrupted" when pixel LSBs in the header, body or tail of the payload are flipped', () => {
    const cover = randomRaster(80, 80, 3);
    const { raster, embeddedBytes } = embedContainer(cover, samplePayload());
    for (const bit of [5, 100, 48 * 8 + 3, embeddedBytes * 8 - 1]) {
      const damaged = { ...raster, data: raster.data.slice() };
      damaged.data[bit]! ^= 1;
      expect(() => extractContainer(damaged)).toThrow(
        expect.objectContaining({ code: 'payload_corrupted', exitCode: 5 }),
      );
    }
    // Bits after the payload are free: flipping them changes nothing.
    const after = { ...raster, data: raster.data.slice() };
    after.data[embeddedBytes * 8 + 10]! ^= 1;
    expect(extractContainer(after)).toEqual(samplePayload());
  });

  it('rewrites consumed views in place, changing only LSBs of the container', () => {
    const { raster } = embedContainer(randomRaster(90, 90, 4), samplePayload());
    const updated = updateConsumedViewsInRaster(raster, [{ username: 'carol', consumed: 1 }]);
    const extracted = extractContainer(updated.raster);
    expect(extracted.consumedViews).toEqual([
      { username: 'bob', consumed: 1 },
      { username: 'carol', consumed: 1 },
    ]);
    expect(plainImage(extracted).bytes).toEqual(samplePayload().image.bytes);
    expect(() =>
      updateConsumedViewsInRaster(raster, [{ username: 'mallory', consumed: 1 }]),
    ).toThrow(expect.objectContaining({ code: 'payload_invalid' }));
  });

  it('round-trips random payloads in random covers (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 12, max: 70 }),
        fc.integer({ min: 12, max: 70 }),
        fc.constantFrom(3 as const, 4 as const),
        fc.integer(),
        fc.integer({ min: 0, max: 600 }),
        (width, height, channels, seed, extra) => {
          const cover = randomRaster(width, height, channels, seed);
          const bytes = fakePng(57 + extra, seed);
          const payload: ContainerPayload = { image: { mediaType: 'image/png', bytes } };
          if (containerSize(payload) > capacityBytesFor(width, height)) {
            expect(() => embedContainer(cover, payload)).toThrow(CapacityError);
            return;
          }
          expect(extractContainer(embedContainer(cover, payload).raster)).toEqual(payload);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('seed CloudP2P text mode', () => {
  it('matches the seed format bit for bit: 4-byte BE length, UTF-8, RGB LSBs, MSB first', () => {
    const cover: Raster = {
      width: 8,
      height: 8,
      channels: 3,
      data: new Uint8Array(8 * 8 * 3).fill(0xaa),
    };
    const { raster } = embedSeedText(cover, 'Hi');
    const stream = [0, 0, 0, 2, 0x48, 0x69];
    for (let bit = 0; bit < stream.length * 8; bit++) {
      const expected = ((stream[bit >> 3] as number) >> (7 - (bit & 7))) & 1;
      expect(raster.data[bit]).toBe(0xaa | expected);
    }
    expect(raster.data[stream.length * 8]).toBe(0xaa); // untouched after the text
    expect(extractSeedText(raster)).toBe('Hi');
  });

  it('round-trips Unicode text and skips alpha', () => {
    const { raster } = embedSeedText(randomRaster(30, 30, 4), 'Grüße, 世界 🌍\n');
    expect(extractSeedText(raster)).toBe('Grüße, 世界 🌍\n');
  });

  it('refuses an empty text and a text that does not fit', () => {
    expect(() => embedSeedText(randomRaster(10, 10, 3), '')).toThrow(
      expect.objectContaining({ code: 'payload_invalid' }),
    );
    // 10x10 RGB holds 37 bytes: 4 length + 33 text.
    expect(
      extractSeedText(embedSeedText(randomRaster(10, 10, 3), 'x'.repeat(33)).raster),
    ).toHaveLength(33);
    expect(() => embedSeedText(randomRaster(10, 10, 3), 'x'.repeat(34))).toThrow(CapacityError);
  });

  it('says "no payload" for plain images (length out of range, zero, not UTF-8 or control characters)', () => {
    for (let seed = 1; seed <= 30; seed++) {
      expect(() => extractSeedText(randomRaster(40, 40, 3, seed))).toThrow(
        expect.objectContaining({ code: 'no_payload' }),
      );
    }
    const flat: Raster = { width: 40, height: 40, channels: 3, data: new Uint8Array(40 * 40 * 3) };
    expect(() => extractSeedText(flat)).toThrow(expect.objectContaining({ code: 'no_payload' }));
    const container = embedContainer(randomRaster(80, 80, 3), samplePayload()).raster;
    expect(() => extractSeedText(container)).toThrow(
      expect.objectContaining({ code: 'no_payload' }),
    );
  });
});
