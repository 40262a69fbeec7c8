import { describe, expect, it } from 'vitest';
import { isDirectoryError } from '../../../src/directory/errors.js';
import * as v from '../../../src/directory/validate.js';

const ID_A = '0b8e9d2c-1f6a-4c3e-9b7d-2a5c8e1f4d6b';
const ID_B = '7f3a1c5e-9d2b-4e8f-a6c4-1b3d5f7a9c2e';
const preview = { width: 10, height: 10, media_type: 'image/jpeg', size_bytes: 100 };
const offer = { owner_id: ID_A, image_id: 'sunset', title: 'Sunset', preview };

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isDirectoryError(err, 'invalid_argument')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected invalid_argument');
}

describe("the store's argument checks", () => {
  it('return what they accept, ignoring keys they do not know', () => {
    expect(v.check(v.ImageOffer, { ...offer, extra: 1 }, 'offer')).toEqual(offer);
    expect(
      v.check(v.GrantChange, { owner_id: ID_A, image_id: 'x', viewer_id: ID_B, quota: 3 }, 'grant'),
    ).toEqual({ owner_id: ID_A, image_id: 'x', viewer_id: ID_B, quota: 3 });
  });

  it('name the field, what is allowed and what they got', () => {
    expect(refusal(() => v.check(v.UserId, 'ALICE', 'actor'))).toBe(
      'actor: expected a lowercase UUID like 0b8e1c1e-7f5a-4c3e-9d2a-1b2c3d4e5f60; got "ALICE" (5 characters)',
    );
    expect(
      refusal(() =>
        v.check(v.ImageOffer, { ...offer, preview: { ...preview, width: 0 } }, 'offer'),
      ),
    ).toMatch(/^offer\.preview\.width: expected an integer from 1 to \d+; got number 0$/);
    expect(
      refusal(() =>
        v.check(v.ImageOffer, { owner_id: ID_A, image_id: 'sunset', preview }, 'offer'),
      ),
    ).toMatch(/^offer\.title: missing; expected .*; got nothing$/);
    expect(refusal(() => v.check(v.ImageOffer, null, 'offer'))).toMatch(
      /^offer: expected an object/,
    );
  });

  it('count titles in code points and refuse what not every backend stores alike', () => {
    const max = 'x'.repeat(199) + '😀';
    expect(v.check(v.Title, max, 'title')).toBe(max);
    for (const bad of ['', 'x'.repeat(201), 'a\u2028b', 'a\u0007b', '\ud800'])
      expect(refusal(() => v.check(v.Title, bad, 'title'))).toMatch(
        /^title: expected 1–200 characters/,
      );
  });

  it('take addresses peers can dial, never a wildcard', () => {
    for (const good of ['127.0.0.1', '::1', 'peer-1.example.org'])
      expect(v.check(v.Address, good, 'address')).toBe(good);
    expect(refusal(() => v.check(v.Address, '0.0.0.0', 'address'))).toMatch(/wildcard/);
    expect(refusal(() => v.check(v.Address, 'a b', 'address'))).toMatch(
      /IP address or a host name/,
    );
  });

  it('take public keys as 32 raw bytes', () => {
    expect(v.check(v.PublicKeyBytes, new Uint8Array(32), 'public_key')).toHaveLength(32);
    expect(refusal(() => v.check(v.PublicKeyBytes, new Uint8Array(31), 'public_key'))).toMatch(
      /32 bytes; got 31 bytes$/,
    );
  });
});
