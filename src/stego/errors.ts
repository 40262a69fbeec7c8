/**
 * The engine's errors: each has a stable `code` (for scripts and the wire protocol); its CLI
 * exit code comes from the registry (src/util/error-codes.ts). Messages say what is wrong and what is allowed.
 */
import { CloudP2PError } from '../util/errors.js';

export const StegoErrorCode = {
  /** Not an image, truncated, corrupt, zero-sized. */
  imageInvalid: 'image_invalid',
  /** A real image in a format we do not take (GIF, WebP, TIFF...). */
  imageUnsupported: 'image_unsupported',
  /** Too many pixels or bytes. */
  imageTooLarge: 'image_too_large',
  /** A payload field breaks a rule (username charset, quota range, message length...). */
  payloadInvalid: 'payload_invalid',
  /** A container written by a newer format version, or with features this build lacks. */
  payloadUnsupported: 'payload_unsupported',
  noPayload: 'no_payload',
  payloadCorrupted: 'payload_corrupted',
  capacityExceeded: 'capacity_exceeded',
  /** The hidden image is sealed to a viewer; only that viewer's agent can open it. */
  payloadSealed: 'payload_sealed',
} as const;
export type StegoErrorCodeValue = (typeof StegoErrorCode)[keyof typeof StegoErrorCode];

export class StegoError extends CloudP2PError {
  declare readonly code: StegoErrorCodeValue;

  constructor(code: StegoErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(code, message, undefined, options);
    this.name = 'StegoError';
  }
}

/** Details carried by a capacity error, for callers that want to react (e.g. scale the cover). */
export class CapacityError extends StegoError {
  constructor(
    message: string,
    readonly neededBytes: number,
    readonly availableBytes: number,
    readonly smallestCover: { width: number; height: number },
    /** True when scaling the cover up was allowed but capped below what the payload needs. */
    readonly scalingCapped = false,
  ) {
    super(StegoErrorCode.capacityExceeded, message);
    this.name = 'CapacityError';
  }
}

/** A payload the caller wants to hide breaks a rule. */
export function invalidPayload(message: string): StegoError {
  return new StegoError(StegoErrorCode.payloadInvalid, message);
}

/** A hidden container does not decode: damaged, or not written by a conforming encoder. */
export function corruptedPayload(message: string): StegoError {
  return new StegoError(StegoErrorCode.payloadCorrupted, `payload corrupted: ${message}`);
}
