/**
 * The cloudp2p frame: a fixed 28-byte binary header, then a UTF-8 JSON metadata object,
 * then raw binary bytes (image data travels here, never base64).
 *
 * Layout (all integers big-endian; specified in docs/PROTOCOL.md):
 *
 *   offset size field
 *   0      2    magic        0x43 0x50 ("CP")
 *   2      1    version      protocol version, currently 1
 *   3      1    type         message type code (see messages.ts)
 *   4      4    body_length  bytes after this header = meta_length + binary length
 *   8      4    cluster_id   frames for another cluster are refused
 *   12     4    request_id   chosen by the requester, echoed in the reply (0 = none)
 *   16     8    epoch        sender's leadership epoch (0..2^53-1)
 *   24     4    meta_length  bytes of JSON metadata following the header
 *   28     ...  meta         UTF-8 JSON object
 *   28+m   ...  binary       raw payload (body_length - meta_length bytes)
 *
 * Pure: no sockets, no Node built-ins, only Uint8Array and DataView.
 */

export const FRAME_MAGIC_0 = 0x43; // 'C'
export const FRAME_MAGIC_1 = 0x50; // 'P'
export const PROTOCOL_VERSION = 1;
export const FRAME_HEADER_SIZE_BYTES = 28;

/** Hard ceilings; runtime limits may be lower but never higher. */
export const MAX_FRAME_BODY_CAP_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_FRAME_BODY_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_META_BYTES = 256 * 1024;
const MAX_U32 = 0xffff_ffff;

export interface FrameHeader {
  version: number;
  type: number;
  clusterId: number;
  requestId: number;
  epoch: number;
}

export interface Frame extends FrameHeader {
  /** The JSON metadata, still as bytes: parsing and validation belong to messages.ts. */
  meta: Uint8Array;
  /** Raw binary payload; empty when the message carries none. */
  binary: Uint8Array;
}

export interface FrameLimits {
  maxBodyBytes: number;
  maxMetaBytes: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = {
  maxBodyBytes: DEFAULT_MAX_FRAME_BODY_BYTES,
  maxMetaBytes: DEFAULT_MAX_META_BYTES,
};

/**
 * Why a byte stream cannot be read as frames. `fatal` errors lose the framing (we no longer
 * know where the next frame starts), so the connection must be closed after replying.
 */
export class FrameError extends Error {
  readonly code: FrameErrorCode;
  readonly fatal: boolean;
  constructor(code: FrameErrorCode, message: string, fatal: boolean) {
    super(message);
    this.name = 'FrameError';
    this.code = code;
    this.fatal = fatal;
  }
}

export type FrameErrorCode =
  | 'bad_magic'
  | 'unsupported_version'
  | 'oversize_frame'
  | 'oversize_meta'
  | 'bad_meta_length'
  | 'bad_epoch'
  | 'truncated_frame';

export function checkFrameLimits(limits: FrameLimits): FrameLimits {
  if (
    !Number.isInteger(limits.maxBodyBytes) ||
    limits.maxBodyBytes < 1 ||
    limits.maxBodyBytes > MAX_FRAME_BODY_CAP_BYTES
  ) {
    throw new RangeError(
      `maxBodyBytes must be an integer in 1..${MAX_FRAME_BODY_CAP_BYTES}, got ${limits.maxBodyBytes}`,
    );
  }
  if (
    !Number.isInteger(limits.maxMetaBytes) ||
    limits.maxMetaBytes < 2 ||
    limits.maxMetaBytes > limits.maxBodyBytes
  ) {
    throw new RangeError(
      `maxMetaBytes must be an integer in 2..maxBodyBytes, got ${limits.maxMetaBytes}`,
    );
  }
  return limits;
}

function checkU32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw new RangeError(`${name} must be an integer in 0..${MAX_U32}, got ${value}`);
  }
}

/** Encodes one frame. Throws RangeError on values that cannot be represented (a caller bug). */
export function encodeFrame(
  header: Omit<FrameHeader, 'version'>,
  meta: Uint8Array,
  binary: Uint8Array = EMPTY,
): Uint8Array {
  const [head, body] = encodeFrameParts(header, meta, binary);
  if (!body) return head as Uint8Array;
  const out = new Uint8Array((head as Uint8Array).length + body.length);
  out.set(head as Uint8Array, 0);
  out.set(body, (head as Uint8Array).length);
  return out;
}

/**
 * The same frame as two parts: the header with the metadata, and the binary payload as given
 * (not copied). Sockets write both parts back to back, so a multi-megabyte image is never
 * copied into a frame buffer.
 */
