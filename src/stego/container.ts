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
import { StegoError, StegoErrorCode } from './errors.js';
import {
  IMAGE_ID_PATTERN,
  MAX_HIDDEN_IMAGE_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_VIEW_COUNT,
  MAX_VIEWERS,
  USERNAME_PATTERN,
} from './limits.js';
import { hiddenMediaTypeOf } from './media-type.js';
import { parseChunks } from './png-decode.js';
import type {
  AccessRights,
  ContainerPayload,
  HiddenImage,
  HiddenMediaType,
  OwnerSignature,
  PlainPayload,
  ViewerConsumption,
  ViewerGrant,
} from './types.js';

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
/** Smallest sealed image: ephemeral key (32) + nonce (12) + media code (1) + 1 byte + tag (16). */
const MIN_SEALED_BYTES = 32 + 12 + 2 + 16;
const MAX_SEALED_BYTES = MAX_HIDDEN_IMAGE_BYTES + 1 + 32 + 12 + 16;
const RIGHTS_SIGNATURE_DOMAIN = new TextEncoder().encode('cloudp2p rights v1\0');
/** Section types >= this are ancillary: decoders that do not know them skip them. */
export const FIRST_ANCILLARY_SECTION_TYPE = 0x80;

const MEDIA_TYPE_CODES: Record<HiddenMediaType, number> = { 'image/png': 1, 'image/jpeg': 2 };

function invalid(message: string): StegoError {
  return new StegoError(StegoErrorCode.payloadInvalid, message);
}
function corrupted(message: string): StegoError {
  return new StegoError(StegoErrorCode.payloadCorrupted, `payload corrupted: ${message}`);
}

// ---------------------------------------------------------------------------------------
// Validation of the payload a caller wants to embed.

