/**
 * Covers the engine embeds into: the shipped default cover, decoded once, and scaled-up
 * versions of it for payloads that do not fit, each with its PNG band cache.
 *
 * Scaling is quantised: step k multiplies both sides by 2^(k/2) (so the pixel count, and
 * the capacity, double per step), and a payload gets the smallest step that fits. A server
 * therefore holds at most a handful of scaled covers (about six steps up to 40 Mpx), each
 * computed once and reused by every request that needs that size, while no payload pays
 * for more than twice the pixels it strictly needs. Scaling is our own integer bilinear
 * (see scaleRaster), so every server computes byte-identical scaled covers.
 */
import { readFile } from 'node:fs/promises';
import { packagePath } from '../util/package-info.js';
import { capacityError } from './embed.js';
import type { ImageLimits } from './image-decode.js';
import { decodeCover } from './image-decode.js';
import { DEFAULT_MAX_PIXELS } from './limits.js';
import { CoverPngCache } from './png-encode.js';
import { assertRaster, capacityBytesFor, scaleRaster } from './raster.js';
import type { Raster } from './types.js';

export const DEFAULT_COVER_PATH = packagePath('assets', 'cover.png');
/** Default memory budget for scaled covers and their cached encodings. */
export const DEFAULT_MAX_CACHED_COVER_BYTES = 256 * 1024 * 1024;

export interface PreparedCover {
  raster: Raster;
  pngCache: CoverPngCache;
  /** 0 for the cover itself, k for the cover scaled by 2^(k/2) per side. */
  scaleStep: number;
}

export interface CoverSetOptions {
  /** Largest scaled cover, in pixels (default 40 million). */
  maxPixels?: number;
  /** Memory budget for scaled covers (the base cover is always kept). */
  maxCachedBytes?: number;
}

export function scaledSize(
  width: number,
  height: number,
  step: number,
): { width: number; height: number } {
  const whole = 2 ** Math.floor(step / 2);
  const factor = step % 2 === 0 ? whole : whole * Math.SQRT2;
  return { width: Math.ceil(width * factor), height: Math.ceil(height * factor) };
}

/**
 * The scaling step a payload of `neededBytes` needs on a width x height cover: 0 when it
 * fits as it is, else the smallest k whose scaled size fits. Throws the CapacityError embed
 * gives when it does not fit and scaling is off (`maxScaledPixels` 0), or when even the
 * largest scaled cover under `maxScaledPixels` is too small. Pure: callers check a cover
 * from its header with it before decoding a pixel.
 */
export function coverStepFor(
  neededBytes: number,
  width: number,
  height: number,
  maxScaledPixels: number,
): number {
  if (capacityBytesFor(width, height) >= neededBytes) return 0;
  if (maxScaledPixels <= 0) throw capacityError(neededBytes, width, height);
  for (let step = 1; ; step++) {
    const size = scaledSize(width, height, step);
    if (size.width * size.height > maxScaledPixels) {
      throw capacityError(neededBytes, width, height, {
        scalingCappedAtPixels: maxScaledPixels,
      });
    }
    if (capacityBytesFor(size.width, size.height) >= neededBytes) return step;
  }
}

/** One base cover and its cached scaled versions. Synchronous: usable inside a worker. */
export class CoverSet {
  private readonly base: PreparedCover;
  private readonly scaled = new Map<number, PreparedCover>();
  private readonly maxPixels: number;
  private readonly maxCachedBytes: number;

  constructor(cover: Raster, options: CoverSetOptions = {}) {
    assertRaster(cover, 'cover');
    this.maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
    this.maxCachedBytes = options.maxCachedBytes ?? DEFAULT_MAX_CACHED_COVER_BYTES;
    this.base = { raster: cover, pngCache: new CoverPngCache(cover), scaleStep: 0 };
  }

  get cover(): PreparedCover {
    return this.base;
  }

  /** The cover itself if `neededBytes` fits, else (with `scale`) the smallest scaled step that fits. */
  coverFor(neededBytes: number, scale: boolean): PreparedCover {
    const { width, height } = this.base.raster;
    const step = coverStepFor(neededBytes, width, height, scale ? this.maxPixels : 0);
    return step === 0 ? this.base : this.scaledStep(step, scaledSize(width, height, step));
  }

  private scaledStep(step: number, size: { width: number; height: number }): PreparedCover {
    const cached = this.scaled.get(step);
    if (cached) {
      // Refresh its position for least-recently-used eviction.
      this.scaled.delete(step);
      this.scaled.set(step, cached);
      return cached;
    }
    const raster = scaleRaster(this.base.raster, size.width, size.height);
    const prepared = { raster, pngCache: new CoverPngCache(raster), scaleStep: step };
    this.scaled.set(step, prepared);
    this.evict(step);
    return prepared;
  }

  private evict(keep: number): void {
    const bytesOf = (cover: PreparedCover): number =>
      cover.raster.data.length + cover.pngCache.cachedBytes;
    let total = [...this.scaled.values()].reduce((sum, cover) => sum + bytesOf(cover), 0);
    for (const [step, cover] of this.scaled) {
      if (total <= this.maxCachedBytes) break;
      if (step === keep) continue;
      this.scaled.delete(step);
      total -= bytesOf(cover);
    }
  }
}

const coverSets = new Map<string, Promise<CoverSet>>();

/** The CoverSet for a cover file, decoded once per process (and per path and limits). */
export function loadCoverSet(
  path: string = DEFAULT_COVER_PATH,
  options: CoverSetOptions & ImageLimits = {},
): Promise<CoverSet> {
  const key = JSON.stringify([
    path,
    options.maxPixels,
    options.maxCachedBytes,
    options.maxFileBytes,
  ]);
  let pending = coverSets.get(key);
  if (!pending) {
    pending = readFile(path).then(
      async (bytes) => new CoverSet(await decodeCover(bytes, options), options),
    );
    // A failed load is not cached, so a fixed file can be retried.
    pending.catch(() => coverSets.delete(key));
    coverSets.set(key, pending);
  }
  return pending;
}
