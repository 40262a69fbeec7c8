/**
 * The peer page's pure logic: errors in words, the address bar, which lists an event makes
 * stale, the words for states, and the checks on what the person typed or picked.
 */
import { describe, expect, it } from 'vitest';
import type {
  AgentEvent,
  GrantView,
  ReceivedView,
  RequestView,
  ViewRecord,
} from '../../../src/peer/api-types.js';
import {
  MAX_UPLOAD_BYTES,
  describeOffline,
  explainProblem,
  formatBytes,
  formatUntil,
  grantBadge,
  noticeFor,
  operationId,
  parseCount,
  receivedBadge,
  receivedOfflineText,
  sectionFromHash,
  sentence,
  splitRequests,
  staleAfter,
  ticketFromHash,
  titleFromFileName,
  uploadProblem,
  usernameProblem,
  viewCaption,
  viewerHeading,
  viewsUsedText,
} from '../../../src/web/pages/peer/model.js';

const request = (over: Partial<RequestView> = {}): RequestView => ({
  request_id: '11111111-2222-4333-8444-555555555555',
  owner: 'alice',
  owner_id: 'a',
  requester: 'bob',
  requester_id: 'b',
  image_id: 'i123',
  views: 2,
  kind: 'access',
  status: 'pending',
  created_at_ms: 1000,
  answered_at_ms: null,
  ...over,
});

const grant = (over: Partial<GrantView> = {}): GrantView => ({
  image_id: 'i123',
  viewer: 'bob',
  viewer_id: 'b',
  quota: 5,
  views_used: 0,
  version: 2,
  revoked: false,
  delivery: 'delivered',
  offline: { views: 1, window_ms: 86_400_000 },
  ...over,
});

const received = (over: Partial<ReceivedView> = {}): ReceivedView => ({
  owner: 'alice',
  owner_id: 'a',
  image_id: 'i123',
  quota: 3,
  consumed: 1,
  views_left: 2,
  revoked: false,
  version: 1,
  state: 'viewable',
  file_version: 1,
  size_bytes: 100,
  offline: { views: 1, window_ms: 86_400_000 },
  offline_used: 0,
  offline_until_ms: null,
  ...over,
});

describe('errors in words', () => {
  it('makes sentences', () => {
    expect(sentence('the owner is offline')).toBe('The owner is offline.');
    expect(sentence('Already one.')).toBe('Already one.');
    expect(sentence('  ')).toBe('');
  });

  it('says what to do for each kind of failure', () => {
    expect(explainProblem(0, 'unreachable', '').title).toMatch(/not answering/);
    expect(explainProblem(0, 'unreachable', '').detail).toContain('cloudp2p peer ui');
    expect(explainProblem(401, 'unauthorized', 'missing or wrong token').detail).toContain(
      'cloudp2p peer ui',
    );
    const used = explainProblem(
      401,
      'link_used',
      'this sign-in link was already used or has expired (each link works once, within 10 minutes); run `cloudp2p peer -d /tmp/my dir ui` for a new one',
    );
    expect(used).toMatchObject({
      title: 'This link was already used or has expired',
      command: 'cloudp2p peer -d /tmp/my dir ui',
    });
    // Said once: the detail does not repeat the title.
    expect(used.detail).not.toMatch(/already used/);
    expect(explainProblem(401, 'link_used', 'used').command).toBe('cloudp2p peer ui');
    expect(explainProblem(409, 'signed_out', 'x').title).toBe('You are signed out');
    expect(explainProblem(429, 'rate_limited', 'x').detail).toMatch(/Wait a moment/);
    expect(explainProblem(415, 'unsupported_media_type', 'x').detail).toContain('PNG or JPEG');
    const busy = explainProblem(503, 'busy', 'every server is busy');
    expect(busy.detail).toBe('Every server is busy. Try again in a moment.');
    const taken = explainProblem(
      409,
      'username_taken',
      'the username "alice" is already taken in this cloud; choose another',
    );
    expect(taken).toMatchObject({
      status: 409,
      code: 'username_taken',
      title: 'That username is taken',
    });
    expect(taken.detail).toContain('"alice" is already taken');
  });

  it('never answers with a title that does not say what is wrong', () => {
    // A code without its own title: the agent's sentence is the title.
    const answered = explainProblem(409, 'conflict', 'request r1 was already accepted');
    expect(answered.title).toBe('Request r1 was already accepted');
    expect(explainProblem(404, 'not_found', 'bob has no grant on i123').title).toBe(
      'Bob has no grant on i123',
    );
    expect(explainProblem(403, 'denied', 'only the owner may revoke').title).toBe(
      'Only the owner may revoke',
    );
    expect(explainProblem(422, 'image_invalid', 'the PNG ends early').title).toBe(
      'The image could not be read',
    );
    const generic =
      /^(That cannot be done now|That was not accepted|Not found|Something went wrong)$/;
    for (const status of [400, 403, 404, 409, 422, 500])
      for (const message of ['', 'the grant moved on'])
        expect(explainProblem(status, `http_${status}`, message).title).not.toMatch(generic);
    expect(explainProblem(500, 'internal', '').detail).toContain('500');
    const cloud = explainProblem(503, 'directory_unreachable', 'no cloud server answered');
    expect(cloud.title).toBe('The cloud cannot be reached');
    expect(cloud.detail).toMatch(/^No cloud server answered\. Check that/);
  });
});