export function validateUsername(username: unknown, what: string): string {
  if (typeof username !== 'string' || !USERNAME_PATTERN.test(username)) {
    throw invalid(
      `${what} ${JSON.stringify(username)} is not a valid username: use 1-32 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return username;
}

function validateCount(value: unknown, what: string): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 0 ||
    value > MAX_VIEW_COUNT
  ) {
    throw invalid(`${what} must be an integer from 0 to ${MAX_VIEW_COUNT}, got ${String(value)}`);
  }
  return value;
}

/** Returns the rights in canonical form (viewers sorted by username) or throws. */
export function canonicalRights(rights: AccessRights): AccessRights {
  const owner = validateUsername(rights.owner, 'owner');
  if (typeof rights.imageId !== 'string' || !IMAGE_ID_PATTERN.test(rights.imageId)) {
    throw invalid(
      `image id ${JSON.stringify(rights.imageId)} is not valid: use 1-64 letters, digits, '.', '_', ':' or '-', starting with a letter or digit`,
    );
  }
  if (!Array.isArray(rights.viewers) || rights.viewers.length > MAX_VIEWERS) {
    throw invalid(`at most ${MAX_VIEWERS} viewers are allowed, got ${rights.viewers?.length}`);
  }
  const viewers: ViewerGrant[] = rights.viewers.map((viewer) => ({
    username: validateUsername(viewer.username, 'viewer'),
    quota: validateCount(viewer.quota, `quota of viewer ${viewer.username}`),
  }));
  viewers.sort((a, b) => compareAscii(a.username, b.username));
  for (let i = 1; i < viewers.length; i++) {
    if (viewers[i]?.username === viewers[i - 1]?.username) {
      throw invalid(`viewer ${viewers[i]?.username} is listed twice`);
    }
  }
  return { owner, imageId: rights.imageId, viewers };
}

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Consumed counters aligned with the (canonical) rights' viewer order. */
function consumedCounters(
  rights: AccessRights,
  consumed: ViewerConsumption[] | undefined,
): number[] {
  const byViewer = new Map<string, number>();
  for (const entry of consumed ?? []) {
    const username = validateUsername(entry.username, 'consumed-views viewer');
    if (!rights.viewers.some((viewer) => viewer.username === username)) {
      throw invalid(`consumed views given for ${username}, who is not a viewer of this image`);
    }
    if (byViewer.has(username)) throw invalid(`consumed views for ${username} given twice`);
    byViewer.set(username, validateCount(entry.consumed, `consumed views of ${username}`));
  }
  return rights.viewers.map((viewer) => byViewer.get(viewer.username) ?? 0);
}

// ---------------------------------------------------------------------------------------
// Encoding.

class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialCapacity: number) {
    this.buffer = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buffer.buffer);
  }
  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + extra));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }
  u8(value: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, value);
    this.length += 1;
  }
  u16(value: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, value);
    this.length += 2;
  }
  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value);
    this.length += 4;
  }
  bytes(value: Uint8Array): void {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }
  shortAscii(value: string): void {
    this.u8(value.length);
    for (let i = 0; i < value.length; i++) this.u8(value.charCodeAt(i));
  }
  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/** The canonical ACCESS_RIGHTS section value: the exact bytes a later owner signature covers. */
export function encodeRights(rights: AccessRights): Uint8Array {
  const canonical = canonicalRights(rights);
  const writer = new ByteWriter(64 + canonical.viewers.length * 40);
  writer.shortAscii(canonical.owner);
  writer.shortAscii(canonical.imageId);
  writer.u16(canonical.viewers.length);
  for (const viewer of canonical.viewers) {
    writer.shortAscii(viewer.username);
    writer.u32(viewer.quota);
  }
  return writer.result();
}

/**
 * The container's rules for a hidden image: 1 byte .. 12 MiB, PNG or JPEG by its magic bytes
 * (matching the declared media type), and structurally whole (see checkHiddenImageStructure).
 */
export function validateHiddenImage(payload: ContainerPayload): {
  code: number;
  bytes: Uint8Array;
} {
  const image = payload.image;
  if (!image || !(image.bytes instanceof Uint8Array) || image.bytes.length === 0) {
    throw invalid('the hidden image is missing or empty');
  }
  if (image.bytes.length > MAX_HIDDEN_IMAGE_BYTES) {
    throw invalid(
      `the hidden image is ${image.bytes.length} bytes; at most ${MAX_HIDDEN_IMAGE_BYTES} bytes are allowed`,
    );
  }
  const sniffed = hiddenMediaTypeOf(image.bytes);
  if (sniffed === undefined)
    throw invalid('the hidden file is not a PNG or JPEG image (by its magic bytes)');
  if (image.mediaType !== sniffed) {
    throw invalid(`the hidden file is declared ${image.mediaType} but its bytes are ${sniffed}`);
  }
  checkHiddenImageStructure(image.bytes, sniffed);
  return { code: MEDIA_TYPE_CODES[sniffed], bytes: image.bytes };
}

/** The image section of a payload: HIDDEN_IMAGE (plain) or ENCRYPTED_IMAGE (sealed). */
interface ImageSection {
  type: number;
  /** Section value length. */
  length: number;
  write(writer: ByteWriter): void;
}

function imageSection(payload: ContainerPayload): ImageSection {
  if (payload.sealedImage !== undefined) {
    if (payload.image !== undefined)
      throw invalid('a payload has either a plain or a sealed image, not both');
    const sealed = payload.sealedImage;
    if (
      !(sealed instanceof Uint8Array) ||
      sealed.length < MIN_SEALED_BYTES ||
      sealed.length > MAX_SEALED_BYTES
    ) {
      throw invalid(`a sealed image must be ${MIN_SEALED_BYTES}..${MAX_SEALED_BYTES} bytes`);
    }
    return {
      type: SectionType.encryptedImage,
      length: sealed.length,
      write: (w) => w.bytes(sealed),
    };
  }
  const image = validateHiddenImage(payload);
  return {
    type: SectionType.hiddenImage,
    length: 1 + image.bytes.length,
    write: (w) => {
      w.u8(image.code);
      w.bytes(image.bytes);
    },
  };
}

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

/** The media code and bytes a sealed image carries once opened (see SealedPayload). */
export function sealablePlaintext(image: HiddenImage): Uint8Array {
  const { code, bytes } = validateHiddenImage({ image });
  const out = new Uint8Array(1 + bytes.length);
  out[0] = code;
  out.set(bytes, 1);
  return out;
}

/** Reverses sealablePlaintext after opening a sealed image; checks the media type. */
export function hiddenImageFromPlaintext(plaintext: Uint8Array): HiddenImage {
  const mediaType = (Object.keys(MEDIA_TYPE_CODES) as HiddenMediaType[]).find(
    (key) => MEDIA_TYPE_CODES[key] === plaintext[0],
  );
  const bytes = plaintext.slice(1);
  if (!mediaType || hiddenMediaTypeOf(bytes) !== mediaType) {
    throw corrupted('the opened image does not match its media type');
  }
  return { mediaType, bytes };
}

/**
 * The bytes the owner signs: a domain tag, the canonical rights, the rights version, and the
 * SHA-256 of the image section's value (plain or sealed), so a signed record cannot be moved
 * onto another image. The consumed-views counters are deliberately not covered: the viewer's
 * agent updates them.
 */
export function rightsSignedBytes(
  payload: Pick<PlainPayload, 'rights'> & { image?: HiddenImage; sealedImage?: Uint8Array },
  version: number,
): Uint8Array {
  if (!payload.rights) throw invalid('there are no access rights to sign');
  return rightsSignedBytesFromDigest(payload.rights, version, imageSectionDigest(payload));
}

/** SHA-256 of the image section's value (HIDDEN_IMAGE or ENCRYPTED_IMAGE) of a payload. */
export function imageSectionDigest(payload: {
  image?: HiddenImage;
  sealedImage?: Uint8Array;
}): Uint8Array {
  const section = imageSection(payload as ContainerPayload);
  const writer = new ByteWriter(section.length);
  section.write(writer);
  return new Uint8Array(createHash('sha256').update(writer.result()).digest());
}

/**
 * rightsSignedBytes for an image known only by its section digest: lets an owner re-sign a
 * viewer copy's rights (a new quota or version) without keeping the copy's sealed bytes.
 * Same bytes as rightsSignedBytes({rights, image or sealedImage}, version).
 */
export function rightsSignedBytesFromDigest(
  rights: AccessRights,
  version: number,
  imageDigest: Uint8Array,
): Uint8Array {
  if (!Number.isInteger(version) || version < 1 || version > 0xffff_ffff)
    throw invalid(`the rights version must be an integer from 1 to ${0xffff_ffff}`);
  if (!(imageDigest instanceof Uint8Array) || imageDigest.length !== 32)
    throw invalid('the image digest must be 32 bytes (SHA-256)');
  const encoded = encodeRights(rights);
  const out = new ByteWriter(RIGHTS_SIGNATURE_DOMAIN.length + encoded.length + 4 + 32);
  out.bytes(RIGHTS_SIGNATURE_DOMAIN);
  out.bytes(encoded);
  out.u32(version);
  out.bytes(imageDigest);
  return out.result();
}

/**
 * A cheap structural check of the hidden file (no pixel decoding, so it costs microseconds):
 * a PNG must have valid chunk CRCs, an IHDR and an IEND; a JPEG must contain an EOI marker.
 * This catches truncated and damaged files before they are hidden.
 */
function checkHiddenImageStructure(bytes: Uint8Array, mediaType: HiddenMediaType): void {
  if (mediaType === 'image/png') {
    try {
      parseChunks(bytes);
    } catch (err) {
      throw invalid(`the hidden PNG is damaged: ${(err as Error).message}`);
    }
    return;
  }
  for (let i = bytes.length - 2; i >= 2; i--) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0xd9) return;
  }
  throw invalid('the hidden JPEG is truncated (it has no end-of-image marker)');
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
  if (image.type === SectionType.hiddenImage) {
    body.u8(image.type);
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
  if (image.type === SectionType.encryptedImage) {
    body.u8(image.type);
    body.u32(image.length);
    image.write(body);
  }
  const flags =
    (signature ? ContainerFlag.signed : 0) |
    (image.type === SectionType.encryptedImage ? ContainerFlag.encrypted : 0);
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

class ByteReader {
  private readonly view: DataView;
  offset = 0;
  constructor(private readonly source: Uint8Array) {
    this.view = new DataView(source.buffer, source.byteOffset, source.length);
  }
  get remaining(): number {
    return this.source.length - this.offset;
  }
  private need(count: number, what: string): void {
    if (this.remaining < count) throw corrupted(`${what} runs past the end of its section`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }
  u16(what: string): number {
    this.need(2, what);
    const value = this.view.getUint16(this.offset);
    this.offset += 2;
    return value;
  }
  u32(what: string): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }
  bytes(count: number, what: string): Uint8Array {
    this.need(count, what);
    const value = this.source.subarray(this.offset, this.offset + count);
    this.offset += count;
    return value;
  }
  shortAscii(what: string): string {
    const length = this.u8(what);
    return String.fromCharCode(...this.bytes(length, what));
  }
}

export function decodeRights(value: Uint8Array): AccessRights {
  const reader = new ByteReader(value);
  const owner = reader.shortAscii('owner');
  const imageId = reader.shortAscii('image id');
  const count = reader.u16('viewer count');
  const viewers: ViewerGrant[] = [];
  for (let i = 0; i < count; i++) {
    const username = reader.shortAscii('viewer name');
    viewers.push({ username, quota: reader.u32('viewer quota') });
  }
  if (reader.remaining !== 0) throw corrupted('extra bytes after the access rights');
  const rights = { owner, imageId, viewers };
  let canonical: AccessRights;
  try {
    canonical = canonicalRights(rights);
  } catch (err) {
    throw corrupted(`the access rights break the format rules (${(err as Error).message})`);
  }
  if (canonical.viewers.some((viewer, i) => viewer.username !== viewers[i]?.username)) {
    throw corrupted('the viewers are not in canonical (sorted) order');
  }
  return rights;
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
  const payload = decodeImageSections(sections, flags);
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

function decodeImageSections(sections: Map<number, Uint8Array>, flags: number): ContainerPayload {
  const sealed = sections.get(SectionType.encryptedImage);
  const plain = sections.get(SectionType.hiddenImage);
  if (Boolean(flags & ContainerFlag.encrypted) !== (sealed !== undefined)) {
    throw corrupted('the encrypted flag and the encrypted-image section disagree');
  }
  if (sealed) {
    if (plain) throw corrupted('both a plain and an encrypted image are present');
    if (sealed.length < MIN_SEALED_BYTES || sealed.length > MAX_SEALED_BYTES) {
      throw corrupted('the encrypted image has an impossible length');
    }
    return { sealedImage: sealed.slice() };
  }
  if (!plain || plain.length < 2) throw corrupted('the hidden image section is missing');
  const mediaType = (Object.keys(MEDIA_TYPE_CODES) as HiddenMediaType[]).find(
    (key) => MEDIA_TYPE_CODES[key] === plain[0],
  );
  const imageBytes = plain.slice(1);
  if (!mediaType || hiddenMediaTypeOf(imageBytes) !== mediaType) {
    throw corrupted('the hidden image media type does not match its bytes');
  }
  return { image: { mediaType, bytes: imageBytes } };
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

/** How many views `username` has left (0 if not a viewer). */
export function viewsLeft(payload: ContainerPayload, username: string): number {
  const grant = payload.rights?.viewers.find((viewer) => viewer.username === username);
  if (!grant) return 0;
  const used = payload.consumedViews?.find((entry) => entry.username === username)?.consumed ?? 0;
  return Math.max(0, grant.quota - used);
}

/** The plain hidden image of a payload; a sealed one gets an error saying how to open it. */
export function plainImage(payload: ContainerPayload): HiddenImage {
  if (payload.image) return payload.image;
  throw new StegoError(
    StegoErrorCode.payloadSealed,
    `the hidden image is sealed to a viewer (${payload.sealedImage.length} bytes encrypted); only that viewer's agent can open it (cloudp2p peer view)`,
  );
}
