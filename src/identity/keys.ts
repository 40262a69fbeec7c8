/**
 * A user's identity: one Ed25519 key pair. It signs (sign-in challenges, access-rights records,
 * peer-to-peer messages) and, converted to X25519 as libsodium does
 * (crypto_sign_ed25519_pk_to_curve25519 / _sk_to_curve25519), receives images sealed to it.
 * One key to publish and pin keeps the directory simple: the public key it stores is enough to
 * both verify a user and encrypt to them.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { CloudP2PError, ExitCode } from '../util/errors.js';

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
const SEED_BYTES = 32;

export interface Identity {
  /** Raw 32-byte Ed25519 public key (what the directory stores). */
  publicKey: Uint8Array;
  /** Raw 32-byte Ed25519 seed (the private key; stays in the agent's data directory). */
  seed: Uint8Array;
}

export function generateIdentity(): Identity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    publicKey: rawPublic(publicKey),
    seed: fromB64url(privateKey.export({ format: 'jwk' }).d as string),
  };
}

export function identityFromSeed(seed: Uint8Array): Identity {
  if (seed.length !== SEED_BYTES)
    throw new CloudP2PError(
      'bad_key',
      `an Ed25519 private key is ${SEED_BYTES} bytes, got ${seed.length}`,
      ExitCode.badInput,
    );
  const privateKey = ed25519Private(seed);
  return { publicKey: rawPublic(createPublicKey(privateKey)), seed: Uint8Array.from(seed) };
}

export function sign(identity: Identity, data: Uint8Array): Uint8Array {
  return new Uint8Array(cryptoSign(null, data, ed25519Private(identity.seed)));
}

/** True only for a valid signature by `publicKey`; malformed keys or signatures are simply false. */
export function verify(publicKey: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    return cryptoVerify(null, data, ed25519Public(publicKey), signature);
  } catch {
    return false;
  }
}

export function ed25519Public(raw: Uint8Array): KeyObject {
  if (raw.length !== PUBLIC_KEY_BYTES)
    throw new CloudP2PError(
      'bad_key',
      `an Ed25519 public key is ${PUBLIC_KEY_BYTES} bytes, got ${raw.length}`,
      ExitCode.badInput,
    );
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(raw) }, format: 'jwk' });
}

// PKCS#8 DER for a raw 32-byte private key: a fixed ASN.1 prefix, then the key (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The identity's private key as a KeyObject (for TLS: a certificate and key for this identity). */
export function privateKeyObject(identity: Identity): KeyObject {
  return ed25519Private(identity.seed);
}

function ed25519Private(seed: Uint8Array): KeyObject {
  return createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

function rawPublic(key: KeyObject): Uint8Array {
  return fromB64url(key.export({ format: 'jwk' }).x as string);
}

// --- X25519 conversion (RFC 7748 birational map; same results as libsodium) -------------

const P = 2n ** 255n - 19n;

function modPow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = base % P;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

function littleEndianToBigInt(bytes: Uint8Array): bigint {
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] as number);
  return value;
}

function bigIntToLittleEndian(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let v = value;
  for (let i = 0; i < length; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The X25519 public key (Montgomery u) of an Ed25519 public key: u = (1 + y) / (1 - y) mod p. */
export function x25519PublicFromEd25519(edPublic: Uint8Array): Uint8Array {
  if (edPublic.length !== PUBLIC_KEY_BYTES)
    throw new CloudP2PError(
      'bad_key',
      `an Ed25519 public key is ${PUBLIC_KEY_BYTES} bytes`,
      ExitCode.badInput,
    );
  const yBytes = Uint8Array.from(edPublic);
  yBytes[31] = (yBytes[31] as number) & 0x7f; // drop the sign bit of x
  const y = littleEndianToBigInt(yBytes);
  if (y >= P || y === 1n)
    throw new CloudP2PError('bad_key', 'not a valid Ed25519 public key', ExitCode.badInput);
  const u = ((1n + y) * modPow((1n - y + P) % P, P - 2n)) % P;
  return bigIntToLittleEndian(u, 32);
}

/** The X25519 private key of an Ed25519 seed: the clamped first half of SHA-512(seed). */
export function x25519PrivateFromSeed(seed: Uint8Array): KeyObject {
  const scalar = createHash('sha512').update(seed).digest().subarray(0, 32);
  scalar[0] = (scalar[0] as number) & 248;
  scalar[31] = ((scalar[31] as number) & 127) | 64;
  return createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, scalar]),
    format: 'der',
    type: 'pkcs8',
  });
}

export function x25519Public(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(raw) }, format: 'jwk' });
}

export function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function fromB64url(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64url'));
}
