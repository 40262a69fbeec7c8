/**
 * The engine's convenient asynchronous API on file bytes (CLI, tests, simple callers).
 * Servers that want worker threads use the synchronous core (embedContainer, encodePng,
 * extractContainer, CoverSet) directly; these functions are thin wrappers around it.
 */
import { MIN_CONTAINER_OVERHEAD_BYTES, containerSize } from './container.js';
import type { PreparedCover } from './cover.js';
import { CoverSet, coverStepFor, loadCoverSet } from './cover.js';
import { viewsLeft } from './rights.js';
import {
  embedContainer,
  embedSeedText,
  encodeSeedText,
  extractContainerFromSource,
  extractSeedTextFromSource,
  withConsumedViews,
} from './embed.js';
import type { ImageLimits } from './image-decode.js';
import { decodeCover, openStegoImage, readImageHeader } from './image-decode.js';
import { CapacityError } from './errors.js';
import { checkHiddenImage } from './hidden-image.js';
import { DEFAULT_MAX_PIXELS } from './limits.js';
import { CoverPngCache, encodePng } from './png-encode.js';
import { capacityBytesFor, smallestCoverFor } from './raster.js';
import type { AccessRights, ContainerPayload, Raster, ViewerConsumption } from './types.js';

export interface CoverChoice extends ImageLimits {
  /** Cover file bytes; default: the shipped cover (assets/cover.png). */
  cover?: Uint8Array;
  /** A cover set to use instead of loading the default cover (servers pass theirs). */
  coverSet?: CoverSet;
  /** Scale the cover (default or `cover`) up when the payload does not fit. */
  scaleCover?: boolean;
}

export interface EmbedImageOptions extends CoverChoice {
  rights?: AccessRights;
  consumedViews?: ViewerConsumption[];
  message?: string;
}

export interface EmbedOutcome {
  png: Uint8Array;
  width: number;
  height: number;
  /** Bytes hidden in the LSBs (container or seed text). */
  embeddedBytes: number;
  capacityBytes: number;
  /** 0 unless the default cover was scaled up (step k = 2^(k/2) per side). */
  scaleStep: number;
}

/**
 * The cover a payload of `neededBytes` goes into, with every check embedding makes: a
 * user's cover is checked from its header (format, limits, fit or scaling step) before a
 * pixel is decoded, then decoded completely. `capacity` calls this too, so it agrees.
 */
async function chooseCover(neededBytes: number, options: CoverChoice): Promise<PreparedCover> {
  const maxScaledPixels =
    options.scaleCover === true ? (options.maxPixels ?? DEFAULT_MAX_PIXELS) : 0;
  if (options.cover) {
    const header = await readImageHeader(options.cover, options, 'cover');
    const step = coverStepFor(neededBytes, header.width, header.height, maxScaledPixels);
    const raster = await decodeCover(options.cover, options);
    if (step === 0) return { raster, pngCache: new CoverPngCache(raster), scaleStep: 0 };
    return new CoverSet(raster, { maxPixels: maxScaledPixels }).coverFor(neededBytes, true);
  }
  const coverSet = options.coverSet ?? (await loadCoverSet(undefined, options));
  return coverSet.coverFor(neededBytes, options.scaleCover === true);
}

function outcome(cover: PreparedCover, stego: Raster, embeddedBytes: number): EmbedOutcome {
  return {
    png: encodePng(stego, cover.pngCache),
    width: stego.width,
    height: stego.height,
    embeddedBytes,
    capacityBytes: capacityBytesFor(stego.width, stego.height),
    scaleStep: cover.scaleStep,
  };
}

/** Hides an image file (PNG or JPEG bytes, unchanged) and its rights in a cover; returns a PNG. */
export async function embedImage(
  hidden: Uint8Array,
  options: EmbedImageOptions = {},
): Promise<EmbedOutcome> {
  const checked = await checkHiddenImage(hidden, options);
  const payload: ContainerPayload = { image: { mediaType: checked.mediaType, bytes: hidden } };
  if (options.rights) payload.rights = options.rights;
  if (options.consumedViews) payload.consumedViews = options.consumedViews;
  if (options.message !== undefined) payload.message = options.message;
  const needed = containerSize(payload);
  const cover = await chooseCover(needed, options);
  const { raster, embeddedBytes } = embedContainer(cover.raster, payload);
  return outcome(cover, raster, embeddedBytes);
}

/** Extracts and verifies the container in a stego image file. */
export async function extractImage(
  image: Uint8Array,
  limits?: ImageLimits,
): Promise<ContainerPayload> {
  return extractContainerFromSource(await openStegoImage(image, limits));
}