describe('the viewer dialog', () => {
  it('labels the default image as such, never with the real image’s title', () => {
    const target = { owner: 'alice', image_id: 'i123', title: 'Harbour at dawn', own: false };
    expect(viewerHeading(target, null)).toBe('Opening alice’s image…');
    expect(viewerHeading(target, { verdict: 'shown' })).toBe('alice’s image “Harbour at dawn”');
    const fallback = viewerHeading(target, { verdict: 'default' });
    expect(fallback).toBe('The default image, not alice’s image');
    expect(fallback).not.toContain('Harbour');
    expect(viewerHeading({ ...target, own: true, title: null }, { verdict: 'shown' })).toBe(
      'Your image i123',
    );
  });
});

describe('the address bar', () => {
  it('finds the one-time code only in its exact form', () => {
    expect(ticketFromHash('#ticket=abcdefghijklmnopqrstuvwx')).toBe('abcdefghijklmnopqrstuvwx');
    expect(ticketFromHash('#ticket=short')).toBeNull();
    expect(ticketFromHash('#ticket=abcdefghijklmnopqrstuvwx&x=1')).toBeNull();
    expect(ticketFromHash('#/people')).toBeNull();
  });

  it('maps fragments to sections and leaves other fragments alone', () => {
    expect(sectionFromHash('')).toBe('images');
    expect(sectionFromHash('#/')).toBe('images');
    expect(sectionFromHash('#/people')).toBe('people');
    expect(sectionFromHash('#/received')).toBe('received');
    expect(sectionFromHash('#/nope')).toBeNull();
    expect(sectionFromHash('#main-heading')).toBeNull();
  });
});

describe('live events', () => {
  it('names the lists each event makes stale', () => {
    const cases: Array<[AgentEvent, string[]]> = [
      [{ type: 'status', online: true, directory: 'reachable' }, ['status', 'peers']],
      [{ type: 'request-received', request: request() }, ['inbox']],
      [{ type: 'request-answered', request: request() }, ['sent', 'received', 'status']],
      [{ type: 'image-added', image_id: 'i1', title: 't' }, ['images', 'status']],
      [
        { type: 'image-received', owner: 'a', image_id: 'i', views_left: 1 },
        ['received', 'status'],
      ],
      [{ type: 'grant-changed', grant: grant() }, ['images', 'status']],
      [{ type: 'image-viewed', owner: 'a', image_id: 'i', views_left: 0 }, ['received']],
      [{ type: 'encrypt-progress', operation: 'o', step: 's' }, []],
      [{ type: 'stopping', reason: 'x' }, []],
    ];
    for (const [event, stale] of cases) expect(staleAfter(event)).toEqual(stale);
  });

  it('announces what happened with the image title when known', () => {
    const named = (_owner: string | null, id: string): string => (id === 'i123' ? '“Sunset”' : id);
    expect(noticeFor({ type: 'request-received', request: request() }, named)).toBe(
      'bob asks for 2 views of “Sunset”.',
    );
    expect(
      noticeFor({ type: 'request-received', request: request({ kind: 'more_views', views: 1 }) }),
    ).toBe('bob asks for 1 more view of i123.');
    expect(
      noticeFor({ type: 'request-answered', request: request({ status: 'rejected' }) }, named),
    ).toBe('alice declined your request for “Sunset”.');
    expect(noticeFor({ type: 'grant-changed', grant: grant({ delivery: 'pending' }) }, named)).toBe(
      '“Sunset” for bob: 5 views in total — waits until bob is online.',
    );
    expect(
      noticeFor({
        type: 'rights-changed',
        owner: 'alice',
        image_id: 'i9',
        quota: 0,
        version: 3,
        revoked: true,
        views_left: 0,
      }),
    ).toBe('alice took back your access to i9.');
    expect(noticeFor({ type: 'encrypt-progress', operation: 'o', step: 's' })).toBeNull();
  });
});

