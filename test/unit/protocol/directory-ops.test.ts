import { describe, expect, it } from 'vitest';
import {
  DIRECTORY_OPS,
  DIRECTORY_OP_TABLE,
  isSignedOp,
  type DirectoryOp,
} from '../../../src/protocol/directory-ops.js';
import { validateDirectoryRequest } from '../../../src/protocol/directory-protocol.js';
import { checker } from '../../../src/protocol/schema.js';

const USER = '0b8e1c1e-7f5a-4c3e-9d2a-1b2c3d4e5f60';
const OTHER = '1c9f2d2f-8a6b-4d4f-8e3b-2c3d4e5f6a71';
const argsProblem = (op: DirectoryOp, args: unknown) =>
  checker(DIRECTORY_OP_TABLE[op].args).problem(args, op);
const answerProblem = (op: DirectoryOp, answer: unknown) =>
  checker(DIRECTORY_OP_TABLE[op].answer).problem(answer, 'answer');

const grant = {
  owner_id: USER,
  image_id: 'sunset',
  viewer_id: OTHER,
  owner_username: 'alice',
  viewer_username: 'bob',
  quota: 3,
  version: 2,
  revoked: false,
  created_at_ms: 1,
  updated_at_ms: 2,
};

describe('the directory op table', () => {
  it('lets anyone call only register, challenge and login; every other op is signed', () => {
    expect(DIRECTORY_OPS.filter((op) => !isSignedOp(op))).toEqual([
      'register',
      'challenge',
      'login',
    ]);
    expect(DIRECTORY_OPS).toContain('ack_updates');
  });

  it('accepts well-formed arguments', () => {
    expect(argsProblem('create_request', { owner_id: USER, image_id: 'sunset', views: 3 })).toBe(
      null,
    );
    expect(argsProblem('list_requests', { role: 'owner', status: 'pending', limit: 500 })).toBe(
      null,
    );
    expect(argsProblem('ack_updates', { update_ids: [1, 2, 3] })).toBe(null);
  });

  it('names the field and what is allowed when an argument is wrong, missing or unknown', () => {
    expect(argsProblem('create_request', { owner_id: USER, image_id: 'sunset', views: 0 })).toBe(
      'create_request.views: expected an integer from 1 to 10000',
    );
    expect(argsProblem('create_request', { owner_id: USER, views: 1 })).toMatch(
      /^create_request\.image_id: missing; expected 1–64 characters from a–z/,
    );
    expect(argsProblem('heartbeat', { sneaky: 1 })).toBe(
      'heartbeat.sneaky: unknown field "sneaky"; allowed: none',
    );
    expect(argsProblem('answer_request', { request_id: USER, decision: 'maybe' })).toBe(
      'answer_request.decision: expected one of "accepted", "rejected"',
    );
    expect(argsProblem('ack_updates', { update_ids: new Array(501).fill(1) })).toBe(
      'ack_updates.update_ids: expected a list of at most 500 items',
    );
    expect(argsProblem('get_user', { user_id: 'Not-A-UUID' })).toMatch(
      /^get_user\.user_id: expected a lowercase UUID/,
    );
  });

  it('checks answers field by field and ignores fields a newer server adds', () => {
    expect(answerProblem('set_grant', { ...grant, views_used: 1 })).toBe(null);
    expect(answerProblem('set_grant', { ...grant, version: 0 })).toBe(
      'answer.version: expected an integer from 1 to 4294967295',
    );
    expect(
      answerProblem('take_updates', [
        { update_id: 1, recipient_id: OTHER, created_at_ms: 5, kind: 'grant_updated', grant },
      ]),
    ).toBe(null);
    expect(
      answerProblem('take_updates', [
        { update_id: 1, recipient_id: OTHER, created_at_ms: 5, kind: 'surprise', grant },
      ]),
    ).toMatch(/^answer\[0\]\.kind: expected one of "request_created"/);
    expect(answerProblem('list_grants', { items: [grant], next_cursor: 'x'.repeat(513) })).toBe(
      'answer.next_cursor: expected text of at most 512 characters',
    );
  });
});

describe('the DirectoryRequest envelope (checked at the codec)', () => {
  const auth = {
    user_id: USER,
    timestamp_ms: 1_700_000_000_000,
    nonce: 'a'.repeat(64),
    signature: 'b'.repeat(128),
  };

  it('wants auth exactly for signed ops', () => {
    expect(validateDirectoryRequest({ op: 'heartbeat', args: {}, auth }).ok).toBe(true);
    expect(validateDirectoryRequest({ op: 'challenge', args: {}, auth: null }).ok).toBe(true);
    expect(validateDirectoryRequest({ op: 'heartbeat', args: {}, auth: null })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^DirectoryRequest\.auth: this op must be signed/),
    });
    expect(validateDirectoryRequest({ op: 'register', args: {}, auth })).toMatchObject({
      ok: false,
      error: 'DirectoryRequest.auth: register takes no auth block (null)',
    });
  });

  it('names the bad field of an auth block and refuses unknown ops', () => {
    expect(
      validateDirectoryRequest({ op: 'heartbeat', args: {}, auth: { ...auth, nonce: 'xyz' } }),
    ).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^DirectoryRequest\.auth\.nonce: expected 64 lowercase hex/),
    });
    expect(validateDirectoryRequest({ op: 'drop_tables', args: {}, auth: null })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^DirectoryRequest\.op: expected one of register, challenge/),
    });
  });
});
