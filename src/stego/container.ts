/**
 * The cloudp2p container: the byte string hidden in a cover's LSBs. The layout is specified
 * in docs/STEGO-FORMAT.md; this file is its reference implementation.
 *
 *   fixed header (48 bytes): magic "CP2P", version, flags, reserved, body length,
 *                            SHA-256(body), CRC-32(header bytes 0..43)
 *   body: typed sections (type u8, length u32 BE, value), strictly ascending types.
 *
 * Encoding is canonical (one byte string per payload) and decoding is strict (anything
 * non-canonical is refused), so decode(encode(p)) = p and encode(decode(b)) = b.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { ByteReader, ByteWriter } from './bytes.js';
import {
  StegoError,
  StegoErrorCode,
  corruptedPayload as corrupted,
  invalidPayload as invalid,
} from './errors.js';
import { decodeImageSection, imageSection } from './image-section.js';
import { MAX_MESSAGE_BYTES, MAX_VIEW_COUNT } from './limits.js';
import { canonicalRights, consumedCounters, decodeRights, encodeRights } from './rights.js';
import type { ContainerPayload, HiddenImage, OwnerSignature } from './types.js';

export const CONTAINER_MAGIC = Uint8Array.of(0x43, 0x50, 0x32, 0x50); // "CP2P"
export const CONTAINER_VERSION = 1;
export const HEADER_BYTES = 48;
const SECTION_HEADER_BYTES = 5;
/** Bytes a container adds to the hidden file when it has no rights and no message. */
export const MIN_CONTAINER_OVERHEAD_BYTES = HEADER_BYTES + SECTION_HEADER_BYTES + 1;

/** Header flag bits; any other bit set means a feature this build does not know. */
export const ContainerFlag = {
  /** An OWNER_SIGNATURE section is present (and the reader must verify it). */
  signed: 0x01,
  /** The hidden image is in ENCRYPTED_IMAGE (sealed to one viewer) instead of HIDDEN_IMAGE. */
  encrypted: 0x02,
} as const;
const KNOWN_FLAGS = ContainerFlag.signed | ContainerFlag.encrypted;

export const SectionType = {
  hiddenImage: 0x01,
  accessRights: 0x02,
  consumedViews: 0x03,
  message: 0x04,
  /** Owner's rights version, Ed25519 public key and signature (see rightsSignedBytes). */
  ownerSignature: 0x10,
  /** The hidden image sealed to the viewer's key (X25519 + HKDF + AES-256-GCM). */
  encryptedImage: 0x11,
} as const;
/** OWNER_SIGNATURE value: rights version u32, public key (32), signature (64). */
const SIGNATURE_SECTION_BYTES = 4 + 32 + 64;
/** Section types >= this are ancillary: decoders that do not know them skip them. */
export const FIRST_ANCILLARY_SECTION_TYPE = 0x80;

// ---------------------------------------------------------------------------------------
// Encoding.

function validateSignature(payload: ContainerPayload): OwnerSignature | undefined {
  const signature = payload.ownerSignature;
  if (signature === undefined) return undefined;
  if (!payload.rights) throw invalid('an owner signature needs access rights to sign');
  if (
    !Number.isInteger(signature.version) ||
    signature.version < 1 ||
    signature.version > 0xffff_ffff
  ) {
    throw invalid(`the rights version must be an integer from 1 to ${0xffff_ffff}`);
  }
  if (!(signature.publicKey instanceof Uint8Array) || signature.publicKey.length !== 32) {
    throw invalid('the owner public key must be 32 bytes');
  }
  if (!(signature.signature instanceof Uint8Array) || signature.signature.length !== 64) {
    throw invalid('the owner signature must be 64 bytes');
  }
  return signature;
}

function encodeMessage(message: string | undefined): Uint8Array | undefined {
  if (message === undefined || message === '') return undefined;
  if (typeof message !== 'string') throw invalid('the message must be a string');
  if (/\p{Cs}/u.test(message)) throw invalid('the message contains a lone UTF-16 surrogate');
  const bytes = new TextEncoder().encode(message);
  if (bytes.length > MAX_MESSAGE_BYTES) {
    throw invalid(
      `the message is ${bytes.length} bytes of UTF-8; at most ${MAX_MESSAGE_BYTES} are allowed`,
    );
  }
  return bytes;
}

