/**
 * The engine's convenient asynchronous API on file bytes (CLI, tests, simple callers).
 * Servers that want worker threads use the synchronous core (embedContainer, encodePng,
 * extractContainer, CoverSet) directly; these functions are thin wrappers around it.
 */
import { MIN_CONTAINER_OVERHEAD_BYTES, containerSize, viewsLeft } from './container.js';
import type { CoverSet, PreparedCover } from './cover.js';
import { loadCoverSet } from './cover.js';
import {
  assertFits,
  embedContainer,
  embedSeedText,
  extractContainerFromSource,
  extractSeedTextFromSource,
  seedTextSize,
  withConsumedViews,
} from './embed.js';
import type { ImageLimits } from './image-decode.js';
import { decodeCover, openStegoImage, readImageHeader } from './image-decode.js';
import { CoverPngCache, encodePng } from './png-encode.js';
import { capacityBytesFor } from './raster.js';
import type { AccessRights, ContainerPayload, Raster, ViewerConsumption } from './types.js';

export interface CoverChoice extends ImageLimits {
  /** Cover file bytes; default: the shipped cover (assets/cover.png). */
  cover?: Uint8Array;
  /** A cover set to use instead of loading the default cover (servers pass theirs). */
  coverSet?: CoverSet;
  /** Scale the default cover up when the payload does not fit (ignored for `cover`). */
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

async function chooseCover(neededBytes: number, options: CoverChoice): Promise<PreparedCover> {
  if (options.cover) {
    const header = await readImageHeader(options.cover, options, 'cover');
    assertFits(neededBytes, header.width, header.height); // before decoding a pixel
    const raster = await decodeCover(options.cover, options);
    return { raster, pngCache: new CoverPngCache(raster), scaleStep: 0 };
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
  const header = await readImageHeader(hidden, options, 'hidden image');
  const payload: ContainerPayload = { image: { mediaType: header.mediaType, bytes: hidden } };
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
  const cover = await chooseCover(seedTextSize(text), options);
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
  width: number;
  height: number;
  /** Bytes the LSBs hold (container header and sections included). */
  capacityBytes: number;
  /** The largest hidden image that fits in a container with no rights and no message. */
  maxHiddenImageBytes: number;
  /** The largest seed-format text, in UTF-8 bytes. */
  maxSeedTextBytes: number;
}

/** Capacity of a cover file (default: the shipped cover), from its header only. */
export async function capacity(options: CoverChoice = {}): Promise<CapacityReport> {
  let width: number;
  let height: number;
  if (options.cover) {
    ({ width, height } = await readImageHeader(options.cover, options, 'cover'));
  } else {
    const coverSet = options.coverSet ?? (await loadCoverSet(undefined, options));
    ({ width, height } = coverSet.cover.raster);
  }
  const capacityBytes = capacityBytesFor(width, height);
  return {
    width,
    height,
    capacityBytes,
    maxHiddenImageBytes: Math.max(0, capacityBytes - MIN_CONTAINER_OVERHEAD_BYTES),
    maxSeedTextBytes: Math.max(0, capacityBytes - 4),
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
