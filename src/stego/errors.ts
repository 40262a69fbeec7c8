/**
 * The engine's errors: each has a stable `code` (for scripts and the wire protocol) and
 * the CLI exit code from src/util/errors.ts. Messages say what is wrong and what is allowed.
 */
import { CloudP2PError, ExitCode } from '../util/errors.js';

export const StegoErrorCode = {
  /** Not an image, truncated, corrupt, zero-sized. */
  imageInvalid: 'image-invalid',
  /** A real image in a format we do not take (GIF, WebP, TIFF...). */
  imageUnsupported: 'image-unsupported',
  /** Too many pixels or bytes. */
  imageTooLarge: 'image-too-large',
  /** A payload field breaks a rule (username charset, quota range, message length...). */
  payloadInvalid: 'payload-invalid',
  /** A container written by a newer format version, or with features this build lacks. */
  payloadUnsupported: 'payload-unsupported',
  noPayload: 'no-payload',
  payloadCorrupted: 'payload-corrupted',
  capacityExceeded: 'capacity-exceeded',
  /** The hidden image is sealed to a viewer; only that viewer's agent can open it. */
  payloadSealed: 'payload-sealed',
} as const;
export type StegoErrorCodeValue = (typeof StegoErrorCode)[keyof typeof StegoErrorCode];

const exitCodes = {
  'image-invalid': ExitCode.badInput,
  'image-unsupported': ExitCode.badInput,
  'image-too-large': ExitCode.badInput,
  'payload-invalid': ExitCode.badInput,
  'payload-unsupported': ExitCode.badInput,
  'no-payload': ExitCode.noPayload,
  'payload-corrupted': ExitCode.corrupted,
  'capacity-exceeded': ExitCode.capacity,
  'payload-sealed': ExitCode.denied,
} as const satisfies Record<StegoErrorCodeValue, number>;

export class StegoError extends CloudP2PError {
  declare readonly code: StegoErrorCodeValue;

  constructor(code: StegoErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(code, message, exitCodes[code], options);
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
  ) {
    super(StegoErrorCode.capacityExceeded, message);
    this.name = 'CapacityError';
  }
}
