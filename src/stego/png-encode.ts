/**
 * Our PNG encoder, chosen by measurement (docs/RESULTS.md, "Steganography engine").
 *
 * The output is a plain 8-bit RGB/RGBA, non-interlaced PNG any decoder reads. How the
 * bytes are produced is fixed (so the same raster always gives byte-identical files):
 *  - every row uses the Average filter (type 3): on photographs it is the best single
 *    filter under Huffman coding, and it costs one add and one shift per byte;
 *  - rows are grouped in bands of BAND_ROWS; each band is deflated on its own
 *    (raw deflate, ended by a sync flush so bands concatenate) into its own IDAT chunk;
 *  - a band whose filtered bytes are mostly zeros (flat, drawn or screenshot content) is
 *    deflated at level 1 (fast LZ77), every other band with Z_HUFFMAN_ONLY: on noisy
 *    photographic data LZ77 matching costs time and does not pay, and Huffman-only output
 *    is even smaller than zlib level 6 there;
 *  - a last IDAT holds an empty final deflate block and the Adler-32 of all filtered bytes,
 *    combined from the per-band checksums.
 * Because a band's bytes depend only on its own rows and the row above it, a band whose
 * pixels equal the cover's can be copied from a cache of the cover's encoding; the output
 * does not depend on whether a cache was used (see CoverPngCache).
 */
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { deflateLiterals } from './huffman.js';
import { assertRaster } from './raster.js';
import type { Raster } from './types.js';

export const BAND_ROWS = 16;
const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
/** CMF/FLG of a zlib stream: deflate, 32 KiB window, "fastest" level hint, no dictionary. */
const ZLIB_HEADER = Uint8Array.of(0x78, 0x01);
/** An empty final block with fixed Huffman codes: BFINAL=1, BTYPE=01, end-of-block. */
const FINAL_EMPTY_BLOCK = Uint8Array.of(0x03, 0x00);
const FILTER_AVERAGE = 3;
/** Bands with at least this share of zero residuals are flat enough for LZ77 to pay. */
const LZ_ZERO_SHARE = 0.5;

interface EncodedBand {
  /** The whole IDAT chunk: length, type, data, CRC. */
  chunk: Uint8Array;
  /** Adler-32 of the band's filtered bytes, and their count. */
  adler: number;
  filteredLength: number;
}

/** Encodes a raster as PNG. Pass `cache` (built for the cover) to reuse unchanged bands. */
/**
 * @param output a spare buffer to write the PNG into when it is large enough (the server
 *   recycles sent results this way, so encoding does not allocate a new multi-megabyte buffer
 *   per image); the result is then a view on it.
 */
export function encodePng(raster: Raster, cache?: CoverPngCache, output?: ArrayBuffer): Uint8Array {
  assertRaster(raster);
  const bandCount = Math.ceil(raster.height / BAND_ROWS);
  const usable = cache?.matches(raster) ? cache : undefined;
  const scratch = new Uint8Array(
    Math.min(BAND_ROWS, raster.height) * (raster.width * raster.channels + 1),
  );
  const bands: EncodedBand[] = [];
  for (let band = 0; band < bandCount; band++) {
    bands.push(usable?.bandIfUnchanged(raster, band, scratch) ?? encodeBand(raster, band, scratch));
  }
  return assemblePng(raster, bands, output);
}

/**
 * Memoised band encodings of one cover. Thread-confined (each worker builds its own).
 * A band is reused only after checking (memcmp) that its rows and the row above equal
 * the cover's, so a wrong hint can never produce a wrong image.
 */
export class CoverPngCache {
  private readonly bands: (EncodedBand | undefined)[];
  readonly cover: Raster;

  constructor(cover: Raster) {
    assertRaster(cover, 'cover');
    this.cover = cover;
    this.bands = new Array<EncodedBand | undefined>(Math.ceil(cover.height / BAND_ROWS));
  }

  /** Encodes every band now (otherwise bands are encoded on first use). */
  warm(): this {
    const scratch = new Uint8Array(
      Math.min(BAND_ROWS, this.cover.height) * (this.cover.width * this.cover.channels + 1),
    );
    for (let band = 0; band < this.bands.length; band++) this.cached(band, scratch);
    return this;
  }

