import { readFile } from 'node:fs/promises';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  decodeCover,
  embedImage,
  extractImage,
  readImageHeader,
  plainImage,
} from '../../../src/stego/index.js';
import { packagePath } from '../../../src/util/package-info.js';
import { renderSyntheticPhoto } from '../../../scripts/synthetic-photo.js';

const photo = renderSyntheticPhoto({ width: 240, height: 180, seed: 11, channels: 4 });
const rgbPhoto = renderSyntheticPhoto({ width: 240, height: 180, seed: 11 });
const rgba = () => sharp(photo.data, { raw: { width: 240, height: 180, channels: 4 } });
const rgb = () => sharp(rgbPhoto.data, { raw: { width: 240, height: 180, channels: 3 } });
const hiddenJpeg = await rgb().resize(60, 45).jpeg({ quality: 80 }).toBuffer();

function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A tiny PNG whose header claims width x height: a decompression bomb if trusted. */
function craftedPng(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(100_000))),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

describe('covers of every supported kind', () => {
  const covers: [string, () => Promise<Buffer>, 3 | 4][] = [
    ['8-bit RGB PNG', () => rgb().png().toBuffer(), 3],
    ['8-bit RGBA PNG', () => rgba().png().toBuffer(), 4],
    ['16-bit RGB PNG', () => rgb().toColourspace('rgb16').png().toBuffer(), 3],
    ['16-bit RGBA PNG', () => rgba().toColourspace('rgb16').png().toBuffer(), 4],
    ['grey PNG', () => rgb().toColourspace('b-w').png().toBuffer(), 3],
    ['grey+alpha PNG', () => rgba().toColourspace('b-w').png().toBuffer(), 4],
    ['16-bit grey PNG', () => rgb().toColourspace('grey16').png().toBuffer(), 3],
    ['palette PNG', () => rgb().png({ palette: true, colours: 32 }).toBuffer(), 3],
    ['palette PNG with transparency', () => rgba().png({ palette: true }).toBuffer(), 4],
    ['interlaced PNG', () => rgb().png({ progressive: true }).toBuffer(), 3],
    ['baseline JPEG', () => rgb().jpeg().toBuffer(), 3],
    ['progressive JPEG', () => rgb().jpeg({ progressive: true }).toBuffer(), 3],
    ['grey JPEG', () => rgb().toColourspace('b-w').jpeg().toBuffer(), 3],
  ];
  it.each(covers)(
    'embeds into a %s and extracts byte-identically',
    async (_name, make, channels) => {
      const cover = await make();
      const result = await embedImage(hiddenJpeg, { cover, message: 'x' });
      const meta = await sharp(result.png).metadata();
      expect(meta).toMatchObject({
        format: 'png',
        width: 240,
        height: 180,
        channels,
        depth: 'uchar',
      });
      const payload = await extractImage(result.png);
      expect(Buffer.from(plainImage(payload).bytes).equals(hiddenJpeg)).toBe(true);
      expect(plainImage(payload).mediaType).toBe('image/jpeg');
    },
  );

  it('keeps the alpha channel of an RGBA cover exactly', async () => {
    const result = await embedImage(hiddenJpeg, { cover: await rgba().png().toBuffer() });
    const out = await sharp(result.png).raw().toBuffer();
    for (let i = 3; i < out.length; i += 4) expect(out[i]).toBe(photo.data[i]);
  });

  it('converts 16-bit samples to their high byte', async () => {
    const decoded = await decodeCover(await rgb().toColourspace('rgb16').png().toBuffer());
    expect(decoded.data).toEqual(rgbPhoto.data);
  });

  it('hides PNG files too, and the shipped samples', async () => {
    for (const name of [
      'small.png',
      'alpha.png',
      'grey.png',
      'palette.png',
      'deep16.png',
      'interlaced.png',
    ]) {
      const hidden = await readFile(packagePath('assets', 'samples', name));
      const payload = await extractImage((await embedImage(hidden)).png);
      expect(plainImage(payload).mediaType).toBe('image/png');
      expect(Buffer.from(plainImage(payload).bytes).equals(hidden)).toBe(true);
    }
  });
});

