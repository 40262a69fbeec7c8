/**
 * Reading and writing bytes in the least significant bits of a raster: one bit per R, G and
 * B channel (alpha is skipped and left unchanged), pixels in row-major order, each byte
 * most significant bit first. Bit k of the stream lives in pixel floor(k/3), channel k%3.
 */
import type { Raster } from './types.js';

/** Writes `bytes` starting at stream byte `byteOffset`. The caller checks capacity. */
export function writeLsbBytes(raster: Raster, byteOffset: number, bytes: Uint8Array): void {
  const data = raster.data;
  if (raster.channels === 3) {
    // RGB: stream bit k is simply data byte k.
    let position = byteOffset * 8;
    for (let i = 0; i < bytes.length; i++) {
      const value = bytes[i] as number;
      data[position] = ((data[position] as number) & 0xfe) | (value >> 7);
      data[position + 1] = ((data[position + 1] as number) & 0xfe) | ((value >> 6) & 1);
      data[position + 2] = ((data[position + 2] as number) & 0xfe) | ((value >> 5) & 1);
      data[position + 3] = ((data[position + 3] as number) & 0xfe) | ((value >> 4) & 1);
      data[position + 4] = ((data[position + 4] as number) & 0xfe) | ((value >> 3) & 1);
      data[position + 5] = ((data[position + 5] as number) & 0xfe) | ((value >> 2) & 1);
      data[position + 6] = ((data[position + 6] as number) & 0xfe) | ((value >> 1) & 1);
      data[position + 7] = ((data[position + 7] as number) & 0xfe) | (value & 1);
      position += 8;
    }
    return;
  }
  let bit = byteOffset * 8;
  let pixel = Math.floor(bit / 3);
  let channel = bit % 3;
  for (let i = 0; i < bytes.length; i++) {
    const value = bytes[i] as number;
    for (let shift = 7; shift >= 0; shift--) {
      const index = pixel * 4 + channel;
      data[index] = ((data[index] as number) & 0xfe) | ((value >> shift) & 1);
      if (++channel === 3) {
        channel = 0;
        pixel++;
      }
    }
    bit += 8;
  }
}

/** Reads `length` bytes starting at stream byte `byteOffset`. The caller checks bounds. */
export function readLsbBytes(raster: Raster, byteOffset: number, length: number): Uint8Array {
  const data = raster.data;
  const out = new Uint8Array(length);
  if (raster.channels === 3) {
    let position = byteOffset * 8;
    for (let i = 0; i < length; i++) {
      out[i] =
        (((data[position] as number) & 1) << 7) |
        (((data[position + 1] as number) & 1) << 6) |
        (((data[position + 2] as number) & 1) << 5) |
        (((data[position + 3] as number) & 1) << 4) |
        (((data[position + 4] as number) & 1) << 3) |
        (((data[position + 5] as number) & 1) << 2) |
        (((data[position + 6] as number) & 1) << 1) |
        ((data[position + 7] as number) & 1);
      position += 8;
    }
    return out;
  }
  const bit = byteOffset * 8;
  let pixel = Math.floor(bit / 3);
  let channel = bit % 3;
  for (let i = 0; i < length; i++) {
    let value = 0;
    for (let k = 0; k < 8; k++) {
      value = (value << 1) | ((data[pixel * 4 + channel] as number) & 1);
      if (++channel === 3) {
        channel = 0;
        pixel++;
      }
    }
    out[i] = value;
  }
  return out;
}

/** Rows touched by the first `byteCount` stream bytes (for the PNG encoder's cover reuse). */
export function rowsTouchedBy(raster: Raster, byteCount: number): number {
  const pixels = Math.ceil((byteCount * 8) / 3);
  return Math.min(raster.height, Math.ceil(pixels / raster.width));
}