/** Encoded length in bytes of the container for this payload, without building it. */
export function containerSize(payload: ContainerPayload): number {
  const image = imageSection(payload);
  let size = HEADER_BYTES + SECTION_HEADER_BYTES + image.length;
  if (payload.rights) {
    const rights = canonicalRights(payload.rights);
    consumedCounters(rights, payload.consumedViews);
    size += SECTION_HEADER_BYTES + 2 + rights.owner.length + rights.imageId.length + 2;
    for (const viewer of rights.viewers) size += 1 + viewer.username.length + 4;
    size += SECTION_HEADER_BYTES + 4 * rights.viewers.length;
  } else if (payload.consumedViews && payload.consumedViews.length > 0) {
    throw invalid('consumed views need access rights listing those viewers');
  }
  if (validateSignature(payload)) size += SECTION_HEADER_BYTES + SIGNATURE_SECTION_BYTES;
  const message = encodeMessage(payload.message);
  if (message) size += SECTION_HEADER_BYTES + message.length;
  return size;
}

export function encodeContainer(payload: ContainerPayload): Uint8Array {
  const image = imageSection(payload);
  const signature = validateSignature(payload);
  const message = encodeMessage(payload.message);
  const body = new ByteWriter(image.length + 1024 + (message?.length ?? 0));
  if (!image.sealed) {
    body.u8(SectionType.hiddenImage);
    body.u32(image.length);
    image.write(body);
  }
  if (payload.rights) {
    const rights = canonicalRights(payload.rights);
    const counters = consumedCounters(rights, payload.consumedViews);
    const rightsBytes = encodeRights(rights);
    body.u8(SectionType.accessRights);
    body.u32(rightsBytes.length);
    body.bytes(rightsBytes);
    body.u8(SectionType.consumedViews);
    body.u32(4 * counters.length);
    for (const count of counters) body.u32(count);
  } else if (payload.consumedViews && payload.consumedViews.length > 0) {
    throw invalid('consumed views need access rights listing those viewers');
  }
  if (message) {
    body.u8(SectionType.message);
    body.u32(message.length);
    body.bytes(message);
  }
  if (signature) {
    body.u8(SectionType.ownerSignature);
    body.u32(SIGNATURE_SECTION_BYTES);
    body.u32(signature.version);
    body.bytes(signature.publicKey);
    body.bytes(signature.signature);
  }
  if (image.sealed) {
    body.u8(SectionType.encryptedImage);
    body.u32(image.length);
    image.write(body);
  }
  const flags =
    (signature ? ContainerFlag.signed : 0) | (image.sealed ? ContainerFlag.encrypted : 0);
  const bodyBytes = body.result();
  const out = new Uint8Array(HEADER_BYTES + bodyBytes.length);
  const view = new DataView(out.buffer);
  out.set(CONTAINER_MAGIC, 0);
  view.setUint8(4, CONTAINER_VERSION);
  view.setUint8(5, flags);
  view.setUint16(6, 0);
  view.setUint32(8, bodyBytes.length);
  out.set(createHash('sha256').update(bodyBytes).digest(), 12);
  view.setUint32(44, crc32(out.subarray(0, 44)));
  out.set(bodyBytes, HEADER_BYTES);
  return out;
}

// ---------------------------------------------------------------------------------------
// Decoding.

export interface ContainerHeader {
  version: number;
  flags: number;
  bodyLength: number;
  bodySha256: Uint8Array;
}

function hammingDistance(a: Uint8Array, b: Uint8Array): number {
  let distance = 0;
  for (let i = 0; i < a.length; i++) {
    let x = ((a[i] as number) ^ (b[i] as number)) & 0xff;
    while (x) {
      distance += x & 1;
      x >>= 1;
    }
  }
  return distance;
}

/**
 * Checks the fixed header. `maxBodyBytes` is what the carrier could hold after the header.
 * A magic more than 3 bits away from "CP2P" means "no payload" (a random image matches
 * within 3 bits with probability ~1.3e-6); closer but not equal means a damaged header.
 */
export function decodeHeader(header: Uint8Array, maxBodyBytes: number): ContainerHeader {
  if (header.length < HEADER_BYTES) {
    throw new StegoError(
      StegoErrorCode.noPayload,
      'no payload: the image is too small to carry one',
    );
  }
  const distance = hammingDistance(header.subarray(0, 4), CONTAINER_MAGIC);
  if (distance > 3) {
    throw new StegoError(
      StegoErrorCode.noPayload,
      'no payload: this image carries no cloudp2p container',
    );
  }
  if (distance > 0) throw corrupted('the container magic is damaged');
  const view = new DataView(header.buffer, header.byteOffset, HEADER_BYTES);
  if (view.getUint32(44) !== crc32(header.subarray(0, 44))) {
    throw corrupted('the header checksum (CRC-32) does not match');
  }
  const version = view.getUint8(4);
  const flags = view.getUint8(5);
  if (version !== CONTAINER_VERSION) {
    throw new StegoError(
      StegoErrorCode.payloadUnsupported,
      `the container has format version ${version}; this build reads version ${CONTAINER_VERSION}`,
    );
  }
  if ((flags & ~KNOWN_FLAGS) !== 0) {
    throw new StegoError(
      StegoErrorCode.payloadUnsupported,
      `the container uses features this build does not implement (unknown flags 0x${(flags & ~KNOWN_FLAGS).toString(16)})`,
    );
  }
  if (view.getUint16(6) !== 0) throw corrupted('reserved header bytes are not zero');
  const bodyLength = view.getUint32(8);
  if (bodyLength > maxBodyBytes) {
    throw corrupted(
      `the header claims a ${bodyLength}-byte body but the image holds at most ${maxBodyBytes}`,
    );
  }
  return { version, flags, bodyLength, bodySha256: header.slice(12, 44) };
}