describe('bad inputs get clear errors, never a crash', () => {
  const cases: [string, () => Promise<Uint8Array>, string, RegExp][] = [
    ['an empty file', async () => new Uint8Array(0), 'image_invalid', /empty/],
    [
      'a text file',
      async () => new TextEncoder().encode('hello, not an image'),
      'image_invalid',
      /not a PNG or JPEG/,
    ],
    [
      'a truncated PNG',
      async () => (await rgb().png().toBuffer()).subarray(0, 3000),
      'image_invalid',
      /truncated|corrupt|damaged/,
    ],
    [
      'a truncated JPEG',
      async () => (await rgb().jpeg().toBuffer()).subarray(0, 2000),
      'image_invalid',
      /truncated|corrupt|premature/,
    ],
    [
      'a JPEG cut inside its header',
      async () => (await rgb().jpeg().toBuffer()).subarray(0, 100),
      'image_invalid',
      /damaged/,
    ],
    [
      'a PNG with a corrupt IHDR CRC',
      async () => {
        const png = Buffer.from(await rgb().png().toBuffer());
        png[29]! ^= 0xff;
        return png;
      },
      'image_invalid',
      /CRC|damaged/,
    ],
    ['a zero-width PNG header', async () => craftedPng(0, 100), 'image_invalid', /.+/],
    ['a GIF', async () => rgb().gif().toBuffer(), 'image_unsupported', /GIF.*only PNG and JPEG/],
    ['a WebP', async () => rgb().webp().toBuffer(), 'image_unsupported', /WEBP/],
    ['a TIFF', async () => rgb().tiff().toBuffer(), 'image_unsupported', /TIFF/],
    [
      'a BMP',
      async () => Buffer.concat([Buffer.from('BM'), Buffer.alloc(100)]),
      'image_unsupported',
      /BMP/,
    ],
    [
      'a 100000x100000 PNG header (decompression bomb)',
      async () => craftedPng(100_000, 100_000),
      'image_too_large',
      /10000000000 pixels\); the limit is 40000000 pixels/,
    ],
  ];

  it.each(cases)('as a cover: %s', async (_name, make, code, message) => {
    const error = await embedImage(hiddenJpeg, { cover: await make() }).catch(
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ code, exitCode: 3 });
    expect((error as Error).message).toMatch(message);
  });

  it.each(cases)('as an image to extract from: %s', async (_name, make, code) => {
    await expect(extractImage(await make())).rejects.toMatchObject({ code, exitCode: 3 });
  });

  it.each(cases.filter(([, , code]) => code !== 'image_too_large'))(
    'as the image to hide: %s',
    async (_name, make) => {
      await expect(embedImage(await make())).rejects.toMatchObject({ exitCode: 3 });
    },
  );

  it('refuses a cover over a custom pixel limit from its header', async () => {
    await expect(
      readImageHeader(await rgb().png().toBuffer(), { maxPixels: 1000 }),
    ).rejects.toMatchObject({
      code: 'image_too_large',
    });
  });

  it('refuses a cover too small for the payload before decoding it', async () => {
    const tiny = await rgb().resize(20, 15).png().toBuffer();
    await expect(embedImage(hiddenJpeg, { cover: tiny })).rejects.toMatchObject({
      code: 'capacity_exceeded',
      exitCode: 6,
    });
  });

  it('says "no payload" for plain images and "corrupted" for damaged stego PNGs', async () => {
    await expect(extractImage(await rgb().png().toBuffer())).rejects.toMatchObject({
      code: 'no_payload',
      exitCode: 4,
    });
    await expect(extractImage(await rgb().jpeg().toBuffer())).rejects.toMatchObject({
      code: 'no_payload',
    });
    const result = await embedImage(hiddenJpeg, { cover: await rgb().png().toBuffer() });
    const raster = await decodeCover(result.png);
    raster.data[400]! ^= 1;
    const { encodePng } = await import('../../../src/stego/index.js');
    await expect(extractImage(encodePng(raster))).rejects.toMatchObject({
      code: 'payload_corrupted',
      exitCode: 5,
    });
  });
});
