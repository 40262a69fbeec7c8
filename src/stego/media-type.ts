/** Recognising image files by their magic bytes (never by name or declared type). */
import type { HiddenMediaType } from './types.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE = [0xff, 0xd8, 0xff];

export type SniffedFormat =
  HiddenMediaType | 'image/gif' | 'image/webp' | 'image/bmp' | 'image/tiff';

function startsWith(bytes: Uint8Array, prefix: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + prefix.length) return false;
  return prefix.every((value, i) => bytes[offset + i] === value);
}

export function isPng(bytes: Uint8Array): boolean {
  return startsWith(bytes, PNG_SIGNATURE);
}

export function isJpeg(bytes: Uint8Array): boolean {
  return startsWith(bytes, JPEG_SIGNATURE);
}

/** The hidden-image media type, or undefined if the bytes are neither PNG nor JPEG. */
export function hiddenMediaTypeOf(bytes: Uint8Array): HiddenMediaType | undefined {
  if (isPng(bytes)) return 'image/png';
  if (isJpeg(bytes)) return 'image/jpeg';
  return undefined;
}

/** Best-effort recognition, only to name the format in error messages. */
export function sniffImageFormat(bytes: Uint8Array): SniffedFormat | undefined {
  const hidden = hiddenMediaTypeOf(bytes);
  if (hidden) return hidden;
  const ascii = (from: number, to: number): string =>
    String.fromCharCode(...bytes.subarray(from, Math.min(to, bytes.length)));
  if (ascii(0, 4) === 'GIF8') return 'image/gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  if (ascii(0, 2) === 'BM') return 'image/bmp';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'image/tiff';
  return undefined;
}
