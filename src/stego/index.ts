/**
 * Public API of the steganography engine (see README.md in this folder and
 * docs/STEGO-FORMAT.md). Synchronous core for worker threads, async helpers on file bytes.
 */
export type {
  AccessRights,
  ContainerPayload,
  HiddenImage,
  HiddenMediaType,
  Raster,
  OwnerSignature,
  PlainPayload,
  SealedPayload,
  ViewerConsumption,
  ViewerGrant,
  OfflineGrant,
} from './types.js';
export { CapacityError, StegoError, StegoErrorCode } from './errors.js';
export type { StegoErrorCodeValue } from './errors.js';
export * from './limits.js';

// Synchronous core (pure functions on typed arrays; safe in worker_threads).
export {
  CONTAINER_MAGIC,
  CONTAINER_VERSION,
  ContainerFlag,
  HEADER_BYTES,
  MIN_CONTAINER_OVERHEAD_BYTES,
  SectionType,
  containerSize,
  decodeContainer,
  encodeContainer,
  plainImage,
} from './container.js';
export {
  canonicalRights,
  encodeRights,
  rightsSignedBytes,
  rightsSignedBytesFromDigest,
  viewsLeft,
} from './rights.js';
export {
  hiddenImageFromPlaintext,
  imageSectionDigest,
  sealablePlaintext,
} from './image-section.js';
export type { RasterRowSource } from './types.js';
export type { EmbedResult } from './embed.js';
export {
  assertFits,
  capacityError,
  embedContainer,
  embedSeedText,
  encodeSeedText,
  extractContainer,
  extractContainerFromSource,
  extractSeedText,
  extractSeedTextFromSource,
  seedTextControlCharacter,
  seedTextSize,
  updateConsumedViewsInRaster,
  wholeRasterSource,
  withConsumedViews,
} from './embed.js';
export { BAND_ROWS, CoverPngCache, encodePng } from './png-encode.js';
export { openFastPng } from './png-decode.js';
export {
  assertRaster,
  capacityBytesFor,
  rasterCapacityBytes,
  scaleRaster,
  smallestCoverFor,
} from './raster.js';
export { hiddenMediaTypeOf, sniffImageFormat } from './media-type.js';
export { CoverSet, DEFAULT_COVER_PATH, coverStepFor, loadCoverSet, scaledSize } from './cover.js';
export type { CoverSetOptions, PreparedCover } from './cover.js';

// Asynchronous helpers on file bytes.
export type { ImageHeaderInfo, ImageLimits } from './image-decode.js';
export {
  decodeCover,
  openFastPngChecked,
  openStegoImage,
  readImageHeader,
} from './image-decode.js';
export type { CheckedHiddenImage } from './hidden-image.js';
export { checkHiddenImage } from './hidden-image.js';
export type {
  CapacityOptions,
  CapacityReport,
  CoverChoice,
  EmbedImageOptions,
  EmbedOutcome,
} from './engine.js';
export {
  capacity,
  embedImage,
  embedSeedTextImage,
  extractImage,
  extractSeedTextImage,
  updateConsumedViews,
} from './engine.js';
