/** Raster checks, LSB capacity arithmetic and deterministic cover scaling. */
import { StegoError, StegoErrorCode } from './errors.js';
import type { Raster } from './types.js';

/** Payload bits per pixel: one in the least significant bit of each of R, G and B. */
export const BITS_PER_PIXEL = 3;

export function assertRaster(raster: Raster, what = 'raster'): void {
  const { width, height, channels, data } = raster;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new StegoError(
      StegoErrorCode.imageInvalid,
      `${what} must have positive integer dimensions, got ${width}x${height}`,
    );
  }
  if (channels !== 3 && channels !== 4) {
    throw new StegoError(
      StegoErrorCode.imageInvalid,
      `${what} must have 3 (RGB) or 4 (RGBA) channels, got ${String(channels)}`,
    );
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * channels) {
    throw new StegoError(
      StegoErrorCode.imageInvalid,
      `${what} data must be ${width * height * channels} bytes (${width}x${height}x${channels}), got ${data?.length}`,
    );
  }
}

/** Payload bytes a cover of this size can carry (alpha carries nothing). */
export function capacityBytesFor(width: number, height: number): number {
  return Math.floor((width * height * BITS_PER_PIXEL) / 8);
}

export function rasterCapacityBytes(raster: Raster): number {
  return capacityBytesFor(raster.width, raster.height);
}

/** Pixels needed to carry `byteCount` bytes. */
export function pixelsNeededFor(byteCount: number): number {
  return Math.ceil((byteCount * 8) / BITS_PER_PIXEL);
}

/**
 * The smallest cover with (as nearly as integers allow) the same aspect ratio as
 * width x height whose capacity is at least `neededBytes`. Never smaller than the input.
 */
export function smallestCoverFor(
  neededBytes: number,
  width: number,
  height: number,
): { width: number; height: number } {
  if (capacityBytesFor(width, height) >= neededBytes) return { width, height };
  const pixels = pixelsNeededFor(neededBytes);
  const scale = Math.sqrt(pixels / (width * height));
  let w = Math.max(width, Math.floor(width * scale));
  let h = Math.max(height, Math.floor(height * scale));
  // Grow the side that keeps the aspect ratio closest until the capacity suffices.
  while (capacityBytesFor(w, h) < neededBytes) {
    if ((w + 1) * height <= width * (h + 1)) w++;
    else h++;
  }
  return { width: w, height: h };
}

export function copyRaster(raster: Raster): Raster {
  return {
    width: raster.width,
    height: raster.height,
    channels: raster.channels,
    data: raster.data.slice(),
  };
}

/**
 * Bilinear upscaling in fixed-point integer arithmetic. Deliberately not sharp/libvips:
 * their SIMD paths may round differently on different CPUs, and the cloud relies on every
 * server producing byte-identical results for the same task.
 */
export function scaleRaster(source: Raster, width: number, height: number): Raster {
  assertRaster(source, 'source');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`target size must be positive integers, got ${width}x${height}`);
  }
  const { channels } = source;
  const data = new Uint8Array(width * height * channels);
  const FRACTION_BITS = 8;
  const ONE = 1 << FRACTION_BITS;
  const xIndex = new Int32Array(width);
  const xWeight = new Int32Array(width);
  for (let x = 0; x < width; x++) {
    // Pixel-centre alignment: source coordinate = (x + 0.5) * srcW / dstW - 0.5, in 1/256ths.
    const fixed = Math.floor((((2 * x + 1) * source.width - width) * ONE) / (2 * width));
    const clamped = Math.min(Math.max(fixed, 0), (source.width - 1) * ONE);
    xIndex[x] = clamped >> FRACTION_BITS;
    xWeight[x] = clamped & (ONE - 1);
  }
  const src = source.data;
  const srcStride = source.width * channels;
  let out = 0;
  for (let y = 0; y < height; y++) {
    const fixed = Math.floor((((2 * y + 1) * source.height - height) * ONE) / (2 * height));
    const clamped = Math.min(Math.max(fixed, 0), (source.height - 1) * ONE);
    const y0 = clamped >> FRACTION_BITS;
    const wy = clamped & (ONE - 1);
    const row0 = y0 * srcStride;
    const row1 = Math.min(y0 + 1, source.height - 1) * srcStride;
    for (let x = 0; x < width; x++) {
      const x0 = xIndex[x] as number;
      const wx = xWeight[x] as number;
      const x1 = Math.min(x0 + 1, source.width - 1);
      const p00 = row0 + x0 * channels;
      const p01 = row0 + x1 * channels;
      const p10 = row1 + x0 * channels;
      const p11 = row1 + x1 * channels;
      for (let c = 0; c < channels; c++) {
        const top = (src[p00 + c] as number) * (ONE - wx) + (src[p01 + c] as number) * wx;
        const bottom = (src[p10 + c] as number) * (ONE - wx) + (src[p11 + c] as number) * wx;
        data[out++] =
          (top * (ONE - wy) + bottom * wy + (1 << (2 * FRACTION_BITS - 1))) >> (2 * FRACTION_BITS);
      }
    }
  }
  return { width, height, channels, data };
}
