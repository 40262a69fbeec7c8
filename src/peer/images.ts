/**
 * Checks on image files users hand to the agent, and the low-resolution previews it offers to
 * other users. Previews are small JPEGs (longest side at most 160 px, at most 64 KiB) without
 * metadata, so a preview never leaks EXIF data such as a location.
 */
import sharp from 'sharp';
import { PEER_LIMITS } from '../protocol/peer-protocol.js';
import {
  MAX_HIDDEN_IMAGE_BYTES,
  StegoError,
  StegoErrorCode,
  checkHiddenImage,
  readImageHeader,
} from '../stego/index.js';
import type { HiddenMediaType } from '../stego/index.js';

export interface CheckedImage {
  bytes: Uint8Array;
  mediaType: HiddenMediaType;
  width: number;
  height: number;
}

/** Largest image a user may share (what fits in one cloud task's container). */
export const MAX_SHARED_IMAGE_BYTES = MAX_HIDDEN_IMAGE_BYTES;

/**
 * A PNG or JPEG of at most 12 MiB and 40 Mpx that decodes completely: exactly what the
 * engine accepts as an image to hide (checkHiddenImage), so the cloud never refuses it.
 */
export async function checkShareableImage(bytes: Uint8Array): Promise<CheckedImage> {
  if (bytes.length > MAX_SHARED_IMAGE_BYTES)
    throw new StegoError(
      StegoErrorCode.imageTooLarge,
      `the image is ${bytes.length} bytes; images up to ${MAX_SHARED_IMAGE_BYTES} bytes (12 MiB) can be shared`,
    );
  const checked = await checkHiddenImage(bytes, {}, 'image');
  return { bytes, mediaType: checked.mediaType, width: checked.width, height: checked.height };
}

export interface PreviewImage {
  bytes: Uint8Array;
  width: number;
  height: number;
}

/** A JPEG preview: longest side <= 160 px, <= 64 KiB (quality lowered until it fits). */
export async function makePreview(image: CheckedImage): Promise<PreviewImage> {
  const side = PEER_LIMITS.max_preview_side;
  for (const quality of [75, 55, 35, 20]) {
    const { data, info } = await sharp(image.bytes, { limitInputPixels: 40_000_000 })
      .rotate() // apply EXIF orientation, then drop the metadata
      .resize({ width: side, height: side, fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality, mozjpeg: false })
      .toBuffer({ resolveWithObject: true });
    if (data.length <= PEER_LIMITS.max_preview_bytes)
      return { bytes: new Uint8Array(data), width: info.width, height: info.height };
  }
  throw new StegoError(
    StegoErrorCode.imageInvalid,
    'cannot make a preview under 64 KiB from this image',
  );
}

/** Checks a preview received from a peer: a real JPEG within the size limits. */
export async function checkPreview(
  bytes: Uint8Array,
  claimed: { width: number; height: number },
): Promise<void> {
  if (bytes.length === 0 || bytes.length > PEER_LIMITS.max_preview_bytes)
    throw new StegoError(StegoErrorCode.imageInvalid, 'the preview is empty or larger than 64 KiB');
  const header = await readImageHeader(bytes, { maxPixels: 160 * 160 }, 'preview');
  if (header.mediaType !== 'image/jpeg')
    throw new StegoError(StegoErrorCode.imageInvalid, 'the preview is not a JPEG');
  if (header.width !== claimed.width || header.height !== claimed.height)
    throw new StegoError(
      StegoErrorCode.imageInvalid,
      `the preview is ${header.width}x${header.height}, not the ${claimed.width}x${claimed.height} announced`,
    );
}
