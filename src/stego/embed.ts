/**
 * The synchronous core: embedding a container (or a seed-format text) into a raster and
 * extracting it again. Pure functions on typed arrays, safe to run in worker_threads.
 */
import { CapacityError, StegoError, StegoErrorCode } from './errors.js';
import {
  HEADER_BYTES,
  containerSize,
  decodeBody,
  decodeHeader,
  encodeContainer,
  verifyBody,
} from './container.js';
import { MAX_SEED_TEXT_BYTES } from './limits.js';
import { readLsbBytes, rowsTouchedBy, writeLsbBytes } from './lsb.js';
import { assertRaster, capacityBytesFor, copyRaster, smallestCoverFor } from './raster.js';
import type { ContainerPayload, Raster, RasterRowSource } from './types.js';

export interface EmbedResult {
  raster: Raster;
  /** Bytes written into the LSBs (the container or seed-text length). */
  embeddedBytes: number;
  /** Rows 0..changedRows-1 may differ from the cover; the rest are untouched. */
  changedRows: number;
}

/**
 * The error for a payload that does not fit a width x height cover. It names the smallest
 * cover that would fit; `scalingCappedAtPixels` says scaling was tried and hit that cap.
 */
export function capacityError(
  neededBytes: number,
  width: number,
  height: number,
  options: { scalingCappedAtPixels?: number } = {},
): CapacityError {
  const available = capacityBytesFor(width, height);
  const smallest = smallestCoverFor(neededBytes, width, height);
  const capped =
    options.scalingCappedAtPixels === undefined
      ? ''
      : `; scaling the cover up stops at ${options.scalingCappedAtPixels} pixels, too small for this payload`;
  return new CapacityError(
    `the payload needs ${neededBytes} bytes but a ${width}x${height} cover holds ${available} bytes; ` +
      `the smallest cover with the same aspect ratio that fits is ${smallest.width}x${smallest.height}${capped}`,
    neededBytes,
    available,
    smallest,
    options.scalingCappedAtPixels !== undefined,
  );
}

export function assertFits(neededBytes: number, width: number, height: number): void {
  if (neededBytes > capacityBytesFor(width, height))
    throw capacityError(neededBytes, width, height);
}

function embedBytes(cover: Raster, bytes: Uint8Array): EmbedResult {
  assertRaster(cover, 'cover');
  assertFits(bytes.length, cover.width, cover.height);
  const raster = copyRaster(cover);
  writeLsbBytes(raster, 0, bytes);
  return { raster, embeddedBytes: bytes.length, changedRows: rowsTouchedBy(raster, bytes.length) };
}

/** Hides the container for `payload` in a copy of `cover`. Deterministic. */
export function embedContainer(cover: Raster, payload: ContainerPayload): EmbedResult {
  assertRaster(cover, 'cover');
  assertFits(containerSize(payload), cover.width, cover.height);
  return embedBytes(cover, encodeContainer(payload));
}

export function wholeRasterSource(raster: Raster): RasterRowSource {
  assertRaster(raster);
  return {
    width: raster.width,
    height: raster.height,
    channels: raster.channels,
    decodeRows: () => raster,
  };
}

function rowsForBytes(source: RasterRowSource, byteCount: number): number {
  return Math.min(source.height, Math.ceil(Math.ceil((byteCount * 8) / 3) / source.width));
}

function readSourceBytes(source: RasterRowSource, byteOffset: number, length: number): Uint8Array {
  const raster = source.decodeRows(rowsForBytes(source, byteOffset + length));
  return readLsbBytes(raster, byteOffset, length);
}

/** Reads and verifies the container hidden in `raster`. */
export function extractContainer(raster: Raster): ContainerPayload {
  return extractContainerFromSource(wholeRasterSource(raster));
}

export function extractContainerFromSource(source: RasterRowSource): ContainerPayload {
  const capacity = Math.floor((source.width * source.height * 3) / 8);
  if (capacity < HEADER_BYTES) {
    throw new StegoError(
      StegoErrorCode.noPayload,
      'no payload: the image is too small to carry one',
    );
  }
  const header = decodeHeader(readSourceBytes(source, 0, HEADER_BYTES), capacity - HEADER_BYTES);
  const body = readSourceBytes(source, HEADER_BYTES, header.bodyLength);
  verifyBody(header, body);
  return decodeBody(body, header.flags);
}

/**
 * Rewrites the consumed-views counters inside a stego raster (the viewer's agent does
 * this on each view). The container keeps its length, so only a few LSBs change.
 */
export function updateConsumedViewsInRaster(
  stego: Raster,
  changes: { username: string; consumed: number }[],
): { raster: Raster; payload: ContainerPayload; changedRows: number } {
  const payload = extractContainer(stego);
  const updated = withConsumedViews(payload, changes);
  const { raster, changedRows } = embedContainer(stego, updated);
  return { raster, payload: updated, changedRows };
}