describe('states in words, with an icon (never colour alone)', () => {
  it('describes received images', () => {
    expect(receivedBadge(received())).toMatchObject({
      tone: 'ok',
      icon: '✓',
      label: '2 of 3 left',
    });
    expect(receivedBadge(received({ state: 'used_up', views_left: 0 }))).toMatchObject({
      tone: 'bad',
      label: 'No views left',
    });
    expect(receivedBadge(received({ state: 'revoked' })).label).toBe('Access revoked');
    expect(receivedBadge(received({ state: 'waiting_for_copy' })).detail).toContain(
      'when alice is online',
    );
  });

  it('marks grants still waiting for an offline viewer', () => {
    expect(grantBadge(grant({ delivery: 'pending' }))).toMatchObject({
      tone: 'wait',
      label: 'Waiting for viewer',
    });
    expect(grantBadge(grant({ delivery: 'pending', problem: 'copy not made yet' })).detail).toBe(
      'copy not made yet',
    );
    expect(grantBadge(grant({ revoked: true })).label).toBe('Revoked');
    expect(grantBadge(grant()).label).toBe('Up to date');
  });

  it('captions a view: shown, last view, or the default image and why', () => {
    const record = (over: Partial<ViewRecord>): ViewRecord => ({
      verdict: 'shown',
      reason: 'ok',
      message: '',
      owner: 'alice',
      image_id: 'i123',
      views_left: 1,
      quota: 2,
      consumed: 1,
      media_type: 'image/jpeg',
      size_bytes: 1,
      ...over,
    });
    expect(viewCaption(record({})).title).toBe('Shown — 1 view left');
    expect(viewCaption(record({ views_left: 0 })).title).toBe('Shown — that was the last view');
    expect(viewCaption(record({ reason: 'own_image', views_left: null })).title).toBe('Your image');
    const denied = viewCaption(record({ verdict: 'default', reason: 'quota_used' }));
    expect(denied.title).toBe('Default image');
    expect(denied.detail).toMatch(/No views are left/);
    expect(viewCaption(record({ verdict: 'default', reason: 'not_named' })).detail).toMatch(
      /someone else/,
    );
  });

  it('splits the inbox into waiting (newest first) and answered', () => {
    const split = splitRequests([
      request({ request_id: 'a', created_at_ms: 1 }),
      request({ request_id: 'b', status: 'accepted' }),
      request({ request_id: 'c', created_at_ms: 5 }),
    ]);
    expect(split.waiting.map((r) => r.request_id)).toEqual(['c', 'a']);
    expect(split.answered.map((r) => r.request_id)).toEqual(['b']);
  });
});

describe('what the owner sees of each viewer', () => {
  it('shows per viewer how many views are used and left', () => {
    expect(viewsUsedText(grant({ quota: 5, views_used: 2 }))).toBe('2 of 5 used · 3 left');
    // A quota lowered below what was used: nothing left, never a negative count.
    expect(viewsUsedText(grant({ quota: 1, views_used: 3 }))).toBe('3 of 1 used · 0 left');
    expect(viewsUsedText(grant({ views_used: null }))).toBeNull();
  });
});