/** Hides a text in the seed CloudP2P format (no container, no integrity check). */
export async function embedSeedTextImage(
  text: string,
  options: CoverChoice = {},
): Promise<EmbedOutcome> {
  const cover = await chooseCover(encodeSeedText(text).length, options); // checks the text first
  const { raster, embeddedBytes } = embedSeedText(cover.raster, text);
  return outcome(cover, raster, embeddedBytes);
}

export async function extractSeedTextImage(
  image: Uint8Array,
  limits?: ImageLimits,
): Promise<string> {
  return extractSeedTextFromSource(await openStegoImage(image, limits));
}

export interface CapacityReport {
  /** The cover embedding would use: the given or default cover, scaled up if allowed and needed. */
  width: number;
  height: number;
  /** 0 unless the cover is scaled up for `hidden` (step k = 2^(k/2) per side). */
  scaleStep: number;
  /** Bytes the LSBs hold (container header and sections included). */
  capacityBytes: number;
  /** The largest hidden image that fits in a container with no rights and no message. */
  maxHiddenImageBytes: number;
  /** The largest seed-format text, in UTF-8 bytes. */
  maxSeedTextBytes: number;
  /** With `hidden`: what embedding that file (no rights, no message) would need and do. */
  fit?: {
    neededBytes: number;
    fits: boolean;
    /** The smallest cover with the same aspect ratio that would hold it. */
    smallestCover: { width: number; height: number };
    /** Why it does not fit, in the words `embed` would use. */
    problem?: string;
    /** Scaling was allowed but capped by the pixel limit (see CapacityError). */
    scalingCapped?: boolean;
  };
}

export interface CapacityOptions extends CoverChoice {
  /** An image to hide: the report then says whether embedding it would succeed. */
  hidden?: Uint8Array;
}

/**
 * What a cover holds and, with `hidden`, whether embedding that file would succeed. Runs
 * the same checks as embedImage (on the hidden file, then on the cover, in the same order),
 * so its verdict and error are embed's: a file embed refuses is refused here with the same
 * error, and "does not fit" is exactly embed's capacity error.
 */
export async function capacity(options: CapacityOptions = {}): Promise<CapacityReport> {
  let neededBytes = 0;
  if (options.hidden) {
    const checked = await checkHiddenImage(options.hidden, options);
    neededBytes = containerSize({ image: { mediaType: checked.mediaType, bytes: checked.bytes } });
  }
  let cover: { width: number; height: number; scaleStep: number };
  let problem: CapacityError | undefined;
  try {
    const prepared = await chooseCover(neededBytes, options);
    cover = { ...prepared.raster, scaleStep: prepared.scaleStep };
  } catch (err) {
    if (!(err instanceof CapacityError)) throw err;
    problem = err;
    const base = options.cover
      ? await readImageHeader(options.cover, options, 'cover')
      : (options.coverSet ?? (await loadCoverSet(undefined, options))).cover.raster;
    cover = { width: base.width, height: base.height, scaleStep: 0 };
  }
  const capacityBytes = capacityBytesFor(cover.width, cover.height);
  return {
    width: cover.width,
    height: cover.height,
    scaleStep: cover.scaleStep,
    capacityBytes,
    maxHiddenImageBytes: Math.max(0, capacityBytes - MIN_CONTAINER_OVERHEAD_BYTES),
    maxSeedTextBytes: Math.max(0, capacityBytes - 4),
    ...(options.hidden
      ? {
          fit: {
            neededBytes,
            fits: problem === undefined,
            smallestCover: smallestCoverFor(neededBytes, cover.width, cover.height),
            ...(problem ? { problem: problem.message, scalingCapped: problem.scalingCapped } : {}),
          },
        }
      : {}),
  };
}

/**
 * Rewrites the consumed-views counters inside a stego PNG and re-encodes it. The rest of
 * the container is unchanged; returns the new PNG and the updated payload.
 */
export async function updateConsumedViews(
  image: Uint8Array,
  changes: ViewerConsumption[],
  limits?: ImageLimits,
): Promise<{ png: Uint8Array; payload: ContainerPayload }> {
  const source = await openStegoImage(image, limits);
  const payload = extractContainerFromSource(source);
  const updated = withConsumedViews(payload, changes);
  const stego = source.decodeRows(source.height);
  const { raster } = embedContainer(stego, updated);
  return { png: encodePng(raster), payload: updated };
}

/** Convenience for viewers: views left for `username`, 0 when not a viewer. */
export { viewsLeft };
