/**
 * What every writer accepts as the image to hide (the CLI's `stego embed` and `stego
 * capacity --hidden`, the cloud client, the peer agent): one function, so that a check that
 * says "fits" and the embedding that follows can never disagree.
 *
 * In this order (cheapest and most specific message first):
 *   1. the container's own rules: 1 byte .. 12 MiB, PNG or JPEG by its magic bytes, a PNG
 *      with valid chunk CRCs, IHDR, IDAT and IEND, a JPEG with an end-of-image marker;
 *   2. the header: a PNG colour type / bit depth and JPEG frame libvips can read, width and
 *      height at least 1, and at most `maxPixels` pixels (40 million by default);
 *   3. the pixel data decodes completely, without error or warning (a PNG whose IDAT holds
 *      fewer rows than its header promises, a JPEG whose scan was cut, are refused).
 *
 * Step 3 decodes with shrink-on-load where the format allows it (JPEG), so it costs a few
 * milliseconds for a photo and little memory even for 40 Mpx.
 */
import sharp from 'sharp';
import { validateHiddenImage } from './image-section.js';
import { StegoError, StegoErrorCode } from './errors.js';
import type { ImageLimits } from './image-decode.js';
import { readImageHeader } from './image-decode.js';
import { DEFAULT_MAX_PIXELS } from './limits.js';
import { hiddenMediaTypeOf } from './media-type.js';
import type { HiddenImage } from './types.js';

export interface CheckedHiddenImage extends HiddenImage {
  width: number;
  height: number;
}

/** Side of the tiny image the full decode is reduced to (only errors matter, not pixels). */
const PROBE_SIDE = 16;

export async function checkHiddenImage(
  bytes: Uint8Array,
  limits: ImageLimits = {},
  what = 'hidden image',
): Promise<CheckedHiddenImage> {
  const sniffed = hiddenMediaTypeOf(bytes);
  if (sniffed) validateHiddenImage({ image: { mediaType: sniffed, bytes } });
  const header = await readImageHeader(bytes, limits, what);
  try {
    await sharp(bytes, {
      limitInputPixels: limits.maxPixels ?? DEFAULT_MAX_PIXELS,
      failOn: 'warning',
    })
      .resize(PROBE_SIDE, PROBE_SIDE, { fit: 'fill' })
      .raw()
      .toBuffer();
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0]?.trim();
    throw new StegoError(
      StegoErrorCode.imageInvalid,
      `the ${what} is a damaged ${header.mediaType === 'image/png' ? 'PNG' : 'JPEG'} file: its pixel data does not decode (${reason || 'unreadable'}); is it truncated?`,
      { cause: err },
    );
  }
  return { mediaType: header.mediaType, bytes, width: header.width, height: header.height };
}