describe('the offline allowance, shown to both sides', () => {
  const DAY_MS = 86_400_000;

  it('says the owner’s allowance as the CLI does', () => {
    expect(describeOffline(grant().offline)).toBe(
      '1 offline view within 24 hours of the last contact with the cloud',
    );
    expect(describeOffline({ views: 3, window_ms: 7 * DAY_MS })).toBe(
      '3 offline views within 168 hours of the last contact with the cloud',
    );
    expect(describeOffline({ views: 2, window_ms: 90 * 60_000 })).toBe(
      '2 offline views within 90 minutes of the last contact with the cloud',
    );
    expect(describeOffline({ views: 0, window_ms: DAY_MS })).toBe('no offline views');
    // No copy yet: nothing signed, nothing to show.
    expect(describeOffline(null)).toBeNull();
  });

  it('tells the viewer what is left offline, and why there is none', () => {
    const now = 1_800_000_000_000;
    const until = now + 3_600_000;
    expect(receivedOfflineText(received({ offline: null }), now)).toBeNull();
    expect(receivedOfflineText(received({ offline_until_ms: null }), now)).toBe(
      'Offline: alice allows 1 offline view within 24 hours of the last contact with the cloud; none on this agent until it has reached the cloud once.',
    );
    expect(receivedOfflineText(received({ offline_until_ms: until }), now)).toBe(
      `Offline: alice allows 1 offline view within 24 hours of the last contact with the cloud; 1 offline view left until ${formatUntil(until)}.`,
    );
    expect(
      receivedOfflineText(
        received({
          offline: { views: 2, window_ms: DAY_MS },
          offline_used: 2,
          offline_until_ms: until,
        }),
        now,
      ),
    ).toContain('0 offline views left until');
    expect(receivedOfflineText(received({ offline_until_ms: now }), now)).toContain(
      'the window has passed: none until this agent reaches the cloud again',
    );
    expect(receivedOfflineText(received({ offline: { views: 0, window_ms: DAY_MS } }), now)).toBe(
      'Offline: alice allows no offline views.',
    );
  });
});

describe('checking input', () => {
  it('checks usernames like the directory does', () => {
    expect(usernameProblem('alice')).toBeNull();
    expect(usernameProblem('a_1-b')).toBeNull();
    expect(usernameProblem('')).toBe('Enter a username.');
    expect(usernameProblem('Bob')).toMatch(/cannot be a username/);
    expect(usernameProblem('ab')).toMatch(/3 to 32/);
    expect(usernameProblem('1abc')).not.toBeNull();
  });

  it('parses whole numbers in range only', () => {
    expect(parseCount('3', 1, 10)).toEqual({ value: 3 });
    expect(parseCount(' 10 ', 1, 10)).toEqual({ value: 10 });
    for (const bad of ['0', '11', '', '2.5', '-1', '1e3', 'x'])
      expect(parseCount(bad, 1, 10)).toEqual({ problem: 'Enter a whole number from 1 to 10.' });
  });

  it('accepts PNG and JPEG files up to the limit', () => {
    expect(uploadProblem({ name: 'a.png', type: 'image/png', size: 10 })).toBeNull();
    expect(uploadProblem({ name: 'a.gif', type: 'image/gif', size: 10 })).toMatch(/not a PNG/);
    expect(uploadProblem({ name: 'a.png', type: 'image/png', size: 0 })).toMatch(/empty/);
    expect(
      uploadProblem({ name: 'big.jpg', type: 'image/jpeg', size: MAX_UPLOAD_BYTES + 1 }),
    ).toMatch(/at most 12.0 MiB/);
  });

  it('makes titles, sizes and operation ids', () => {
    expect(titleFromFileName('holiday-photo.jpg')).toBe('holiday-photo');
    expect(titleFromFileName('.png')).toBe('Untitled');
    expect(titleFromFileName('a\u0007b.png')).toBe('ab');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2048)).toBe('2.0 KiB');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3.0 MiB');
    let n = 0;
    const id = operationId(() => (n++ % 36) / 36);
    expect(id).toMatch(/^up[0-9a-z]{10}$/);
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/); // what POST /api/images accepts
  });
});
