import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../../src/directory/cursor.js';
import { isDirectoryError } from '../../../src/directory/errors.js';
import {
  decodeGrant,
  decodeImage,
  decodePresence,
  decodeRequest,
  decodeUpdate,
  decodeUser,
} from '../../../src/directory/rows.js';

const ID_A = '0b8e9d2c-1f6a-4c3e-9b7d-2a5c8e1f4d6b';
const ID_B = '7f3a1c5e-9d2b-4e8f-a6c4-1b3d5f7a9c2e';

const grantRow = {
  owner_id: ID_A,
  owner_username: 'alice',
  image_id: 'sunset',
  viewer_id: ID_B,
  viewer_username: 'bob',
  quota: '5', // PostgreSQL BIGINT arrives as a string
  version: 2n,
  revoked: 0,
  created_at_ms: 1,
  updated_at_ms: 2,
};

function badRow(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isDirectoryError(err, 'directory_bad_row')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected a bad-row error');
}

describe('row decoders', () => {
  it('accept what each driver returns', () => {
    expect(decodeGrant(grantRow)).toMatchObject({ quota: 5, version: 2, revoked: false });
    expect(decodeGrant({ ...grantRow, revoked: true }).revoked).toBe(true);
    expect(
      decodeUser({
        user_id: ID_A,
        username: 'alice',
        public_key: Buffer.alloc(32, 1),
        created_at_ms: '1700000000000',
      }),
    ).toMatchObject({ created_at_ms: 1_700_000_000_000 });
  });

  it('name the table, row and column that are wrong', () => {
    expect(badRow(() => decodeGrant({ ...grantRow, quota: -1 }))).toMatch(
      /dir_grants row .*column "quota" must be an integer from 0 to 1000000; found "-1"/,
    );
    badRow(() => decodeGrant({ ...grantRow, revoked: 2 }));
    badRow(() => decodeGrant({ ...grantRow, version: 0 }));
    badRow(() => decodeGrant({ ...grantRow, quota: '1e3' }));
    badRow(() => decodeGrant({ ...grantRow, owner_id: 'ALICE' }));
    badRow(() => decodeGrant({ ...grantRow, image_id: undefined }));
    badRow(() =>
      decodeUser({
        user_id: ID_A,
        username: 'alice',
        public_key: Buffer.alloc(33),
        created_at_ms: 1,
      }),
    );
    badRow(() =>
      decodeUser({ user_id: ID_A, username: 'alice', public_key: 'x', created_at_ms: 1 }),
    );
  });

  it('say what the column must be and what they found', () => {
    expect(badRow(() => decodeGrant({ ...grantRow, revoked: 2 }))).toMatch(
      /column "revoked" must be 0 or 1 \(true or false\); found "2"/,
    );
    expect(badRow(() => decodeGrant({ ...grantRow, viewer_username: 'Bad Name' }))).toMatch(
      /column "viewer_username" must be 3–32 characters from a–z.*; found "Bad Name"/,
    );
    expect(badRow(() => decodeGrant({ ...grantRow, image_id: undefined }))).toMatch(
      /column "image_id" must be 1–64 characters.*; found nothing/,
    );
    expect(
      badRow(() =>
        decodeUser({
          user_id: ID_A,
          username: 'alice',
          public_key: Buffer.alloc(31),
          created_at_ms: 1,
        }),
      ),
    ).toMatch(
      /dir_users row .*column "public_key" must be a raw Ed25519 public key of 32 bytes; found 31 bytes/,
    );
  });

  it('read an image row into a record with its preview', () => {
    const image = {
      owner_id: ID_A,
      owner_username: 'alice',
      image_id: 'sunset',
      title: 'Sunset',
      width: '640',
      height: 480,
      media_type: 'image/jpeg',
      size_bytes: 5000n,
      created_at_ms: 1,
      updated_at_ms: 2,
    };
    expect(decodeImage(image)).toEqual({
      owner_id: ID_A,
      owner_username: 'alice',
      image_id: 'sunset',
      title: 'Sunset',
      preview: { width: 640, height: 480, media_type: 'image/jpeg', size_bytes: 5000 },
      created_at_ms: 1,
      updated_at_ms: 2,
    });
    expect(badRow(() => decodeImage({ ...image, width: 0 }))).toMatch(/column "width" must be/);
    expect(badRow(() => decodeImage({ ...image, title: 'a\u0007b' }))).toMatch(/column "title"/);
  });

  it('check request state consistency', () => {
    const request = {
      request_id: ID_A,
      requester_id: ID_B,
      requester_username: 'bob',
      owner_id: ID_A,
      owner_username: 'alice',
      image_id: 'sunset',
      views: 3,
      kind: 'access',
      status: 'pending',
      created_at_ms: 10,
      answered_at_ms: null,
    };
    expect(decodeRequest(request).status).toBe('pending');
    badRow(() => decodeRequest({ ...request, answered_at_ms: 11 }));
    badRow(() => decodeRequest({ ...request, status: 'accepted' }));
    badRow(() => decodeRequest({ ...request, status: 'maybe' }));
    badRow(() => decodeRequest({ ...request, views: 0 }));
  });

  it('apply the presence TTL at read time', () => {
    const row = {
      user_id: ID_A,
      username: 'alice',
      is_online: 1,
      address: '127.0.0.1',
      port: 4000,
      last_seen_at_ms: 1000,
    };
    expect(decodePresence(row, 1500, 1000).online).toBe(true);
    expect(decodePresence(row, 2000, 1000).online).toBe(false);
    expect(decodePresence({ ...row, is_online: 0 }, 1500, 1000).online).toBe(false);
    badRow(() => decodePresence({ ...row, address: null }, 1500, 1000));
    badRow(() => decodePresence({ ...row, port: 70_000 }, 1500, 1000));
  });

  it('validate queued update payloads', () => {
    const base = { update_id: 1, recipient_id: ID_B, created_at_ms: 5 };
    const grant = { ...grantRow, quota: 5, version: 2, revoked: false };
    expect(
      decodeUpdate({ ...base, kind: 'grant_updated', payload: JSON.stringify({ grant }) }),
    ).toMatchObject({ kind: 'grant_updated', grant: { quota: 5 } });
    expect(badRow(() => decodeUpdate({ ...base, kind: 'grant_updated', payload: '{' }))).toMatch(
      /dir_updates row 1 column "payload" must be JSON; found "\{"/,
    );
    expect(
      badRow(() =>
        decodeUpdate({
          ...base,
          kind: 'grant_updated',
          payload: JSON.stringify({ grant: { ...grant, views_used: 'x' } }),
        }),
      ),
    ).toMatch(/dir_updates row 1 payload column "grant\.views_used" must be an integer from 0 to/);
    expect(
      decodeUpdate({
        ...base,
        kind: 'grant_updated',
        payload: JSON.stringify({ grant }),
      }),
    ).toMatchObject({ grant: { views_used: 0 } });
    badRow(() => decodeUpdate({ ...base, kind: 'grant_updated', payload: '[]' }));
    badRow(() => decodeUpdate({ ...base, kind: 'grant_updated', payload: '{"grant":null}' }));
    badRow(() => decodeUpdate({ ...base, kind: 'unknown', payload: JSON.stringify({ grant }) }));
    badRow(() =>
      decodeUpdate({
        ...base,
        kind: 'grant_updated',
        payload: JSON.stringify({ grant: { ...grant, quota: -1 } }),
      }),
    );
  });
});

describe('page cursors', () => {
  it('round-trip and reject anything else', () => {
    const cursor = encodeCursor([12, 'abc']);
    expect(decodeCursor(cursor, ['integer', 'string'] as const)).toEqual([12, 'abc']);
    expect(decodeCursor(undefined, ['string'] as const)).toBeUndefined();
    for (const bad of [
      '',
      'not base64!',
      encodeCursor(['abc', 12]),
      encodeCursor([12]),
      encodeCursor(['x'.repeat(201)]),
      Buffer.from('{"a":1}').toString('base64url'),
      'A'.repeat(600),
      42,
    ]) {
      expect(() => decodeCursor(bad, ['integer', 'string'] as const)).toThrow(/next_cursor/);
    }
  });
});
