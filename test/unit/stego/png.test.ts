import fc from 'fast-check';
import sharp from 'sharp';
import { constants, crc32, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CoverPngCache, embedContainer, encodePng, openFastPng } from '../../../src/stego/index.js';
import { adler32, adler32Combine } from '../../../src/stego/png-encode.js';
import { decodeWithPngjs, randomRaster, samplePayload } from './helpers.js';
import { renderSyntheticPhoto } from '../../../scripts/synthetic-photo.js';

const NO_LIMIT = 1e9;

describe('PNG encoder', () => {
  it.each([
    [1, 1, 3],
    [1, 1, 4],
    [17, 33, 3],
    [64, 16, 4],
    [31, 47, 4],
  ] as const)(
    'writes a %ix%i %i-channel PNG that pngjs (an independent decoder) reads back exactly',
    (w, h, c) => {
      const raster = randomRaster(w, h, c, w * h);
      expect(decodeWithPngjs(encodePng(raster), c)).toEqual(raster);
    },
  );

  it('encodes photographic, flat and stego content losslessly (pngjs and sharp agree)', async () => {
    const photo = renderSyntheticPhoto({ width: 160, height: 120, seed: 3 });
    const flat = {
      width: 50,
      height: 40,
      channels: 3 as const,
      data: new Uint8Array(50 * 40 * 3).fill(200),
    };
    const stego = embedContainer(photo, samplePayload()).raster;
    for (const raster of [photo, flat, stego]) {
      const png = encodePng(raster);
      expect(decodeWithPngjs(png, 3)).toEqual(raster);
      const viaSharp = await sharp(png).raw().toBuffer();
      expect(new Uint8Array(viaSharp)).toEqual(raster.data);
    }
  });

  it('gives byte-identical output with or without the cover cache', () => {
    const cover = renderSyntheticPhoto({ width: 120, height: 100, seed: 5 });
    const cache = new CoverPngCache(cover);
    const stego = embedContainer(cover, samplePayload()).raster;
    const plain = encodePng(stego);
    expect(Buffer.from(encodePng(stego, cache)).equals(Buffer.from(plain))).toBe(true);
    expect(Buffer.from(encodePng(stego, cache.warm())).equals(Buffer.from(plain))).toBe(true);
    expect(Buffer.from(encodePng(cover, cache)).equals(Buffer.from(encodePng(cover)))).toBe(true);
    // A cache for another image is never used wrongly.
    const other = new CoverPngCache(
      renderSyntheticPhoto({ width: 120, height: 100, seed: 6 }),
    ).warm();
    expect(Buffer.from(encodePng(stego, other)).equals(Buffer.from(plain))).toBe(true);
  });

  it('computes Adler-32 like zlib, and combines it', () => {
    const bytes = randomRaster(300, 100, 3).data;
    const fromZlib = new DataView(deflateSync(bytes, { level: 0 }).buffer).getUint32(
      deflateSync(bytes, { level: 0 }).length - 4,
    );
    expect(adler32(bytes)).toBe(fromZlib);
    const split = 12345;
    expect(
      adler32Combine(
        adler32(bytes.subarray(0, split)),
        adler32(bytes.subarray(split)),
        bytes.length - split,
      ),
    ).toBe(fromZlib);
  });

  it('round-trips random rasters through our encoder and pngjs (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(3 as const, 4 as const),
        fc.integer(),
        (w, h, c, seed) => {
          const raster = randomRaster(w, h, c, seed);
          expect(decodeWithPngjs(encodePng(raster), c)).toEqual(raster);
          expect(openFastPng(encodePng(raster), NO_LIMIT)?.decodeRows(h)).toEqual(raster);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('fast PNG decoder', () => {
  it('decodes all five filter types written by another encoder', async () => {
    const photo = renderSyntheticPhoto({ width: 90, height: 70, seed: 9, channels: 4 });
    const png = await sharp(photo.data, { raw: { width: 90, height: 70, channels: 4 } })
      .png({ adaptiveFiltering: true, compressionLevel: 9 })
      .toBuffer();
    expect(openFastPng(png, NO_LIMIT)?.decodeRows(70)).toEqual(photo);
  });

  it('decodes only the rows asked for', () => {
    const raster = randomRaster(50, 400, 3);
    const source = openFastPng(encodePng(raster), NO_LIMIT)!;
    const top = source.decodeRows(10);
    expect(top.data.subarray(0, 10 * 150)).toEqual(raster.data.subarray(0, 10 * 150));
    expect(top.data.subarray(11 * 150).every((v) => v === 0)).toBe(true);
    expect(source.decodeRows(400)).toEqual(raster);
  });

  it('leaves 16-bit, grey, palette and interlaced PNGs to sharp', async () => {
    const photo = renderSyntheticPhoto({ width: 20, height: 20, seed: 1 });
    const input = () => sharp(photo.data, { raw: { width: 20, height: 20, channels: 3 } });
    for (const png of [
      await input().toColourspace('rgb16').png().toBuffer(),
      await input().toColourspace('b-w').png().toBuffer(),
      await input().png({ palette: true }).toBuffer(),
      await input().png({ progressive: true }).toBuffer(),
    ]) {
      expect(openFastPng(png, NO_LIMIT)).toBeUndefined();
    }
  });

  it('refuses corrupt files with clear errors', () => {
    const png = encodePng(randomRaster(30, 30, 3));
    const badCrc = png.slice();
    badCrc[20]! ^= 1; // inside IHDR
    expect(() => openFastPng(badCrc, NO_LIMIT)).toThrow(/CRC of chunk "IHDR"/);
    expect(() => openFastPng(png.subarray(0, png.length - 20), NO_LIMIT)).toThrow(
      expect.objectContaining({ code: 'image_invalid' }),
    );
    expect(() => openFastPng(png, 899)).toThrow(
      expect.objectContaining({ code: 'image_too_large' }),
    );
  });

  it('refuses IDAT data that inflates to more than the image size', () => {
    const ihdr = Uint8Array.of(0, 0, 0, 4, 0, 0, 0, 4, 8, 2, 0, 0, 0);
    const chunk = (type: string, data: Uint8Array) => {
      const out = Buffer.alloc(12 + data.length);
      out.writeUInt32BE(data.length, 0);
      out.write(type, 4, 'ascii');
      Buffer.from(data).copy(out, 8);
      out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
      return out;
    };
    const bomb = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', deflateSync(Buffer.alloc(1_000_000), { strategy: constants.Z_RLE })),
      chunk('IEND', new Uint8Array(0)),
    ]);
    expect(() => openFastPng(bomb, NO_LIMIT)?.decodeRows(4)).toThrow(
      expect.objectContaining({ code: 'image_invalid' }),
    );
  });
});
