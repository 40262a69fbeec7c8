/**
 * Decoding image files into rasters with sharp (libvips), with limits checked from the
 * header before any pixel is decoded. Covers may be any PNG (8/16-bit, grey, palette,
 * alpha, interlaced) or JPEG; the result is always 8-bit sRGB, RGB or RGBA (alpha kept).
 */
import sharp from 'sharp';
import type { Metadata } from 'sharp';
import { StegoError, StegoErrorCode } from './errors.js';
import { wholeRasterSource } from './embed.js';
import { DEFAULT_MAX_IMAGE_FILE_BYTES, DEFAULT_MAX_PIXELS } from './limits.js';
import { hiddenMediaTypeOf, sniffImageFormat } from './media-type.js';
import { openFastPng, pngHeaderProblem } from './png-decode.js';
import type { HiddenMediaType, Raster, RasterRowSource } from './types.js';

export interface ImageLimits {
  /** Refuse images with more pixels than this (default 40 million). */
  maxPixels?: number;
  /** Refuse files larger than this (default 64 MiB). */
  maxFileBytes?: number;
}

export interface ImageHeaderInfo {
  mediaType: HiddenMediaType;
  width: number;
  height: number;
  hasAlpha: boolean;
}

function limitsOf(limits: ImageLimits | undefined): Required<ImageLimits> {
  return {
    maxPixels: limits?.maxPixels ?? DEFAULT_MAX_PIXELS,
    maxFileBytes: limits?.maxFileBytes ?? DEFAULT_MAX_IMAGE_FILE_BYTES,
  };
}

function cleanSharpMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (
    text
      .split('\n')[0]
      ?.replace(/^Input buffer (has corrupt header|contains unsupported image format):?\s*/i, '')
      .trim() || 'unreadable'
  );
}

/** Checks the bytes and the header (format, dimensions, limits) without decoding pixels. */
export async function readImageHeader(
  bytes: Uint8Array,
  limits?: ImageLimits,
  what = 'image',
): Promise<ImageHeaderInfo> {
  const { maxPixels, maxFileBytes } = limitsOf(limits);
  if (bytes.length === 0)
    throw new StegoError(StegoErrorCode.imageInvalid, `the ${what} file is empty`);
  if (bytes.length > maxFileBytes) {
    throw new StegoError(
      StegoErrorCode.imageTooLarge,
      `the ${what} file is ${bytes.length} bytes; the limit is ${maxFileBytes} bytes`,
    );
  }
  const mediaType = hiddenMediaTypeOf(bytes);
  if (!mediaType) {
    const other = sniffImageFormat(bytes);
    if (other) {
      throw new StegoError(
        StegoErrorCode.imageUnsupported,
        `the ${what} is ${other.replace('image/', '').toUpperCase()}; only PNG and JPEG are supported`,
      );
    }
    throw new StegoError(StegoErrorCode.imageInvalid, `the ${what} is not a PNG or JPEG image`);
  }
  const pngProblem = mediaType === 'image/png' ? pngHeaderProblem(bytes) : undefined;
  if (pngProblem) {
    throw new StegoError(
      StegoErrorCode.imageInvalid,
      `the ${what} is not a valid PNG: ${pngProblem}`,
    );
  }
  let metadata: Metadata;
  try {
    // Header only: no pixel is decoded, so no limit is needed yet; we check it just below.
    metadata = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new StegoError(
      StegoErrorCode.imageInvalid,
      `the ${what} is a damaged ${mediaType === 'image/png' ? 'PNG' : 'JPEG'} file (${cleanSharpMessage(err)})`,
      { cause: err },
    );
  }
  const width = metadata.width ?? 0;
  const height = metadata.height ?? 0;
  if (width < 1 || height < 1) {
    throw new StegoError(StegoErrorCode.imageInvalid, `the ${what} has zero width or height`);
  }
  if (width * height > maxPixels) {
    throw new StegoError(
      StegoErrorCode.imageTooLarge,
      `the ${what} is ${width}x${height} (${width * height} pixels); the limit is ${maxPixels} pixels`,
    );
  }
  return { mediaType, width, height, hasAlpha: metadata.hasAlpha === true };
}

async function sharpRaster(
  bytes: Uint8Array,
  maxPixels: number,
  mode: 'cover' | 'stego',
  what: string,
): Promise<Raster> {
  try {
    // Covers: apply EXIF orientation and the ICC profile (the output PNG has neither, so
    // this keeps what the user sees). Stego images: the stored values, untouched.
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, ignoreIcc: mode === 'stego' });
    if (mode === 'cover') pipeline = pipeline.autoOrient();
    const { data, info } = await pipeline
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 && info.channels !== 4) {
      throw new Error(`unexpected channel count ${info.channels}`);
    }
    return {
      width: info.width,
      height: info.height,
      channels: info.channels,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
  } catch (err) {
    throw new StegoError(
      StegoErrorCode.imageInvalid,
      `the ${what} could not be decoded (${cleanSharpMessage(err)}); is the file truncated or corrupt?`,
      { cause: err },
    );
  }
}

/** Runs `work`, putting "the <what> is" before the fast decoder's "not a valid PNG: ..." errors. */
function naming<T>(what: string, work: () => T): T {
  try {
    return work();
  } catch (err) {
    if (err instanceof StegoError && err.message.startsWith('not a valid PNG')) {
      throw new StegoError(err.code, `the ${what} is ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** Decodes a cover into an 8-bit sRGB raster (RGB, or RGBA if it has alpha). */
export async function decodeCover(bytes: Uint8Array, limits?: ImageLimits): Promise<Raster> {
  const { maxPixels } = limitsOf(limits);
  await readImageHeader(bytes, limits, 'cover');
  const fast = naming('cover', () => openFastPng(bytes, maxPixels));
  if (fast) return naming('cover', () => fast.decodeRows(fast.height));
  return sharpRaster(bytes, maxPixels, 'cover', 'cover');
}

/**
 * Opens an image to extract from. Our own PNGs (8-bit RGB/RGBA) take the fast path, which
 * decodes only the rows the payload needs; anything else is fully decoded by sharp.
 */
export async function openStegoImage(
  bytes: Uint8Array,
  limits?: ImageLimits,
): Promise<RasterRowSource> {
  const { maxPixels } = limitsOf(limits);
  const fast = openFastPngChecked(bytes, limits);
  if (fast) return fast;
  await readImageHeader(bytes, limits, 'image');
  return wholeRasterSource(await sharpRaster(bytes, maxPixels, 'stego', 'image'));
}

/** The fast path only, synchronous (for worker threads); undefined when sharp is needed. */
export function openFastPngChecked(
  bytes: Uint8Array,
  limits?: ImageLimits,
): RasterRowSource | undefined {
  const { maxPixels, maxFileBytes } = limitsOf(limits);
  if (bytes.length === 0)
    throw new StegoError(StegoErrorCode.imageInvalid, 'the image file is empty');
  if (bytes.length > maxFileBytes) {
    throw new StegoError(
      StegoErrorCode.imageTooLarge,
      `the image file is ${bytes.length} bytes; the limit is ${maxFileBytes} bytes`,
    );
  }
  return openFastPng(bytes, maxPixels);
}
