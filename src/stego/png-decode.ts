/**
 * A fast, strict decoder for the PNGs the engine writes (and any other 8-bit RGB/RGBA
 * non-interlaced PNG). It can decode just the first rows, which is all extraction needs.
 * It returns undefined for anything else (16-bit, grey, palette, interlaced), and the
 * caller falls back to sharp. Every chunk CRC is checked; the pixel count is checked
 * against the limit before inflating, and inflation is capped at the exact raw size.
 */
import { constants, crc32, inflateSync } from 'node:zlib';
import { StegoError, StegoErrorCode } from './errors.js';
import type { RasterRowSource } from './embed.js';
import { isPng } from './media-type.js';
import type { Raster } from './types.js';

export interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  interlaced: boolean;
}

function invalidPng(message: string): StegoError {
  return new StegoError(StegoErrorCode.imageInvalid, `not a valid PNG: ${message}`);
}

/** Parses the chunk list; returns the header and the concatenated IDAT data. */
export function parseChunks(bytes: Uint8Array): { info: PngInfo; idat: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  let offset = 8;
  let info: PngInfo | undefined;
  const idatParts: Uint8Array[] = [];
  let sawEnd = false;
  while (offset + 12 <= bytes.length) {
    const length = view.getUint32(offset);
    if (length > bytes.length - offset - 12)
      throw invalidPng('a chunk runs past the end of the file (truncated?)');
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    const storedCrc = view.getUint32(offset + 8 + length);
    if (crc32(bytes.subarray(offset + 4, offset + 8 + length)) !== storedCrc) {
      throw invalidPng(`the CRC of chunk ${JSON.stringify(type)} does not match`);
    }
    offset += 12 + length;
    if (type === 'IHDR') {
      if (length !== 13) throw invalidPng('IHDR has the wrong length');
      const ihdr = new DataView(data.buffer, data.byteOffset, 13);
      info = {
        width: ihdr.getUint32(0),
        height: ihdr.getUint32(4),
        bitDepth: ihdr.getUint8(8),
        colourType: ihdr.getUint8(9),
        interlaced: ihdr.getUint8(12) !== 0,
      };
    } else if (type === 'IDAT') {
      idatParts.push(data);
    } else if (type === 'IEND') {
      sawEnd = true;
      break;
    }
  }
  if (!info) throw invalidPng('the IHDR chunk is missing');
  if (!sawEnd) throw invalidPng('the file is truncated (no IEND chunk)');
  if (idatParts.length === 0) throw invalidPng('there is no image data (IDAT)');
  return {
    info,
    idat: idatParts.length === 1 ? (idatParts[0] as Uint8Array) : Buffer.concat(idatParts),
  };
}

/**
 * A row source over one of "our" PNGs, or undefined if the file needs the general decoder.
 * Throws StegoError for corrupt files and for images above `maxPixels`.
 */
export function openFastPng(bytes: Uint8Array, maxPixels: number): RasterRowSource | undefined {
  if (!isPng(bytes)) return undefined;
  const { info, idat } = parseChunks(bytes);
  if (info.width === 0 || info.height === 0) throw invalidPng('zero width or height');
  if (info.width * info.height > maxPixels) {
    throw new StegoError(
      StegoErrorCode.imageTooLarge,
      `the image is ${info.width}x${info.height} (${info.width * info.height} pixels); the limit is ${maxPixels} pixels`,
    );
  }
  if (info.bitDepth !== 8 || (info.colourType !== 2 && info.colourType !== 6) || info.interlaced) {
    return undefined;
  }
  return new FastPngRows(info, idat);
}

class FastPngRows implements RasterRowSource {
  readonly width: number;
  readonly height: number;
  readonly channels: 3 | 4;
  private readonly stride: number;
  private readonly raster: Raster;
  private decodedRows = 0;
  private inflated: Uint8Array = new Uint8Array(0);