export function encodeFrameParts(
  header: Omit<FrameHeader, 'version'>,
  meta: Uint8Array,
  binary: Uint8Array = EMPTY,
): Uint8Array[] {
  if (!Number.isInteger(header.type) || header.type < 0 || header.type > 0xff) {
    throw new RangeError(`type must be an integer in 0..255, got ${header.type}`);
  }
  checkU32('clusterId', header.clusterId);
  checkU32('requestId', header.requestId);
  if (!Number.isSafeInteger(header.epoch) || header.epoch < 0) {
    throw new RangeError(`epoch must be a safe non-negative integer, got ${header.epoch}`);
  }
  const bodyLength = meta.length + binary.length;
  if (bodyLength > MAX_FRAME_BODY_CAP_BYTES) {
    throw new RangeError(
      `frame body of ${bodyLength} bytes exceeds the ${MAX_FRAME_BODY_CAP_BYTES}-byte cap`,
    );
  }
  const out = new Uint8Array(FRAME_HEADER_SIZE_BYTES + meta.length);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[0] = FRAME_MAGIC_0;
  out[1] = FRAME_MAGIC_1;
  out[2] = PROTOCOL_VERSION;
  out[3] = header.type;
  view.setUint32(4, bodyLength);
  view.setUint32(8, header.clusterId);
  view.setUint32(12, header.requestId);
  // The epoch is a JS safe integer (< 2^53): split into two 32-bit halves.
  view.setUint32(16, Math.floor(header.epoch / 2 ** 32));
  view.setUint32(20, header.epoch >>> 0);
  view.setUint32(24, meta.length);
  out.set(meta, FRAME_HEADER_SIZE_BYTES);
  return binary.length > 0 ? [out, binary] : [out];
}

const EMPTY = new Uint8Array(0);

export interface ParsedHeader extends FrameHeader {
  bodyLength: number;
  metaLength: number;
}

/**
 * Parses and checks a complete 28-byte header. Every check that can be made before the body
 * arrives is made here, so an oversize or garbage frame is refused without buffering it.
 */
export function parseHeader(bytes: Uint8Array, limits: FrameLimits): ParsedHeader {
  if (bytes.length < FRAME_HEADER_SIZE_BYTES) {
    throw new FrameError(
      'truncated_frame',
      `frame header needs ${FRAME_HEADER_SIZE_BYTES} bytes, got ${bytes.length}`,
      true,
    );
  }
  checkMagic(bytes[0], bytes[1]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, FRAME_HEADER_SIZE_BYTES);
  const version = bytes[2] as number;
  if (version !== PROTOCOL_VERSION) {
    // The header layout itself is versioned, so a different version means we cannot trust lengths.
    throw new FrameError(
      'unsupported_version',
      `unsupported protocol version ${version}; this peer speaks version ${PROTOCOL_VERSION}`,
      true,
    );
  }
  const bodyLength = view.getUint32(4);
  const metaLength = view.getUint32(24);
  if (bodyLength > limits.maxBodyBytes) {
    throw new FrameError(
      'oversize_frame',
      `frame body of ${bodyLength} bytes exceeds the limit of ${limits.maxBodyBytes} bytes`,
      true,
    );
  }
  if (metaLength > bodyLength) {
    throw new FrameError(
      'bad_meta_length',
      `metadata length ${metaLength} exceeds the frame body length ${bodyLength}`,
      true,
    );
  }
  if (metaLength > limits.maxMetaBytes) {
    throw new FrameError(
      'oversize_meta',
      `metadata of ${metaLength} bytes exceeds the limit of ${limits.maxMetaBytes} bytes`,
      true,
    );
  }
  const epochHigh = view.getUint32(16);
  if (epochHigh >= 2 ** 21) {
    throw new FrameError(
      'bad_epoch',
      `epoch exceeds 2^53-1 (high word 0x${epochHigh.toString(16)})`,
      true,
    );
  }
  return {
    version,
    type: bytes[3] as number,
    bodyLength,
    clusterId: view.getUint32(8),
    requestId: view.getUint32(12),
    epoch: epochHigh * 2 ** 32 + view.getUint32(20),
    metaLength,
  };
}

/** Throws unless the two bytes are the frame magic; `second` may be unknown yet. */
export function checkMagic(first: number | undefined, second: number | undefined): void {
  const firstOk = first === undefined || first === FRAME_MAGIC_0;
  const secondOk = second === undefined || second === FRAME_MAGIC_1;
  if (!firstOk || !secondOk) {
    throw new FrameError(
      'bad_magic',
      `not a cloudp2p frame: expected magic bytes 0x43 0x50 ("CP"), got 0x${hex(first)} 0x${hex(second)}`,
      true,
    );
  }
}

function hex(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, '0');
}