/** A copy of `payload` with some viewers' consumed counters replaced. */
export function withConsumedViews(
  payload: ContainerPayload,
  changes: { username: string; consumed: number }[],
): ContainerPayload {
  if (!payload.rights) {
    throw new StegoError(
      StegoErrorCode.payloadInvalid,
      'this image has no access rights to update',
    );
  }
  const current = new Map(
    (payload.consumedViews ?? []).map((entry) => [entry.username, entry.consumed]),
  );
  for (const change of changes) {
    if (!payload.rights.viewers.some((viewer) => viewer.username === change.username)) {
      throw new StegoError(
        StegoErrorCode.payloadInvalid,
        `${change.username} is not a viewer of image ${payload.rights.imageId}`,
      );
    }
    current.set(change.username, change.consumed);
  }
  return {
    ...payload,
    consumedViews: payload.rights.viewers.map((viewer) => ({
      username: viewer.username,
      consumed: current.get(viewer.username) ?? 0,
    })),
  };
}

// ---------------------------------------------------------------------------------------
// Seed CloudP2P text mode: 4-byte big-endian length, then the UTF-8 bytes, same bit layout.

export const SEED_LENGTH_BYTES = 4;

/**
 * Characters a seed-format text may not contain, in either direction: the Unicode control
 * characters (general category Cc: U+0000-U+001F, U+007F-U+009F) except tab, newline,
 * vertical tab, form feed and carriage return (U+0009-U+000D). Extraction needs this rule
 * to tell text from noise (the format has no checksum), so writers refuse what readers
 * would refuse: a text written is always read back.
 */
// eslint-disable-next-line no-control-regex
const SEED_TEXT_FORBIDDEN = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f]/u;

/** The first forbidden character of a seed text and its position, or undefined. */
export function seedTextControlCharacter(
  text: string,
): { codePoint: number; index: number } | undefined {
  const match = SEED_TEXT_FORBIDDEN.exec(text);
  if (!match) return undefined;
  return { codePoint: match[0].codePointAt(0) ?? 0, index: match.index };
}

function formatCodePoint(codePoint: number): string {
  return `U+${codePoint.toString(16).toUpperCase().padStart(4, '0')}`;
}

export function seedTextSize(text: string): number {
  return SEED_LENGTH_BYTES + new TextEncoder().encode(text).length;
}

/** The seed-format bytes for `text` (length, then UTF-8), after checking every rule. */
export function encodeSeedText(text: string): Uint8Array {
  if (typeof text !== 'string' || text.length === 0) {
    throw new StegoError(StegoErrorCode.payloadInvalid, 'the text to hide must not be empty');
  }
  if (/\p{Cs}/u.test(text)) {
    throw new StegoError(
      StegoErrorCode.payloadInvalid,
      'the text contains a lone UTF-16 surrogate',
    );
  }
  const control = seedTextControlCharacter(text);
  if (control) {
    throw new StegoError(
      StegoErrorCode.payloadInvalid,
      `the text contains the control character ${formatCodePoint(control.codePoint)} at character ${control.index + 1}; ` +
        'seed-format texts may contain tab, newline, vertical tab, form feed and carriage return, no other control characters',
    );
  }
  const utf8 = new TextEncoder().encode(text);
  if (utf8.length > MAX_SEED_TEXT_BYTES) {
    throw new StegoError(
      StegoErrorCode.payloadInvalid,
      `the text is ${utf8.length} bytes of UTF-8; at most ${MAX_SEED_TEXT_BYTES} are allowed`,
    );
  }
  const bytes = new Uint8Array(SEED_LENGTH_BYTES + utf8.length);
  new DataView(bytes.buffer).setUint32(0, utf8.length);
  bytes.set(utf8, SEED_LENGTH_BYTES);
  return bytes;
}

export function embedSeedText(cover: Raster, text: string): EmbedResult {
  return embedBytes(cover, encodeSeedText(text));
}

/**
 * Reads a seed-format text. The format has no magic or checksum, so "no payload" is decided
 * by sanity checks: a length of 0, longer than the image can hold or than
 * MAX_SEED_TEXT_BYTES, bytes that are not UTF-8, or a character embedSeedText refuses
 * (SEED_TEXT_FORBIDDEN).
 */
export function extractSeedText(raster: Raster): string {
  return extractSeedTextFromSource(wholeRasterSource(raster));
}

export function extractSeedTextFromSource(source: RasterRowSource): string {
  const capacity = Math.floor((source.width * source.height * 3) / 8);
  if (capacity < SEED_LENGTH_BYTES + 1) {
    throw new StegoError(
      StegoErrorCode.noPayload,
      'no payload: the image is too small to carry a text',
    );
  }
  const lengthBytes = readSourceBytes(source, 0, SEED_LENGTH_BYTES);
  const length = new DataView(lengthBytes.buffer).getUint32(0);
  if (length === 0 || length > capacity - SEED_LENGTH_BYTES || length > MAX_SEED_TEXT_BYTES) {
    throw new StegoError(
      StegoErrorCode.noPayload,
      `no payload: no seed-format text here (its length field reads ${length}; this image holds at most ${capacity - SEED_LENGTH_BYTES} bytes)`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(
      readSourceBytes(source, SEED_LENGTH_BYTES, length),
    );
  } catch {
    throw new StegoError(
      StegoErrorCode.noPayload,
      'no payload: the hidden bytes are not UTF-8 text',
    );
  }
  if (seedTextControlCharacter(text)) {
    throw new StegoError(
      StegoErrorCode.noPayload,
      'no payload: the hidden bytes are not text (control characters)',
    );
  }
  return text;
}
