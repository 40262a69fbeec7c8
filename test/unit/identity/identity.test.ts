import { createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fromB64url,
  generateIdentity,
  identityFromSeed,
  sign,
  verify,
  x25519PrivateFromSeed,
  x25519Public,
  x25519PublicFromEd25519,
} from '../../../src/identity/keys.js';
import { SEAL_OVERHEAD_BYTES, open, seal } from '../../../src/identity/seal.js';

const text = new TextEncoder();

describe('identity keys', () => {
  it('signs and verifies; any change to data, signature or key fails', () => {
    const alice = generateIdentity();
    const bob = generateIdentity();
    const data = text.encode('challenge 1234');
    const signature = sign(alice, data);
    expect(signature).toHaveLength(64);
    expect(verify(alice.publicKey, data, signature)).toBe(true);
    expect(verify(bob.publicKey, data, signature)).toBe(false);
    expect(verify(alice.publicKey, text.encode('challenge 1235'), signature)).toBe(false);
    const flipped = Uint8Array.from(signature);
    flipped[10] = (flipped[10] as number) ^ 1;
    expect(verify(alice.publicKey, data, flipped)).toBe(false);
    expect(verify(alice.publicKey, data, signature.subarray(0, 63))).toBe(false);
    expect(verify(new Uint8Array(32), data, signature)).toBe(false);
  });

  it('rebuilds the same identity from its seed', () => {
    const alice = generateIdentity();
    expect(identityFromSeed(alice.seed).publicKey).toEqual(alice.publicKey);
    expect(() => identityFromSeed(new Uint8Array(31))).toThrow(/32 bytes, got 31/);
  });

  it('converts Ed25519 keys to X25519 consistently (public of converted private = converted public)', () => {
    for (let i = 0; i < 20; i++) {
      const id = generateIdentity();
      const derivedPublic = fromB64url(
        createPublicKey(x25519PrivateFromSeed(id.seed)).export({ format: 'jwk' }).x as string,
      );
      expect(x25519PublicFromEd25519(id.publicKey)).toEqual(derivedPublic);
    }
  });

  it('agrees on an ECDH secret with a converted key', () => {
    const bob = generateIdentity();
    const ephemeral = generateKeyPairSync('x25519');
    const fromSender = diffieHellman({
      privateKey: ephemeral.privateKey,
      publicKey: x25519Public(x25519PublicFromEd25519(bob.publicKey)),
    });
    const fromRecipient = diffieHellman({
      privateKey: x25519PrivateFromSeed(bob.seed),
      publicKey: ephemeral.publicKey,
    });
    expect(fromSender.equals(fromRecipient)).toBe(true);
  });
});

describe('sealed box', () => {
  const bob = generateIdentity();
  const carol = generateIdentity();
  const context = text.encode('alice|img-1|bob');

  it('opens only for the recipient and only with the same context (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (plaintext) => {
        const sealed = seal(plaintext, bob.publicKey, context);
        expect(sealed.length).toBe(plaintext.length + SEAL_OVERHEAD_BYTES);
        expect(open(sealed, bob.seed, bob.publicKey, context)).toEqual(plaintext);
        expect(() => open(sealed, carol.seed, carol.publicKey, context)).toThrow(
          /sealed for another user, or altered/,
        );
        expect(() => open(sealed, bob.seed, bob.publicKey, text.encode('alice|img-2|bob'))).toThrow(
          /another user, or altered/,
        );
      }),
      { numRuns: 50 },
    );
  });

  it('refuses altered or truncated sealed data with a clear error', () => {
    const sealed = seal(text.encode('secret image bytes'), bob.publicKey, context);
    const altered = Uint8Array.from(sealed);
    altered[50] = (altered[50] as number) ^ 0x80;
    expect(() => open(altered, bob.seed, bob.publicKey, context)).toThrow(/altered/);
    expect(() => open(sealed.subarray(0, 40), bob.seed, bob.publicKey, context)).toThrow(
      /shorter than the 60-byte envelope/,
    );
  });

  it('does not leak the plaintext: sealing twice gives unrelated bytes', () => {
    const plaintext = new Uint8Array(1000).fill(65);
    const a = seal(plaintext, bob.publicKey, context);
    const b = seal(plaintext, bob.publicKey, context);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(Buffer.from(a).includes(Buffer.from(plaintext.subarray(0, 16)))).toBe(false);
  });
});