/** Parses and checks a body whose SHA-256 already matched, against the header flags. */
export function decodeBody(body: Uint8Array, flags = 0): ContainerPayload {
  const reader = new ByteReader(body);
  const sections = new Map<number, Uint8Array>();
  let previousType = -1;
  while (reader.remaining > 0) {
    const type = reader.u8('section type');
    const length = reader.u32('section length');
    const value = reader.bytes(length, `section 0x${type.toString(16)}`);
    if (type <= previousType) throw corrupted('sections are out of order or repeated');
    previousType = type;
    if (type >= FIRST_ANCILLARY_SECTION_TYPE) continue;
    if (!Object.values(SectionType).includes(type as never)) {
      throw new StegoError(
        StegoErrorCode.payloadUnsupported,
        `the container has a critical section of unknown type 0x${type.toString(16)}`,
      );
    }
    sections.set(type, value);
  }
  const sealed = sections.get(SectionType.encryptedImage);
  if (Boolean(flags & ContainerFlag.encrypted) !== (sealed !== undefined)) {
    throw corrupted('the encrypted flag and the encrypted-image section disagree');
  }
  const payload = decodeImageSection(sections.get(SectionType.hiddenImage), sealed);
  const rightsValue = sections.get(SectionType.accessRights);
  const consumedValue = sections.get(SectionType.consumedViews);
  if (rightsValue) {
    const rights = decodeRights(rightsValue);
    if (!consumedValue || consumedValue.length !== 4 * rights.viewers.length) {
      throw corrupted('the consumed-views section does not match the viewer list');
    }
    const counters = new ByteReader(consumedValue);
    payload.rights = rights;
    payload.consumedViews = rights.viewers.map((viewer) => {
      const consumed = counters.u32('consumed views');
      if (consumed > MAX_VIEW_COUNT)
        throw corrupted(`consumed views of ${viewer.username} out of range`);
      return { username: viewer.username, consumed };
    });
  } else if (consumedValue) {
    throw corrupted('consumed views are present without access rights');
  }
  const signatureValue = sections.get(SectionType.ownerSignature);
  if (Boolean(flags & ContainerFlag.signed) !== (signatureValue !== undefined)) {
    throw corrupted('the signed flag and the signature section disagree');
  }
  if (signatureValue) {
    if (!payload.rights) throw corrupted('a signature is present without access rights');
    if (signatureValue.length !== SIGNATURE_SECTION_BYTES)
      throw corrupted('the signature section has the wrong length');
    const reader = new ByteReader(signatureValue);
    const version = reader.u32('rights version');
    if (version < 1) throw corrupted('the rights version is zero');
    payload.ownerSignature = {
      version,
      publicKey: signatureValue.slice(4, 36),
      signature: signatureValue.slice(36),
    };
  }
  const messageValue = sections.get(SectionType.message);
  if (messageValue) {
    if (messageValue.length === 0 || messageValue.length > MAX_MESSAGE_BYTES) {
      throw corrupted('the message length is out of range');
    }
    try {
      payload.message = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(
        messageValue,
      );
    } catch {
      throw corrupted('the message is not valid UTF-8');
    }
  }
  return payload;
}

/** Decodes a complete container byte string (header + body). */
export function decodeContainer(bytes: Uint8Array): ContainerPayload {
  const header = decodeHeader(bytes.subarray(0, HEADER_BYTES), bytes.length - HEADER_BYTES);
  const body = bytes.subarray(HEADER_BYTES, HEADER_BYTES + header.bodyLength);
  verifyBody(header, body);
  return decodeBody(body, header.flags);
}

export function verifyBody(header: ContainerHeader, body: Uint8Array): void {
  const digest = createHash('sha256').update(body).digest();
  if (!digest.equals(header.bodySha256))
    throw corrupted('the body checksum (SHA-256) does not match');
}

/** The plain hidden image of a payload; a sealed one gets an error saying how to open it. */
export function plainImage(payload: ContainerPayload): HiddenImage {
  if (payload.image) return payload.image;
  throw new StegoError(
    StegoErrorCode.payloadSealed,
    `the hidden image is sealed to a viewer (${payload.sealedImage.length} bytes encrypted); only that viewer's agent can open it (cloudp2p peer view)`,
  );
}
