/**
 * The hidden image in the container: a PNG or JPEG file kept byte for byte (HIDDEN_IMAGE, with
 * a media code), or sealed to one viewer (ENCRYPTED_IMAGE). Checks on the file (magic bytes,
 * structure, size) before it is hidden, and the digest an owner signature covers.
 */
import { createHash } from 'node:crypto';
import { ByteWriter } from './bytes.js';
import { corruptedPayload as corrupted, invalidPayload as invalid } from './errors.js';
import { MAX_HIDDEN_IMAGE_BYTES } from './limits.js';
import { hiddenMediaTypeOf } from './media-type.js';
import { parseChunks } from './png-decode.js';
import type { ContainerPayload, HiddenImage, HiddenMediaType } from './types.js';

const MEDIA_TYPE_CODES: Record<HiddenMediaType, number> = { 'image/png': 1, 'image/jpeg': 2 };
/** Smallest sealed image: ephemeral key (32) + nonce (12) + media code (1) + 1 byte + tag (16). */
const MIN_SEALED_BYTES = 32 + 12 + 2 + 16;
const MAX_SEALED_BYTES = MAX_HIDDEN_IMAGE_BYTES + 1 + 32 + 12 + 16;

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
export interface ImageSection {
  /** ENCRYPTED_IMAGE (true) or HIDDEN_IMAGE (false). */
  sealed: boolean;
  /** Section value length. */
  length: number;
  write(writer: ByteWriter): void;
}

export function imageSection(payload: ContainerPayload): ImageSection {
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
      sealed: true,
      length: sealed.length,
      write: (w) => w.bytes(sealed),
    };
  }
  const image = validateHiddenImage(payload);
  return {
    sealed: false,
    length: 1 + image.bytes.length,
    write: (w) => {
      w.u8(image.code);
      w.bytes(image.bytes);
    },
  };
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
  return codedImage(plaintext, 'the opened image does not match its media type');
}

/** A media code byte then the file: the image, if the file's magic bytes agree with the code. */
function codedImage(coded: Uint8Array, mismatch: string): HiddenImage {
  const mediaType = (Object.keys(MEDIA_TYPE_CODES) as HiddenMediaType[]).find(
    (key) => MEDIA_TYPE_CODES[key] === coded[0],
  );
  const bytes = coded.slice(1);
  if (!mediaType || hiddenMediaTypeOf(bytes) !== mediaType) throw corrupted(mismatch);
  return { mediaType, bytes };
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
 * The image of a decoded body from its HIDDEN_IMAGE (`plain`) or ENCRYPTED_IMAGE (`sealed`)
 * section value (the container has checked that its flags announce the one present).
 */
export function decodeImageSection(
  plain: Uint8Array | undefined,
  sealed: Uint8Array | undefined,
): ContainerPayload {
  if (sealed) {
    if (plain) throw corrupted('both a plain and an encrypted image are present');
    if (sealed.length < MIN_SEALED_BYTES || sealed.length > MAX_SEALED_BYTES) {
      throw corrupted('the encrypted image has an impossible length');
    }
    return { sealedImage: sealed.slice() };
  }
  if (!plain || plain.length < 2) throw corrupted('the hidden image section is missing');
  return { image: codedImage(plain, 'the hidden image media type does not match its bytes') };
}