  constructor(
    info: PngInfo,
    private readonly idat: Uint8Array,
  ) {
    this.width = info.width;
    this.height = info.height;
    this.channels = info.colourType === 6 ? 4 : 3;
    this.stride = this.width * this.channels;
    this.raster = {
      width: this.width,
      height: this.height,
      channels: this.channels,
      data: new Uint8Array(this.stride * this.height),
    };
  }

  decodeRows(rowCount: number): Raster {
    const wanted = Math.min(this.height, Math.max(rowCount, 0));
    if (wanted <= this.decodedRows) return this.raster;
    this.inflateAtLeast(wanted * (this.stride + 1));
    for (let y = this.decodedRows; y < wanted; y++) this.unfilterRow(y);
    this.decodedRows = wanted;
    return this.raster;
  }

  /**
   * Inflates a prefix of the compressed data big enough for `byteCount` raw bytes. The
   * prefix size is estimated from the compression ratio and doubled until it suffices,
   * so decoding the top quarter of an image costs about a quarter of a full decode.
   */
  private inflateAtLeast(byteCount: number): void {
    if (this.inflated.length >= byteCount) return;
    const totalRaw = this.height * (this.stride + 1);
    let prefix = Math.min(
      this.idat.length,
      Math.ceil((byteCount / totalRaw) * this.idat.length * 1.1) + 65536,
    );
    for (;;) {
      let output: Buffer;
      try {
        output = inflateSync(this.idat.subarray(0, prefix), {
          finishFlush: constants.Z_SYNC_FLUSH,
          maxOutputLength: totalRaw,
        });
      } catch (err) {
        throw invalidPng(`the image data does not inflate (${(err as Error).message})`);
      }
      if (output.length >= byteCount || prefix === this.idat.length) {
        if (output.length < byteCount) throw invalidPng('the image data is truncated');
        this.inflated = output;
        return;
      }
      prefix = Math.min(this.idat.length, prefix * 2);
    }
  }

  private unfilterRow(y: number): void {
    const { stride, channels } = this;
    const src = this.inflated;
    const out = this.raster.data;
    const inOffset = y * (stride + 1);
    const filter = src[inOffset] as number;
    const row = y * stride;
    const up = row - stride;
    const hasUp = y > 0;
    let i = 0;
    switch (filter) {
      case 0:
        out.set(src.subarray(inOffset + 1, inOffset + 1 + stride), row);
        return;
      case 1:
        for (; i < channels; i++) out[row + i] = src[inOffset + 1 + i] as number;
        for (; i < stride; i++)
          out[row + i] =
            ((src[inOffset + 1 + i] as number) + (out[row + i - channels] as number)) & 0xff;
        return;
      case 2:
        for (; i < stride; i++)
          out[row + i] =
            ((src[inOffset + 1 + i] as number) + (hasUp ? (out[up + i] as number) : 0)) & 0xff;
        return;
      case 3:
        if (!hasUp) {
          for (; i < channels; i++) out[row + i] = src[inOffset + 1 + i] as number;
          for (; i < stride; i++) {
            out[row + i] =
              ((src[inOffset + 1 + i] as number) + ((out[row + i - channels] as number) >> 1)) &
              0xff;
          }
          return;
        }
        for (; i < channels; i++) {
          out[row + i] =
            ((src[inOffset + 1 + i] as number) + ((out[up + i] as number) >> 1)) & 0xff;
        }
        // The common case for our own files: no branches in the inner loop.
        for (; i < stride; i++) {
          const sum = (out[row + i - channels] as number) + (out[up + i] as number);
          out[row + i] = ((src[inOffset + 1 + i] as number) + (sum >> 1)) & 0xff;
        }
        return;
      case 4:
        for (; i < stride; i++) {
          const a = i >= channels ? (out[row + i - channels] as number) : 0;
          const b = hasUp ? (out[up + i] as number) : 0;
          const c = hasUp && i >= channels ? (out[up + i - channels] as number) : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          const predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          out[row + i] = ((src[inOffset + 1 + i] as number) + predictor) & 0xff;
        }
        return;
      default:
        throw invalidPng(`row ${y} has an unknown filter type ${filter}`);
    }
  }
}