  /** Bytes held by the cached band encodings. */
  get cachedBytes(): number {
    return this.bands.reduce((sum, band) => sum + (band?.chunk.length ?? 0), 0);
  }

  matches(raster: Raster): boolean {
    const cover = this.cover;
    return (
      raster.width === cover.width &&
      raster.height === cover.height &&
      raster.channels === cover.channels
    );
  }

  bandIfUnchanged(raster: Raster, band: number, scratch: Uint8Array): EncodedBand | undefined {
    const stride = raster.width * raster.channels;
    const firstRow = Math.max(0, band * BAND_ROWS - 1);
    const endRow = Math.min(raster.height, (band + 1) * BAND_ROWS);
    const a = raster.data.subarray(firstRow * stride, endRow * stride);
    const b = this.cover.data.subarray(firstRow * stride, endRow * stride);
    if (!sameBytes(a, b)) return undefined;
    return this.cached(band, scratch);
  }

  private cached(band: number, scratch: Uint8Array): EncodedBand {
    let encoded = this.bands[band];
    if (!encoded) {
      encoded = encodeBand(this.cover, band, scratch);
      this.bands[band] = encoded;
    }
    return encoded;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(
    Buffer.from(b.buffer, b.byteOffset, b.length),
  );
}

function encodeBand(raster: Raster, band: number, scratch: Uint8Array): EncodedBand {
  const firstRow = band * BAND_ROWS;
  const endRow = Math.min(raster.height, firstRow + BAND_ROWS);
  const filteredLength = (endRow - firstRow) * (raster.width * raster.channels + 1);
  const filtered = scratch.subarray(0, filteredLength);
  const histogram = new Uint32Array(256);
  filterAverage(raster, firstRow, endRow, filtered, histogram);
  const flat = (histogram[0] as number) >= filteredLength * LZ_ZERO_SHARE;
  const deflated = flat
    ? deflateRawSync(filtered, { level: 1, finishFlush: constants.Z_SYNC_FLUSH })
    : deflateLiterals(filtered, histogram);
  const prefix = band === 0 ? ZLIB_HEADER : undefined;
  return { chunk: idatChunk(deflated, prefix), adler: adler32(filtered), filteredLength };
}

/** Average-filters rows [firstRow, endRow) into `out` and counts the output bytes in `histogram`. */
function filterAverage(
  raster: Raster,
  firstRow: number,
  endRow: number,
  out: Uint8Array,
  histogram: Uint32Array,
): void {
  const { data, channels } = raster;
  const stride = raster.width * channels;
  let o = 0;
  for (let y = firstRow; y < endRow; y++) {
    out[o++] = FILTER_AVERAGE;
    histogram[FILTER_AVERAGE]!++;
    const row = y * stride;
    const end = row + stride;
    if (y === 0) {
      for (let i = row; i < end; i++) {
        const left = i - row >= channels ? (data[i - channels] as number) : 0;
        const value = ((data[i] as number) - (left >> 1)) & 0xff;
        out[o++] = value;
        histogram[value]!++;
      }
      continue;
    }
    // Left neighbours kept in locals: measurably faster than re-reading them.
    let up = row - stride;
    if (channels === 3) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      for (let i = row; i < end; i += 3, up += 3) {
        const x0 = data[i] as number;
        const x1 = data[i + 1] as number;
        const x2 = data[i + 2] as number;
        const v0 = (x0 - ((a0 + (data[up] as number)) >> 1)) & 0xff;
        const v1 = (x1 - ((a1 + (data[up + 1] as number)) >> 1)) & 0xff;
        const v2 = (x2 - ((a2 + (data[up + 2] as number)) >> 1)) & 0xff;
        out[o] = v0;
        out[o + 1] = v1;
        out[o + 2] = v2;
        histogram[v0]!++;
        histogram[v1]!++;
        histogram[v2]!++;
        o += 3;
        a0 = x0;
        a1 = x1;
        a2 = x2;
      }
    } else {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let i = row; i < end; i += 4, up += 4) {
        const x0 = data[i] as number;
        const x1 = data[i + 1] as number;
        const x2 = data[i + 2] as number;
        const x3 = data[i + 3] as number;
        const v0 = (x0 - ((a0 + (data[up] as number)) >> 1)) & 0xff;
        const v1 = (x1 - ((a1 + (data[up + 1] as number)) >> 1)) & 0xff;
        const v2 = (x2 - ((a2 + (data[up + 2] as number)) >> 1)) & 0xff;
        const v3 = (x3 - ((a3 + (data[up + 3] as number)) >> 1)) & 0xff;
        out[o] = v0;
        out[o + 1] = v1;
        out[o + 2] = v2;
        out[o + 3] = v3;
        histogram[v0]!++;
        histogram[v1]!++;
        histogram[v2]!++;
        histogram[v3]!++;
        o += 4;
        a0 = x0;
        a1 = x1;
        a2 = x2;
        a3 = x3;
      }
    }
  }
}

