/**
 * Building task payloads and checking results: what a client sends to the cloud is a cloudp2p
 * container (the image bytes as they are, plus optional rights and message), and what comes
 * back must hide exactly that image.
 */
import {
  encodeContainer,
  extractImage,
  hiddenMediaTypeOf,
  plainImage,
  sniffImageFormat,
} from '../stego/index.js';
import type { AccessRights, ContainerPayload } from '../stego/index.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';

export function buildTaskPayload(
  image: Uint8Array,
  options: { rights?: AccessRights; message?: string } = {},
): Uint8Array {
  const mediaType = hiddenMediaTypeOf(image);
  if (!mediaType) {
    const seen = sniffImageFormat(image);
    throw new CloudP2PError(
      'image_unsupported',
      `only PNG and JPEG images can be encrypted${seen ? `; this is ${seen}` : '; this is not an image'}`,
      ExitCode.badInput,
    );
  }
  const payload: ContainerPayload = { image: { mediaType, bytes: image } };
  if (options.rights) payload.rights = options.rights;
  if (options.message !== undefined) payload.message = options.message;
  return encodeContainer(payload);
}

/** Extracts the hidden image from a result PNG and checks it is byte-identical to what was sent. */
export async function verifyResult(
  png: Uint8Array,
  sentImage: Uint8Array,
): Promise<ContainerPayload> {
  const payload = await extractImage(png);
  const hidden = plainImage(payload);
  if (!Buffer.from(hidden.bytes).equals(Buffer.from(sentImage))) {
    throw new CloudP2PError(
      'verify_failed',
      `the result hides ${hidden.bytes.length} bytes that differ from the ${sentImage.length} bytes sent`,
      ExitCode.corrupted,
    );
  }
  return payload;
}
