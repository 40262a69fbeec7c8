/** Shared fixtures for the stego tests: small random rasters and hidden files. */
import { crc32 } from 'node:zlib';
import { PNG } from 'pngjs';
import type { PlainPayload, Raster } from '../../../src/stego/index.js';
import { Mulberry32 } from '../../../scripts/synthetic-photo.js';

export function randomRaster(width: number, height: number, channels: 3 | 4, seed = 1): Raster {
  const rng = new Mulberry32(seed);
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(rng.next() * 256);
  return { width, height, channels, data };
}

/** The smallest file fakePng can build: signature, IHDR, an empty IDAT, IEND. */
export const FAKE_PNG_MIN_BYTES = 8 + 25 + 12 + 12;

/**
 * A structurally valid PNG file of exactly `length` bytes (chunk CRCs right, IHDR, IDAT,
 * IEND) whose IDAT holds random filler: the container checks structure, not pixels.
 */
export function fakePng(length: number, seed = 7): Uint8Array {
  if (length < FAKE_PNG_MIN_BYTES)
    throw new RangeError(`fakePng needs >= ${FAKE_PNG_MIN_BYTES} bytes`);
  const rng = new Mulberry32(seed);
  const filler = new Uint8Array(length - FAKE_PNG_MIN_BYTES);
  for (let i = 0; i < filler.length; i++) filler[i] = Math.floor(rng.next() * 256);
  const ihdr = Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0);
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      pngChunk('IHDR', ihdr),
      pngChunk('IDAT', filler),
      pngChunk('IEND', new Uint8Array(0)),
    ]),
  );
}

export function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A byte string with JPEG start and end markers and random bytes between. */
export function fakeJpeg(length: number, seed = 9): Uint8Array {
  const rng = new Mulberry32(seed);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(rng.next() * 256);
  bytes.set([0xff, 0xd8, 0xff, 0xe0]);
  bytes.set([0xff, 0xd9], length - 2);
  return bytes;
}

export function samplePayload(imageBytes = fakeJpeg(500)): PlainPayload {
  return {
    image: { mediaType: 'image/jpeg', bytes: imageBytes },
    rights: {
      owner: 'alice',
      imageId: 'img-1',
      viewers: [
        { username: 'bob', quota: 3 },
        { username: 'carol', quota: 1 },
      ],
    },
    consumedViews: [
      { username: 'bob', consumed: 1 },
      { username: 'carol', consumed: 0 },
    ],
    message: 'héllo ✓',
  };
}

/** Decodes a PNG with pngjs (an independent decoder) into RGB or RGBA bytes. */
export function decodeWithPngjs(png: Uint8Array, channels: 3 | 4): Raster {
  const decoded = PNG.sync.read(Buffer.from(png));
  const data = new Uint8Array(decoded.width * decoded.height * channels);
  for (let p = 0, o = 0; p < decoded.width * decoded.height; p++) {
    for (let c = 0; c < channels; c++) data[o++] = decoded.data[p * 4 + c] as number;
  }
  return { width: decoded.width, height: decoded.height, channels, data };
}
