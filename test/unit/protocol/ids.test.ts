import { describe, expect, it } from 'vitest';
import {
  ClientId,
  ImageId,
  Nonce,
  RequestId,
  SignatureHex,
  UserId,
  Username,
  isImageId,
  isTaskId,
  isUserId,
  isUsername,
  usernameProblem,
} from '../../../src/protocol/ids.js';
import { checker } from '../../../src/protocol/schema.js';

describe('usernames', () => {
  it.each(['bob', 'alice_2', 'a-b', 'z'.repeat(32)])('accepts %s', (name) => {
    expect(isUsername(name)).toBe(true);
    expect(checker(Username).is(name)).toBe(true);
  });
  it.each(['ab', 'Bob', '2bob', '_bob', 'bo b', 'z'.repeat(33), 'bob\n', ''])('refuses %j', (n) => {
    expect(isUsername(n)).toBe(false);
    expect(checker(Username).is(n)).toBe(false);
    expect(usernameProblem(n)).toMatch(/^username: expected 3–32 characters from a–z/);
  });
  it('refuses what is not text', () => expect(isUsername(42)).toBe(false));
});

describe('user ids and request ids (lowercase UUIDs)', () => {
  const uuid = '0b8e1c1e-7f5a-4c3e-9d2a-1b2c3d4e5f60';
  it('accepts a lowercase UUID', () => {
    expect(isUserId(uuid)).toBe(true);
    expect(checker(UserId).is(uuid)).toBe(true);
    expect(checker(RequestId).is(uuid)).toBe(true);
  });
  it.each([uuid.toUpperCase(), uuid.slice(1), `${uuid}0`, uuid.replace(/-/g, ''), ''])(
    'refuses %s',
    (text) => {
      expect(isUserId(text)).toBe(false);
      expect(checker(UserId).problem(text, 'user_id')).toMatch(
        /^user_id: expected a lowercase UUID/,
      );
    },
  );
});

describe('image ids', () => {
  it.each(['a', '0', 'holiday-2024', 'x_y', 'a'.repeat(64)])('accepts %s', (id) =>
    expect(isImageId(id)).toBe(true),
  );
  it.each(['', '-a', '_a', 'A', 'a.b', 'a/b', 'a'.repeat(65)])('refuses %j', (id) => {
    expect(isImageId(id)).toBe(false);
    expect(checker(ImageId).problem(id, 'image_id')).toMatch(/^image_id: expected 1–64 characters/);
  });
});

describe('client and task ids', () => {
  it.each(['c1', 'client-7', 'c7:task:000123', 'a@b.c', 'x'.repeat(64)])('accepts %s', (id) =>
    expect(isTaskId(id)).toBe(true),
  );
  it.each(['', 'a/b', 'a b', 'x'.repeat(65), 'é'])('refuses %j', (id) => {
    expect(isTaskId(id)).toBe(false);
    expect(checker(ClientId).problem(id, 'client_id')).toMatch(/^client_id: expected 1–64/);
  });
});

describe('hex strings', () => {
  it('nonces are 64 and signatures 128 lowercase hex characters', () => {
    expect(checker(Nonce).is('ab'.repeat(32))).toBe(true);
    expect(checker(Nonce).is('AB'.repeat(32))).toBe(false);
    expect(checker(Nonce).is('ab'.repeat(31))).toBe(false);
    expect(checker(SignatureHex).is('cd'.repeat(64))).toBe(true);
    expect(checker(SignatureHex).problem('cd', 'signature')).toMatch(/128 lowercase hex/);
  });
});
