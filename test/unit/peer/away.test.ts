/**
 * "While you were away": each kind of queued update a sign-in applies, in words, only when it
 * is this user's news.
 */
import { describe, expect, it } from 'vitest';
import { awayItem } from '../../../src/peer/away.js';
import type { WireUpdate } from '../../../src/peer/directory-client.js';

const ALICE = '11111111-1111-4111-8111-111111111111';
const BOB = '22222222-2222-4222-8222-222222222222';

const request = (
  over: Partial<Extract<WireUpdate, { kind: 'request_created' }>['request']> = {},
) => ({
  request_id: '33333333-3333-4333-8333-333333333333',
  owner_id: ALICE,
  owner_username: 'alice',
  requester_id: BOB,
  requester_username: 'bob',
  image_id: 'img1',
  views: 2,
  kind: 'access' as const,
  status: 'pending' as const,
  created_at_ms: 1,
  answered_at_ms: null,
  ...over,
});

const grant = (over: Record<string, unknown> = {}) => ({
  owner_id: ALICE,
  owner_username: 'alice',
  viewer_id: BOB,
  viewer_username: 'bob',
  image_id: 'img1',
  quota: 5,
  version: 3,
  revoked: false,
  created_at_ms: 1,
  updated_at_ms: 2,
  ...over,
});

const base = { update_id: 1, created_at_ms: 5 };

describe('awayItem', () => {
  it('a request that arrived for the owner', () => {
    const update: WireUpdate = {
      ...base,
      recipient_id: ALICE,
      kind: 'request_created',
      request: request(),
    };
    expect(awayItem(update, ALICE)).toEqual({
      kind: 'request_received',
      user: 'bob',
      image_id: 'img1',
      text: 'bob asked for 2 views of img1',
    });
    const more: WireUpdate = { ...update, request: request({ kind: 'more_views', views: 1 }) };
    expect(awayItem(more, ALICE)?.text).toBe('bob asked for 1 more view of img1');
    // Not the owner's news when it reaches someone else.
    expect(awayItem(update, BOB)).toBeNull();
  });

  it('an answer to the requester, with the views granted', () => {
    const accepted: WireUpdate = {
      ...base,
      recipient_id: BOB,
      kind: 'request_answered',
      request: request({ status: 'accepted', answered_at_ms: 3 }),
      grant: grant({ quota: 2 }),
    };
    expect(awayItem(accepted, BOB)?.text).toBe(
      'alice accepted your request for img1: 2 views in total',
    );
    const declined: WireUpdate = {
      ...base,
      recipient_id: BOB,
      kind: 'request_answered',
      request: request({ status: 'rejected', answered_at_ms: 3 }),
    };
    expect(awayItem(declined, BOB)).toMatchObject({
      kind: 'request_answered',
      user: 'alice',
      text: 'alice declined your request for img1',
    });
  });

  it('a quota changed or access revoked, for the viewer', () => {
    const changed: WireUpdate = {
      ...base,
      recipient_id: BOB,
      kind: 'grant_updated',
      grant: grant({ quota: 1 }),
    };
    expect(awayItem(changed, BOB)).toEqual({
      kind: 'grant_changed',
      user: 'alice',
      image_id: 'img1',
      text: 'alice changed your views of img1: 1 view in total',
    });
    const revoked: WireUpdate = {
      ...base,
      recipient_id: BOB,
      kind: 'grant_revoked',
      grant: grant({ revoked: true }),
    };
    expect(awayItem(revoked, BOB)?.text).toBe('alice revoked your access to img1');
    expect(awayItem(changed, ALICE)).toBeNull();
  });
});
