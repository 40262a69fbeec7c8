/**
 * `capacity` (and so `cloudp2p stego capacity`) must give embed's verdict: every file embed
 * refuses is refused with the same error, and "fits" means embed succeeds. Each case below
 * once got "fits" (or a size) from capacity and an error from embed.
 */
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { capacity, embedImage } from '../../../src/stego/index.js';
import type { CapacityOptions, EmbedImageOptions } from '../../../src/stego/index.js';
import { pngChunk } from './helpers.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function png(
  width: number,
  height: number,
  options: { colourType?: number; idat?: Uint8Array } = {},
): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = options.colourType ?? 2;
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', options.idat ?? deflateSync(Buffer.alloc(1000))),
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

const goodPng = await sharp({
  create: { width: 300, height: 200, channels: 3, background: '#4080c0' },
})
  .png()
  .toBuffer();
const goodJpeg = await sharp({
  create: { width: 64, height: 48, channels: 3, background: '#336699' },
})
  .jpeg()
  .toBuffer();

/** A JPEG whose SOF claims 60000x60000: a bomb if decoded. */
function hugeSofJpeg(): Uint8Array {
  const bytes = Buffer.from(goodJpeg);
  for (let i = 2; i < bytes.length - 9; i++) {
    if (bytes[i] === 0xff && (bytes[i + 1] === 0xc0 || bytes[i + 1] === 0xc2)) {
      bytes.writeUInt16BE(60000, i + 5);
      bytes.writeUInt16BE(60000, i + 7);
      return bytes;
    }
  }
  throw new Error('no SOF marker in the test JPEG');
}

const badFiles: [string, () => Uint8Array][] = [
  ['a 60000x60000 PNG header', () => png(60000, 60000)],
  ['a JPEG with a 60000x60000 frame header', hugeSofJpeg],
  ['a 0x0 PNG', () => png(0, 0)],
  ['a PNG with colour type 5', () => png(10, 10, { colourType: 5 })],
  ['a decompression bomb (100000x100000)', () => png(100000, 100000)],
  ['a truncated PNG', () => goodPng.subarray(0, goodPng.length - 30)],
  [
    'a PNG with a bad chunk CRC',
    () => {
      const bytes = Buffer.from(goodPng);
      bytes[40]! ^= 0xff;
      return bytes;
    },
  ],
  // The header promises 200 rows; the image data holds 10.
  ['a PNG with cut image data', () => png(300, 200, { idat: deflateSync(Buffer.alloc(10 * 901)) })],
  [
    'a JPEG whose scan was cut (end marker kept)',
    () => Buffer.concat([goodJpeg.subarray(0, goodJpeg.length - 200), Buffer.from([0xff, 0xd9])]),
  ],
];

type Verdict = { ok: true } | { ok: false; code: string; message: string };

async function verdictOf(work: () => Promise<unknown>): Promise<Verdict> {
  try {
    await work();
    return { ok: true };
  } catch (err) {
    const { code, message } = err as { code: string; message: string };
    return { ok: false, code, message };
  }
}

/** capacity's verdict on a file, in embed's terms ("does not fit" is embed's capacity error). */
async function capacityVerdict(options: CapacityOptions): Promise<Verdict> {
  let problem: string | undefined;
  const verdict = await verdictOf(async () => {
    problem = (await capacity(options)).fit?.problem;
  });
  if (verdict.ok && problem !== undefined)
    return { ok: false, code: 'capacity_exceeded', message: problem };
  return verdict;
}

async function embedVerdict(hidden: Uint8Array, options: EmbedImageOptions): Promise<Verdict> {
  return verdictOf(() => embedImage(hidden, options));
}

describe('capacity agrees with embed', () => {
  it.each(badFiles)('on the image to hide: %s', async (_name, make) => {
    const hidden = make();
    const embedded = await embedVerdict(hidden, {});
    expect(embedded.ok).toBe(false);
    expect(await capacityVerdict({ hidden })).toEqual(embedded);
  });

  it.each(badFiles)('on the cover: %s', async (_name, make) => {
    const cover = make();
    const embedded = await embedVerdict(goodJpeg, { cover });
    expect(embedded.ok).toBe(false);
    expect(await capacityVerdict({ cover, hidden: goodJpeg })).toEqual(embedded);
    // Without a file to hide, capacity still refuses the covers embed would refuse.
    expect(await capacityVerdict({ cover })).toMatchObject({
      ok: false,
      code: embedded.ok ? '' : embedded.code,
    });
  });

  it('on a good file, with and without scaling', async () => {
    expect(await embedVerdict(goodJpeg, {})).toEqual({ ok: true });
    expect(await capacityVerdict({ hidden: goodJpeg })).toEqual({ ok: true });
    const tinyCover = await sharp({
      create: { width: 20, height: 20, channels: 3, background: '#000' },
    })
      .png()
      .toBuffer();
    const refused = await embedVerdict(goodJpeg, { cover: tinyCover });
    expect(refused).toMatchObject({ ok: false, code: 'capacity_exceeded' });
    expect(await capacityVerdict({ cover: tinyCover, hidden: goodJpeg })).toEqual(refused);
    const scaled = await embedImage(goodJpeg, { cover: tinyCover, scaleCover: true });
    const report = await capacity({ cover: tinyCover, hidden: goodJpeg, scaleCover: true });
    expect(report.fit?.fits).toBe(true);
    expect(report).toMatchObject({
      width: scaled.width,
      height: scaled.height,
      scaleStep: scaled.scaleStep,
    });
  });
});

describe("scaling a user's cover", () => {
  it('scales any cover up by the same steps as the default cover', async () => {
    const cover = await sharp({
      create: { width: 16, height: 12, channels: 4, background: '#12345680' },
    })
      .png()
      .toBuffer();
    const result = await embedImage(goodJpeg, { cover, scaleCover: true });
    expect(result.scaleStep).toBeGreaterThan(0);
    expect(result.capacityBytes).toBeGreaterThanOrEqual(result.embeddedBytes);
    const meta = await sharp(result.png).metadata();
    expect(meta).toMatchObject({ width: result.width, height: result.height, channels: 4 });
  });

  it('says when scaling stops at the pixel limit before the payload fits', async () => {
    const noise = new Uint8Array(50 * 50 * 3).map((_, i) => (i * 7919) % 251);
    const noisyJpeg = await sharp(noise, { raw: { width: 50, height: 50, channels: 3 } })
      .jpeg({ quality: 100 })
      .toBuffer();
    const cover = await sharp({
      create: { width: 16, height: 12, channels: 3, background: '#123456' },
    })
      .png()
      .toBuffer();
    const options = { cover, scaleCover: true, maxPixels: 3000 };
    const capped = await embedVerdict(noisyJpeg, options);
    expect(capped).toMatchObject({ ok: false, code: 'capacity_exceeded' });
    expect((capped as { message: string }).message).toMatch(
      /scaling the cover up stops at 3000 pixels/,
    );
    expect(await capacityVerdict({ ...options, hidden: noisyJpeg })).toEqual(capped);
  });
});