const ADLER_MOD = 65521;
/** Largest n such that 255n(n+1)/2 + (n+1)(MOD-1) fits in 2^32 (zlib's NMAX). */
const ADLER_NMAX = 5552;

export function adler32(bytes: Uint8Array, start = 1): number {
  let a = start & 0xffff;
  let b = (start >>> 16) & 0xffff;
  let i = 0;
  while (i < bytes.length) {
    const end = Math.min(bytes.length, i + ADLER_NMAX);
    for (; i < end; i++) {
      a += bytes[i] as number;
      b += a;
    }
    a %= ADLER_MOD;
    b %= ADLER_MOD;
  }
  return ((b << 16) | a) >>> 0;
}

/** Adler-32 of the concatenation A||B from adler(A), adler(B) and |B| (zlib's adler32_combine). */
export function adler32Combine(adlerA: number, adlerB: number, lengthB: number): number {
  const remainder = lengthB % ADLER_MOD;
  let sum1 = adlerA & 0xffff;
  let sum2 = (remainder * sum1) % ADLER_MOD;
  sum1 += (adlerB & 0xffff) + ADLER_MOD - 1;
  sum2 += ((adlerA >>> 16) & 0xffff) + ((adlerB >>> 16) & 0xffff) + ADLER_MOD - remainder;
  if (sum1 >= ADLER_MOD) sum1 -= ADLER_MOD;
  if (sum1 >= ADLER_MOD) sum1 -= ADLER_MOD;
  if (sum2 >= ADLER_MOD * 2) sum2 -= ADLER_MOD * 2;
  if (sum2 >= ADLER_MOD) sum2 -= ADLER_MOD;
  return ((sum2 << 16) | sum1) >>> 0;
}

function chunk(type: string, data: Uint8Array, prefix?: Uint8Array): Uint8Array {
  const dataLength = (prefix?.length ?? 0) + data.length;
  const out = new Uint8Array(12 + dataLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, dataLength);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  if (prefix) out.set(prefix, 8);
  out.set(data, 8 + (prefix?.length ?? 0));
  view.setUint32(8 + dataLength, crc32(out.subarray(4, 8 + dataLength)));
  return out;
}

function idatChunk(data: Uint8Array, prefix?: Uint8Array): Uint8Array {
  return chunk('IDAT', data, prefix);
}

function assemblePng(raster: Raster, bands: EncodedBand[], output?: ArrayBuffer): Uint8Array {
  const header = new Uint8Array(13);
  const headerView = new DataView(header.buffer);
  headerView.setUint32(0, raster.width);
  headerView.setUint32(4, raster.height);
  header[8] = 8; // bit depth
  header[9] = raster.channels === 4 ? 6 : 2; // colour type: RGBA or RGB
  header[10] = 0; // compression: deflate
  header[11] = 0; // filter method: adaptive (per-row filter byte)
  header[12] = 0; // no interlace
  let adler = 1;
  for (const band of bands) adler = adler32Combine(adler, band.adler, band.filteredLength);
  const trailer = new Uint8Array(FINAL_EMPTY_BLOCK.length + 4);
  trailer.set(FINAL_EMPTY_BLOCK, 0);
  new DataView(trailer.buffer).setUint32(FINAL_EMPTY_BLOCK.length, adler);
  const parts = [
    PNG_SIGNATURE,
    chunk('IHDR', header),
    ...bands.map((band) => band.chunk),
    chunk('IDAT', trailer),
    chunk('IEND', new Uint8Array(0)),
  ];
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out =
    output && output.byteLength >= total ? new Uint8Array(output, 0, total) : new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
