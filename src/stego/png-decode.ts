/**
 * A fast, strict decoder for the PNGs the engine writes (and any other 8-bit RGB/RGBA
 * non-interlaced PNG). It can decode just the first rows, which is all extraction needs.
 * It returns undefined for anything else (16-bit, grey, palette, interlaced), and the
 * caller falls back to sharp. Every chunk CRC is checked; the pixel count is checked
 * against the limit before inflating, and inflation is capped at the exact raw size.
 */
import { constants, crc32, inflateSync } from 'node:zlib';
import { StegoError, StegoErrorCode } from './errors.js';
import { isPng } from './media-type.js';
import type { Raster, RasterRowSource } from './types.js';

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

/** Bit depths PNG allows for each colour type (PNG spec, 11.2.2 IHDR). */
const BIT_DEPTHS_BY_COLOUR_TYPE: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
const MAX_PNG_SIDE = 2 ** 31 - 1;

/** What is wrong with a PNG header's fields, in words, or undefined if they are valid. */
export function pngHeaderFieldsProblem(
  info: PngInfo & { compression: number; filter: number; interlace: number },
): string | undefined {
  if (info.width === 0 || info.height === 0)
    return `it is ${info.width}x${info.height}: width and height must be at least 1`;
  if (info.width > MAX_PNG_SIDE || info.height > MAX_PNG_SIDE)
    return `its width and height must be at most ${MAX_PNG_SIDE}`;
  const depths = BIT_DEPTHS_BY_COLOUR_TYPE[info.colourType];
  if (!depths)
    return `its colour type is ${info.colourType}; PNG defines colour types 0, 2, 3, 4 and 6`;
  if (!depths.includes(info.bitDepth))
    return `its bit depth is ${info.bitDepth}; colour type ${info.colourType} allows bit depths ${depths.join(', ')}`;
  if (info.compression !== 0) return `its compression method is ${info.compression}; PNG defines 0`;
  if (info.filter !== 0) return `its filter method is ${info.filter}; PNG defines 0`;
  if (info.interlace > 1) return `its interlace method is ${info.interlace}; PNG defines 0 and 1`;
  return undefined;
}

function ihdrFields(data: Uint8Array): PngInfo & {
  compression: number;
  filter: number;
  interlace: number;
} {
  const ihdr = new DataView(data.buffer, data.byteOffset, 13);
  return {
    width: ihdr.getUint32(0),
    height: ihdr.getUint32(4),
    bitDepth: ihdr.getUint8(8),
    colourType: ihdr.getUint8(9),
    compression: ihdr.getUint8(10),
    filter: ihdr.getUint8(11),
    interlace: ihdr.getUint8(12),
    interlaced: ihdr.getUint8(12) !== 0,
  };
}

/**
 * Checks only the first chunk, which PNG requires to be IHDR (length, CRC, fields): cheap
 * enough to run on every file before a decoder sees it. Undefined when it is valid.
 */
export function pngHeaderProblem(bytes: Uint8Array): string | undefined {
  if (bytes.length < 8 + 12 + 13) return 'the file is too short to hold a PNG header';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (type !== 'IHDR' || view.getUint32(8) !== 13)
    return 'it does not start with a 13-byte IHDR chunk';
  if (crc32(bytes.subarray(12, 29)) !== view.getUint32(29))
    return 'the CRC of its IHDR chunk does not match';
  return pngHeaderFieldsProblem(ihdrFields(bytes.subarray(16, 29)));
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
      const fields = ihdrFields(data);
      const problem = pngHeaderFieldsProblem(fields);
      if (problem) throw invalidPng(problem);
      info = {
        width: fields.width,
        height: fields.height,
        bitDepth: fields.bitDepth,
        colourType: fields.colourType,
        interlaced: fields.interlaced,
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
