/**
 * Sealing bytes to one recipient (an "anonymous sealed box"): only the holder of the
 * recipient's Ed25519 seed can open them; anyone else holding the sealed bytes learns nothing
 * but their length. X25519 ECDH with a fresh ephemeral key, HKDF-SHA256, AES-256-GCM.
 *
 *   sealed = ephemeral_public (32) || nonce (12) || ciphertext (n) || tag (16)
 *
 * `context` (e.g. owner, image id and viewer) is authenticated but not stored: opening with a
 * different context fails, so a sealed image cannot be moved into another record.
 */
import {
  createCipheriv,
  createDecipheriv,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import {
  fromB64url,
  x25519PrivateFromSeed,
  x25519Public,
  x25519PublicFromEd25519,
} from './keys.js';

const EPHEMERAL_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const SEAL_OVERHEAD_BYTES = EPHEMERAL_BYTES + NONCE_BYTES + TAG_BYTES;
const INFO = Buffer.from('cloudp2p sealed box v1');

function deriveKey(
  shared: Buffer,
  ephemeralPublic: Uint8Array,
  recipientPublic: Uint8Array,
): Buffer {
  const salt = Buffer.concat([ephemeralPublic, recipientPublic]);
  return Buffer.from(hkdfSync('sha256', shared, salt, INFO, 32));
}

export function seal(
  plaintext: Uint8Array,
  recipientEd25519Public: Uint8Array,
  context: Uint8Array,
): Uint8Array {
  const recipient = x25519PublicFromEd25519(recipientEd25519Public);
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralPublic = fromB64url(ephemeral.publicKey.export({ format: 'jwk' }).x as string);
  const shared = diffieHellman({
    privateKey: ephemeral.privateKey,
    publicKey: x25519Public(recipient),
  });
  const key = deriveKey(shared, ephemeralPublic, recipient);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(context);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([ephemeralPublic, nonce, ciphertext, cipher.getAuthTag()]));
}

export function open(
  sealed: Uint8Array,
  recipientSeed: Uint8Array,
  recipientEd25519Public: Uint8Array,
  context: Uint8Array,
): Uint8Array {
  if (sealed.length < SEAL_OVERHEAD_BYTES) {
    throw new CloudP2PError(
      'seal_corrupted',
      `sealed data is ${sealed.length} bytes, shorter than the ${SEAL_OVERHEAD_BYTES}-byte envelope`,
      ExitCode.corrupted,
    );
  }
  const ephemeralPublic = sealed.subarray(0, EPHEMERAL_BYTES);
  const nonce = sealed.subarray(EPHEMERAL_BYTES, EPHEMERAL_BYTES + NONCE_BYTES);
  const ciphertext = sealed.subarray(EPHEMERAL_BYTES + NONCE_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const recipient = x25519PublicFromEd25519(recipientEd25519Public);
  let privateKey: KeyObject;
  let shared: Buffer;
  try {
    privateKey = x25519PrivateFromSeed(recipientSeed);
    shared = diffieHellman({ privateKey, publicKey: x25519Public(ephemeralPublic) });
  } catch {
    throw new CloudP2PError(
      'seal_corrupted',
      'the sealed data does not start with a valid ephemeral key',
      ExitCode.corrupted,
    );
  }
  const decipher = createDecipheriv(
    'aes-256-gcm',
    deriveKey(shared, ephemeralPublic, recipient),
    nonce,
  );
  decipher.setAAD(context);
  decipher.setAuthTag(tag);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
  } catch {
    throw new CloudP2PError(
      'seal_not_for_you',
      'cannot open the sealed image: it was sealed for another user, or altered',
      ExitCode.denied,
    );
  }
}
