/**
 * The directory compliance suite: the one set of behaviours every DirectoryStore backend must
 * show. sqlite.test.ts, postgres.test.ts, mysql.test.ts and galera.test.ts run it against their
 * backend (on Galera, each extra store prefers another node, so the tests' "servers" race through
 * different nodes).
 */
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isDirectoryError, type DirectoryErrorCode } from '../../../src/directory/errors.js';
import {
  VIEW_RETRY_WINDOW_MS,
  type DirectoryStore,
  type GrantKey,
  type ImageOffer,
  type QueuedUpdate,
  type UserRecord,
} from '../../../src/directory/store.js';
import type { DirectoryHarness, HarnessFactory } from './harness.js';

const TTL_MS = 15_000;

/** One view of a grant, under a fresh id as an agent chooses one per view. */
const aView = (key: GrantKey): GrantKey & { view_id: string } => ({
  ...key,
  view_id: randomUUID(),
});

export function defineDirectoryCompliance(name: string, factory: HarnessFactory): void {
  describe(`directory compliance: ${name}`, () => {
    let h: DirectoryHarness;
    let store: DirectoryStore;

    beforeEach(async () => {
      h = await factory({ limits: { presence_ttl_ms: TTL_MS } });
      store = h.store;
    });
    afterEach(async () => {
      await h.dispose();
    });

    const register = (username: string, key = 1): Promise<UserRecord> =>
      store.registerUser({ username, public_key: new Uint8Array(32).fill(key) });

    const offer = (
      owner: UserRecord,
      image_id: string,
      title = `photo ${image_id}`,
    ): ImageOffer => ({
      owner_id: owner.user_id,
      image_id,
      title,
      preview: { width: 800, height: 600, media_type: 'image/png', size_bytes: 123_456 },
    });

    describe('users', () => {
      it('registers users with unique ids and finds them by id and name', async () => {
        const alice = await register('alice', 7);
        const bob = await register('bob', 8);
        expect(alice.user_id).toMatch(/^[0-9a-f-]{36}$/);
        expect(alice.user_id).not.toBe(bob.user_id);
        expect(await store.getUser(alice.user_id)).toEqual(alice);
        expect(await store.findUserByUsername('bob')).toEqual(bob);
        expect((await store.getUser(bob.user_id))?.public_key).toEqual(new Uint8Array(32).fill(8));
        expect(await store.findUserByUsername('carol')).toBeUndefined();
        expect(await store.getUser('00000000-0000-4000-8000-000000000000')).toBeUndefined();
      });

      it('refuses a taken username, also when two servers race for it', async () => {
        await register('alice');
        await expectCode(register('alice'), 'conflict');
        const other = await h.open();
        const results = await Promise.allSettled([
          store.registerUser({ username: 'racer', public_key: new Uint8Array(32) }),
          other.registerUser({ username: 'racer', public_key: new Uint8Array(32) }),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const failed = results.find((r) => r.status === 'rejected');
        expect(isDirectoryError(failed?.reason, 'conflict')).toBe(true);
      });

      it('validates usernames and keys', async () => {
        for (const username of ['al', 'Alice', '1abc', 'a'.repeat(33), 'bob smith', 'é-user', '']) {
          await expectCode(register(username), 'invalid_argument');
        }
        await expectCode(
          store.registerUser({ username: 'short', public_key: new Uint8Array(31) }),
          'invalid_argument',
        );
        await expectCode(
          store.registerUser({ username: 'notbytes', public_key: 'AAAA' as unknown as Uint8Array }),
          'invalid_argument',
        );
      });
    });

    describe('sign-in challenges', () => {
      it('issued by one server, answered at another, exactly once', async () => {
        const alice = await register('alice');
        const serverB = await h.open();
        const challenge = await store.createChallenge(alice.user_id);
        expect(challenge.nonce).toMatch(/^[0-9a-f]{64}$/);
        expect(challenge.expires_at_ms).toBe(h.clock.now_ms + 60_000);
        await expect(serverB.consumeChallenge(alice.user_id, challenge.nonce)).resolves.toEqual(
          challenge,
        );
        const replay = serverB.consumeChallenge(alice.user_id, challenge.nonce);
        await expect(replay).rejects.toThrow(/already used/);
        await expectCode(store.consumeChallenge(alice.user_id, challenge.nonce), 'denied');
      });

      it('refuses expired, foreign and unknown nonces', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const challenge = await store.createChallenge(alice.user_id);
        await expectCode(store.consumeChallenge(bob.user_id, challenge.nonce), 'denied');
        await expectCode(store.consumeChallenge(alice.user_id, 'ab'.repeat(32)), 'denied');
        h.clock.advance(60_000);
        await expect(store.consumeChallenge(alice.user_id, challenge.nonce)).rejects.toThrow(
          /expired/,
        );
        await expectCode(
          store.createChallenge('00000000-0000-4000-8000-000000000000'),
          'not_found',
        );
        await expectCode(store.consumeChallenge(alice.user_id, 'XYZ'), 'invalid_argument');
      });

      it('lets exactly one of several racing servers consume a nonce', async () => {
        const alice = await register('alice');
        const challenge = await store.createChallenge(alice.user_id);
        const servers = [store, await h.open(), await h.open()];
        const results = await Promise.allSettled(
          servers.flatMap((s) => [
            s.consumeChallenge(alice.user_id, challenge.nonce),
            s.consumeChallenge(alice.user_id, challenge.nonce),
          ]),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect(isDirectoryError(r.reason, 'denied')).toBe(true);
        }
      });

      it('records a signed request nonce once, at any server, and sweeps it after expiry', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const nonce = 'cd'.repeat(32);
        const expires = h.clock.now_ms + 120_000;
        await store.recordRequestNonce(alice.user_id, nonce, expires);
        const serverB = await h.open();
        await expect(serverB.recordRequestNonce(alice.user_id, nonce, expires)).rejects.toThrow(
          /cannot be replayed/,
        );
        // Nonces are per user: bob may use the same random value.
        await expect(
          serverB.recordRequestNonce(bob.user_id, nonce, expires),
        ).resolves.toBeUndefined();
        const racing = await Promise.allSettled(
          [store, serverB, await h.open()].map((s) =>
            s.recordRequestNonce(alice.user_id, 'ef'.repeat(32), expires),
          ),
        );
        expect(racing.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        await expectCode(
          store.recordRequestNonce(alice.user_id, 'xyz', expires),
          'invalid_argument',
        );
        await expectCode(
          store.recordRequestNonce(alice.user_id, '01'.repeat(32), h.clock.now_ms + 7_200_000),
          'invalid_argument',
        );
        await expectCode(
          store.recordRequestNonce(
            '00000000-0000-4000-8000-000000000000',
            '02'.repeat(32),
            expires,
          ),
          'not_found',
        );
        h.clock.advance(120_000);
        const swept = await store.sweep();
        expect(swept.request_nonces_deleted).toBe(3);
      });

      it('keeps at most max_challenges_per_user open, dropping the oldest', async () => {
        const alice = await register('alice');
        const limited = await h.open({ limits: { max_challenges_per_user: 2 } });
        const first = await limited.createChallenge(alice.user_id);
        h.clock.advance(1);
        const second = await limited.createChallenge(alice.user_id);
        h.clock.advance(1);
        const third = await limited.createChallenge(alice.user_id);
        await expectCode(limited.consumeChallenge(alice.user_id, first.nonce), 'denied');
        await limited.consumeChallenge(alice.user_id, second.nonce);
        await limited.consumeChallenge(alice.user_id, third.nonce);
      });
    });

    describe('presence', () => {
      it('goes online, heartbeats, and goes offline by TTL without any sweep', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const online = await store.goOnline(alice.user_id, {
          user_id: alice.user_id,
          address: '127.0.0.1',
          port: 40001,
        });
        expect(online).toMatchObject({ online: true, address: '127.0.0.1', port: 40001 });
        await store.goOnline(bob.user_id, {
          user_id: bob.user_id,
          address: 'bob.example',
          port: 40002,
        });
        let listed = await store.listOnlineUsers();
        expect(listed.items.map((u) => u.username)).toEqual(['alice', 'bob']);
        expect(listed.items[0]).toMatchObject({ address: '127.0.0.1', port: 40001 });
        expect(listed.items[0]?.public_key).toEqual(alice.public_key);

        h.clock.advance(TTL_MS - 1);
        const beat = await store.heartbeat(alice.user_id, alice.user_id);
        expect(beat.presence.last_seen_at_ms).toBe(h.clock.now_ms);
        expect(beat.pending_updates).toBe(0);
        h.clock.advance(2); // bob's TTL passed, alice heartbeated 2 ms ago
        listed = await store.listOnlineUsers();
        expect(listed.items.map((u) => u.username)).toEqual(['alice']);
        expect((await store.getPresence(bob.user_id))?.online).toBe(false);
        await expectCode(store.heartbeat(bob.user_id, bob.user_id), 'conflict');

        h.clock.advance(TTL_MS);
        expect((await store.listOnlineUsers()).items).toEqual([]);
        expect(await store.sweep()).toMatchObject({ presences_expired: 2 });
        expect((await store.getPresence(alice.user_id))?.online).toBe(false);
      });

      it('signs out cleanly and refuses to touch another user presence', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        await store.goOnline(alice.user_id, { user_id: alice.user_id, address: '::1', port: 1 });
        await expectCode(
          store.goOnline(bob.user_id, { user_id: alice.user_id, address: '10.0.0.1', port: 2 }),
          'denied',
        );
        await expectCode(store.heartbeat(bob.user_id, alice.user_id), 'denied');
        await expectCode(store.goOffline(bob.user_id, alice.user_id), 'denied');
        expect((await store.getPresence(alice.user_id))?.address).toBe('::1');
        await store.goOffline(alice.user_id, alice.user_id);
        await store.goOffline(alice.user_id, alice.user_id);
        expect(await store.getPresence(alice.user_id)).toMatchObject({
          online: false,
          address: '::1',
        });
        expect((await store.listOnlineUsers()).items).toEqual([]);
        expect(await store.getPresence(bob.user_id)).toMatchObject({
          online: false,
          address: null,
          port: null,
        });
      });

      it('validates addresses and ports', async () => {
        const alice = await register('alice');
        for (const [address, port] of [
          ['', 1],
          ['host name', 1],
          ['-bad.example', 1],
          ['a'.repeat(254), 1],
          ['127.0.0.1', 0],
          ['127.0.0.1', 65_536],
          ['127.0.0.1', 1.5],
          ['0.0.0.0', 80],
          ['::', 80],
        ] as const) {
          await expectCode(
            store.goOnline(alice.user_id, { user_id: alice.user_id, address, port }),
            'invalid_argument',
          );
        }
      });

      it('pages through online users', async () => {
        const names = ['ann', 'ben', 'cat', 'dan', 'eve', 'fay', 'gus'];
        for (const name of names) {
          const u = await register(name);
          await store.goOnline(u.user_id, { user_id: u.user_id, address: '127.0.0.1', port: 5000 });
        }
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listOnlineUsers({ limit: 3, ...(cursor ? { cursor } : {}) });
          expect(page.items.length).toBeLessThanOrEqual(3);
          seen.push(...page.items.map((u) => u.username));
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
        expect(seen).toEqual(names);
        await expectCode(store.listOnlineUsers({ cursor: 'garbage!' }), 'invalid_argument');
        await expectCode(store.listOnlineUsers({ limit: 501 }), 'invalid_argument');
      });
    });

    describe('offered images', () => {
      it('offers, updates, lists, filters by online owners, and withdraws', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const first = await store.offerImage(alice.user_id, offer(alice, 'sunset'));
        expect(first).toMatchObject({ owner_username: 'alice', title: 'photo sunset' });
        h.clock.advance(5);
        const renamed = await store.offerImage(alice.user_id, {
          ...offer(alice, 'sunset'),
          title: 'Sunset 🌅 über',
        });
        expect(renamed.title).toBe('Sunset 🌅 über');
        expect(renamed.created_at_ms).toBe(first.created_at_ms);
        expect(renamed.updated_at_ms).toBe(first.created_at_ms + 5);
        await store.offerImage(bob.user_id, offer(bob, 'cat'));
        await store.offerImage(alice.user_id, offer(alice, 'beach'));

        const all = await store.listImages();
        expect(all.items).toHaveLength(3);
        const mine = await store.listImages({ owner_id: alice.user_id });
        expect(mine.items.map((i) => i.image_id)).toEqual(['beach', 'sunset']);
        expect(await store.getImage({ owner_id: alice.user_id, image_id: 'sunset' })).toEqual(
          renamed,
        );

        expect((await store.listImages({ online_only: true })).items).toEqual([]);
        await store.goOnline(bob.user_id, { user_id: bob.user_id, address: '127.0.0.1', port: 9 });
        const online = await store.listImages({ online_only: true });
        expect(online.items.map((i) => i.image_id)).toEqual(['cat']);

        await expectCode(store.offerImage(bob.user_id, offer(alice, 'evil')), 'denied');
        await expectCode(
          store.withdrawImage(bob.user_id, { owner_id: alice.user_id, image_id: 'sunset' }),
          'denied',
        );
        await store.withdrawImage(alice.user_id, { owner_id: alice.user_id, image_id: 'sunset' });
        await expectCode(
          store.withdrawImage(alice.user_id, { owner_id: alice.user_id, image_id: 'sunset' }),
          'not_found',
        );
        expect(
          await store.getImage({ owner_id: alice.user_id, image_id: 'sunset' }),
        ).toBeUndefined();
      });

      it('pages through images in (owner, image) order', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const ids = ['a1', 'a2', 'a3', 'a4', 'a5'];
        for (const id of ids) {
          await store.offerImage(alice.user_id, offer(alice, id));
          await store.offerImage(bob.user_id, offer(bob, id));
        }
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listImages({ limit: 4, ...(cursor ? { cursor } : {}) });
          seen.push(...page.items.map((i) => `${i.owner_username}/${i.image_id}`));
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
        expect(seen).toHaveLength(10);
        expect(new Set(seen).size).toBe(10);
      });

      it('enforces the per-user image limit and field rules', async () => {
        const alice = await register('alice');
        const limited = await h.open({ limits: { max_images_per_user: 2 } });
        await limited.offerImage(alice.user_id, offer(alice, 'one'));
        await limited.offerImage(alice.user_id, offer(alice, 'two'));
        await limited.offerImage(alice.user_id, offer(alice, 'two', 'renamed')); // update, not new
        await expectCode(
          limited.offerImage(alice.user_id, offer(alice, 'three')),
          'limit_exceeded',
        );
        const bad: Partial<ImageOffer>[] = [
          { image_id: 'Upper' },
          { image_id: '' },
          { image_id: 'x'.repeat(65) },
          { title: '' },
          { title: 't'.repeat(201) },
          { title: 'line\nbreak' },
          { title: 'nul\u0000' },
          { title: '\ud800 lone surrogate' },
          { preview: { width: 0, height: 1, media_type: 'image/png', size_bytes: 1 } },
          { preview: { width: 1, height: 70_000, media_type: 'image/png', size_bytes: 1 } },
          { preview: { width: 1, height: 1, media_type: 'text/html', size_bytes: 1 } },
          { preview: { width: 1, height: 1, media_type: 'image/png', size_bytes: -1 } },
        ];
        for (const change of bad) {
          await expectCode(
            store.offerImage(alice.user_id, { ...offer(alice, 'ok'), ...change }),
            'invalid_argument',
          );
        }
        expect(
          await store.offerImage(alice.user_id, { ...offer(alice, 'ok'), title: 't'.repeat(200) }),
        ).toBeTruthy();
      });
    });

    describe('requests', () => {
      it('delivers a request to an offline owner at sign-in; accepting creates the grant', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        await store.offerImage(alice.user_id, offer(alice, 'sunset'));
        const request = await store.createRequest(bob.user_id, {
          requester_id: bob.user_id,
          owner_id: alice.user_id,
          image_id: 'sunset',
          views: 3,
        });
        expect(request).toMatchObject({
          status: 'pending',
          kind: 'access',
          views: 3,
          requester_username: 'bob',
        });

        // Alice signs in later, at another server, and finds the request queued.
        const serverB = await h.open();
        await serverB.goOnline(alice.user_id, {
          user_id: alice.user_id,
          address: '127.0.0.1',
          port: 7000,
        });
        expect((await serverB.heartbeat(alice.user_id, alice.user_id)).pending_updates).toBe(1);
        const [created] = await serverB.takeUpdates(alice.user_id, alice.user_id);
        expect(created).toMatchObject({ kind: 'request_created', request });
        await serverB.ackUpdates(alice.user_id, alice.user_id, [created!.update_id]);
        expect(await serverB.takeUpdates(alice.user_id, alice.user_id)).toEqual([]);

        const inbox = await serverB.listRequests(alice.user_id, {
          role: 'owner',
          status: 'pending',
        });
        expect(inbox.items).toEqual([request]);
        await expectCode(
          store.answerRequest(bob.user_id, {
            request_id: request.request_id,
            decision: 'accepted',
          }),
          'denied',
        );
        const answered = await serverB.answerRequest(alice.user_id, {
          request_id: request.request_id,
          decision: 'accepted',
        });
        expect(answered.request.status).toBe('accepted');
        expect(answered.grant).toMatchObject({
          quota: 3,
          version: 1,
          revoked: false,
          viewer_username: 'bob',
        });
        // Answering again the same way is a safe retry; the other way is a conflict.
        expect(
          await store.answerRequest(alice.user_id, {
            request_id: request.request_id,
            decision: 'accepted',
          }),
        ).toEqual(answered);
        await expectCode(
          store.answerRequest(alice.user_id, {
            request_id: request.request_id,
            decision: 'rejected',
          }),
          'conflict',
        );

        const [reply] = await store.takeUpdates(bob.user_id, bob.user_id);
        expect(reply).toMatchObject({
          kind: 'request_answered',
          request: answered.request,
          grant: answered.grant,
        });
        expect((await store.listRequests(bob.user_id, { role: 'requester' })).items).toEqual([
          answered.request,
        ]);
      });

      it('asks for more views on an active grant and adds them on acceptance', async () => {
        const { alice, bob } = await sharedImage(3);
        const more = await store.createRequest(bob.user_id, {
          requester_id: bob.user_id,
          owner_id: alice.user_id,
          image_id: 'sunset',
          views: 4,
        });
        expect(more.kind).toBe('more_views');
        const answered = await store.answerRequest(alice.user_id, {
          request_id: more.request_id,
          decision: 'accepted',
        });
        expect(answered.grant).toMatchObject({ quota: 7, version: 2 });
        const rejectedOne = await store.createRequest(bob.user_id, {
          requester_id: bob.user_id,
          owner_id: alice.user_id,
          image_id: 'sunset',
          views: 100,
        });
        const rejected = await store.answerRequest(alice.user_id, {
          request_id: rejectedOne.request_id,
          decision: 'rejected',
        });
        expect(rejected.grant).toBeUndefined();
        expect((await store.getGrant(bob.user_id, grantKey(alice, bob)))?.quota).toBe(7);
      });

      it('is idempotent by request_id and refuses duplicates, strangers and self-requests', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const carol = await register('carol');
        await store.offerImage(alice.user_id, offer(alice, 'sunset'));
        const ask = {
          request_id: '11111111-2222-4333-8444-555555555555',
          requester_id: bob.user_id,
          owner_id: alice.user_id,
          image_id: 'sunset',
          views: 2,
        };
        const first = await store.createRequest(bob.user_id, ask);
        expect(await (await h.open()).createRequest(bob.user_id, ask)).toEqual(first);
        await expectCode(store.createRequest(bob.user_id, { ...ask, views: 5 }), 'conflict');
        await expectCode(
          store.createRequest(bob.user_id, { ...ask, request_id: undefined }),
          'conflict',
        );
        await expectCode(store.createRequest(carol.user_id, ask), 'denied');
        await expectCode(
          store.createRequest(alice.user_id, {
            ...ask,
            request_id: undefined,
            requester_id: alice.user_id,
          }),
          'invalid_argument',
        );
        await expectCode(
          store.createRequest(bob.user_id, { ...ask, request_id: undefined, image_id: 'nothing' }),
          'not_found',
        );
        await expectCode(
          store.createRequest(bob.user_id, { ...ask, views: 0 }),
          'invalid_argument',
        );
        await expectCode(
          store.createRequest(bob.user_id, { ...ask, views: 10_001 }),
          'invalid_argument',
        );
        await expectCode(store.getRequest(carol.user_id, first.request_id), 'denied');
        expect(await store.getRequest(alice.user_id, first.request_id)).toEqual(first);
        expect(
          await store.getRequest(alice.user_id, '99999999-2222-4333-8444-555555555555'),
        ).toBeUndefined();
        await expectCode(
          store.answerRequest(alice.user_id, {
            request_id: '99999999-2222-4333-8444-555555555555',
            decision: 'accepted',
          }),
          'not_found',
        );
        await expectCode(
          store.answerRequest(alice.user_id, {
            request_id: first.request_id,
            decision: 'maybe' as 'accepted',
          }),
          'invalid_argument',
        );
      });

      it('limits pending requests per owner and per requester', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const carol = await register('carol');
        const limited = await h.open({
          limits: { max_pending_requests_per_owner: 2, max_pending_requests_per_requester: 1 },
        });
        for (const id of ['p1', 'p2', 'p3'])
          await store.offerImage(alice.user_id, offer(alice, id));
        const ask = (requester: UserRecord, image_id: string) =>
          limited.createRequest(requester.user_id, {
            requester_id: requester.user_id,
            owner_id: alice.user_id,
            image_id,
            views: 1,
          });
        await ask(bob, 'p1');
        await expectCode(ask(bob, 'p2'), 'limit_exceeded');
        await ask(carol, 'p2');
        const dave = await register('dave');
        await expectCode(ask(dave, 'p3'), 'limit_exceeded');
      });

      it('pages through the inbox oldest first', async () => {
        const alice = await register('alice');
        await store.offerImage(alice.user_id, offer(alice, 'sunset'));
        const created: string[] = [];
        for (const name of ['bob', 'carol', 'dave', 'erin', 'fred']) {
          const u = await register(name);
          h.clock.advance(name === 'dave' ? 0 : 10); // two requests share a timestamp
          const r = await store.createRequest(u.user_id, {
            requester_id: u.user_id,
            owner_id: alice.user_id,
            image_id: 'sunset',
            views: 1,
          });
          created.push(r.request_id);
        }
        const seen: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.listRequests(alice.user_id, {
            role: 'owner',
            limit: 2,
            ...(cursor ? { cursor } : {}),
          });
          seen.push(...page.items.map((r) => r.request_id));
          cursor = page.next_cursor ?? undefined;
        } while (cursor);
        expect(new Set(seen)).toEqual(new Set(created));
        expect(seen).toHaveLength(5);
        expect((await store.listRequests(alice.user_id, { role: 'requester' })).items).toEqual([]);
      });
    });

    describe('grants and queued updates', () => {
      it('versions every change, coalesces queued updates per grant, and skips no-op changes', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const key = grantKey(alice, bob);
        const v1 = await store.setGrant(alice.user_id, { ...key, quota: 5 });
        expect(v1).toMatchObject({ quota: 5, version: 1, revoked: false, owner_username: 'alice' });
        expect(await store.setGrant(alice.user_id, { ...key, quota: 5 })).toEqual(v1);
        h.clock.advance(1);
        const v2 = await store.setGrant(alice.user_id, { ...key, quota: 2 });
        expect(v2).toMatchObject({ quota: 2, version: 2 });
        let queue = await store.takeUpdates(bob.user_id, bob.user_id);
        expect(queue).toHaveLength(1);
        expect(queue[0]).toMatchObject({ kind: 'grant_updated', grant: v2 });

        const v3 = await store.revokeGrant(alice.user_id, key);
        expect(v3).toMatchObject({ revoked: true, version: 3, quota: 2 });
        expect(await store.revokeGrant(alice.user_id, key)).toEqual(v3);
        queue = await store.takeUpdates(bob.user_id, bob.user_id);
        expect(queue.map((u) => u.kind)).toEqual(['grant_revoked']);
        // The replaced update is gone: acking its old id deletes nothing.
        expect(await store.ackUpdates(bob.user_id, bob.user_id, [1])).toBe(0);

        const v4 = await store.setGrant(alice.user_id, { ...key, quota: 9 });
        expect(v4).toMatchObject({ revoked: false, version: 4, quota: 9 });
        await expectCode(
          store.setGrant(alice.user_id, { ...key, quota: 1, expected_version: 3 }),
          'conflict',
        );
        expect(
          await store.setGrant(alice.user_id, { ...key, quota: 1, expected_version: 4 }),
        ).toMatchObject({ version: 5 });
        // The same change sent again (its answer was lost) is done, not a conflict.
        expect(
          await store.setGrant(alice.user_id, { ...key, quota: 1, expected_version: 4 }),
        ).toMatchObject({ quota: 1, version: 5 });
        await expectCode(
          store.revokeGrant(alice.user_id, { ...key, expected_version: 4 }),
          'conflict',
        );
        // A change that expected an older version never lands late over a newer one.
        await expectCode(
          store.setGrant(alice.user_id, { ...key, quota: 7, expected_version: 4 }),
          'conflict',
        );
        expect(await store.getGrant(alice.user_id, key)).toMatchObject({ quota: 1, version: 5 });
        const v6 = await store.revokeGrant(alice.user_id, { ...key, expected_version: 5 });
        expect(await store.revokeGrant(alice.user_id, { ...key, expected_version: 5 })).toEqual(v6);
        await store.setGrant(alice.user_id, { ...key, quota: 1, expected_version: 6 });
        const other = { ...key, image_id: 'new-one' };
        await expectCode(
          store.setGrant(alice.user_id, { ...other, quota: 1, expected_version: 1 }),
          'conflict',
        );
        expect(
          await store.setGrant(alice.user_id, { ...other, quota: 1, expected_version: 0 }),
        ).toMatchObject({
          version: 1,
        });
      });

      it('lets only the owner change a grant and only the parties read it', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const carol = await register('carol');
        const key = grantKey(alice, bob);
        await store.setGrant(alice.user_id, { ...key, quota: 1 });
        await expectCode(store.setGrant(bob.user_id, { ...key, quota: 100 }), 'denied');
        await expectCode(store.revokeGrant(carol.user_id, key), 'denied');
        await expectCode(store.getGrant(carol.user_id, key), 'denied');
        expect((await store.getGrant(bob.user_id, key))?.quota).toBe(1);
        await expectCode(
          store.setGrant(alice.user_id, { ...key, viewer_id: alice.user_id, quota: 1 }),
          'invalid_argument',
        );
        await expectCode(
          store.setGrant(alice.user_id, {
            ...key,
            viewer_id: '00000000-0000-4000-8000-000000000000',
            quota: 1,
          }),
          'not_found',
        );
        await expectCode(
          store.revokeGrant(alice.user_id, { ...key, image_id: 'none' }),
          'not_found',
        );
        for (const quota of [-1, 1_000_001, 2.5, Number.NaN]) {
          await expectCode(store.setGrant(alice.user_id, { ...key, quota }), 'invalid_argument');
        }
        await expectCode(store.takeUpdates(alice.user_id, bob.user_id), 'denied');
        await expectCode(store.ackUpdates(alice.user_id, bob.user_id, [1]), 'denied');
      });

      it('lets either side rebuild its permissions from the directory', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const carol = await register('carol');
        for (const image_id of ['i1', 'i2', 'i3']) {
          await store.setGrant(alice.user_id, {
            owner_id: alice.user_id,
            image_id,
            viewer_id: bob.user_id,
            quota: 1,
          });
          await store.setGrant(alice.user_id, {
            owner_id: alice.user_id,
            image_id,
            viewer_id: carol.user_id,
            quota: 2,
          });
        }
        await store.setGrant(carol.user_id, {
          owner_id: carol.user_id,
          image_id: 'c1',
          viewer_id: bob.user_id,
          quota: 3,
        });
        await store.revokeGrant(alice.user_id, {
          owner_id: alice.user_id,
          image_id: 'i2',
          viewer_id: bob.user_id,
        });

        const given = await collect((cursor) =>
          store.listGrants(alice.user_id, {
            role: 'owner',
            limit: 4,
            ...(cursor ? { cursor } : {}),
          }),
        );
        const viewersById = [bob, carol].sort((a, b) => (a.user_id < b.user_id ? -1 : 1));
        expect(given.map((g) => `${g.image_id}->${g.viewer_username}`)).toEqual(
          ['i1', 'i2', 'i3'].flatMap((image) =>
            viewersById.map((viewer) => `${image}->${viewer.username}`),
          ),
        );
        const received = await collect((cursor) =>
          store.listGrants(bob.user_id, {
            role: 'viewer',
            limit: 2,
            ...(cursor ? { cursor } : {}),
          }),
        );
        expect(received).toHaveLength(4);
        expect(received.filter((g) => g.revoked).map((g) => g.image_id)).toEqual(['i2']);
        expect(received.every((g) => g.viewer_id === bob.user_id)).toBe(true);
      });

      it('keeps the highest view count a viewer reported, for the viewer only', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const carol = await register('carol');
        const key = { owner_id: alice.user_id, image_id: 'i1', viewer_id: bob.user_id };
        await store.setGrant(alice.user_id, { ...key, quota: 5 });
        expect(await store.recordViews(bob.user_id, { ...key, consumed: 0 })).toEqual({
          consumed: 0,
        });
        expect(await store.recordViews(bob.user_id, { ...key, consumed: 3 })).toEqual({
          consumed: 3,
        });
        // A late or replayed lower count changes nothing; a lost ledger reads it back with 0.
        expect(await store.recordViews(bob.user_id, { ...key, consumed: 1 })).toEqual({
          consumed: 3,
        });
        const other = await h.open();
        const racing = await Promise.all(
          [4, 6, 5].map((n, i) =>
            (i % 2 === 0 ? store : other).recordViews(bob.user_id, { ...key, consumed: n }),
          ),
        );
        expect(Math.max(...racing.map((r) => r.consumed))).toBe(6);
        expect(await store.recordViews(bob.user_id, { ...key, consumed: 0 })).toEqual({
          consumed: 6,
        });
        // The count survives quota changes and revocation (the grant row is the same).
        await store.revokeGrant(alice.user_id, key);
        expect((await store.recordViews(bob.user_id, { ...key, consumed: 0 })).consumed).toBe(6);
        await expectCode(store.recordViews(carol.user_id, { ...key, consumed: 9 }), 'denied');
        await expectCode(store.recordViews(alice.user_id, { ...key, consumed: 9 }), 'denied');
        await expectCode(
          store.recordViews(bob.user_id, { ...key, image_id: 'nope', consumed: 1 }),
          'not_found',
        );
        for (const consumed of [-1, 1.5, 1_000_001, Number.NaN]) {
          await expectCode(
            store.recordViews(bob.user_id, { ...key, consumed }),
            'invalid_argument',
          );
        }
      });

      it('consumes a view atomically: two devices at once never pass the grant', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const carol = await register('carol');
        const key = { owner_id: alice.user_id, image_id: 'i1', viewer_id: bob.user_id };
        await store.setGrant(alice.user_id, { ...key, quota: 3 });
        // Two devices of bob (two connections, as two servers would have) ask 8 times at once.
        const other = await h.open();
        const answers = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            (i % 2 === 0 ? store : other).consumeView(bob.user_id, aView(key)),
          ),
        );
        expect(answers.filter((a) => a.granted)).toHaveLength(3);
        expect(
          answers
            .filter((a) => a.granted)
            .map((a) => a.consumed)
            .sort(),
        ).toEqual([1, 2, 3]);
        expect(answers.every((a) => a.consumed <= 3 && a.quota === 3 && !a.revoked)).toBe(true);
        expect(await store.consumeView(bob.user_id, aView(key))).toMatchObject({
          granted: false,
          consumed: 3,
          quota: 3,
        });
        // More views granted: exactly those become usable; a report never lowers the count.
        await store.setGrant(alice.user_id, { ...key, quota: 4 });
        expect(await store.recordViews(bob.user_id, { ...key, consumed: 0 })).toEqual({
          consumed: 3,
        });
        expect(await store.consumeView(bob.user_id, aView(key))).toMatchObject({
          granted: true,
          consumed: 4,
          quota: 4,
          version: 2,
        });
        // A quota lowered below the views used keeps the count: nothing is left, nothing reset.
        await store.setGrant(alice.user_id, { ...key, quota: 2 });
        expect(await store.consumeView(bob.user_id, aView(key))).toMatchObject({
          granted: false,
          consumed: 4,
          quota: 2,
        });
        await store.setGrant(alice.user_id, { ...key, quota: 9 });
        await store.revokeGrant(alice.user_id, key);
        expect(await store.consumeView(bob.user_id, aView(key))).toMatchObject({
          granted: false,
          consumed: 4,
          revoked: true,
        });
        // Restored after a revocation: the views used before still count.
        await store.setGrant(alice.user_id, { ...key, quota: 5 });
        expect(await store.consumeView(bob.user_id, aView(key))).toMatchObject({
          granted: true,
          consumed: 5,
          revoked: false,
        });
        await expectCode(store.consumeView(carol.user_id, aView(key)), 'denied');
        await expectCode(store.consumeView(alice.user_id, aView(key)), 'denied');
        await expectCode(
          store.consumeView(bob.user_id, aView({ ...key, image_id: 'nope' })),
          'not_found',
        );
      });

      it('uses a view once under its id: asked again at any server, the same view is not a second one', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const key = { owner_id: alice.user_id, image_id: 'i1', viewer_id: bob.user_id };
        await store.setGrant(alice.user_id, { ...key, quota: 2 });
        const first = aView(key);
        expect(await store.consumeView(bob.user_id, first)).toMatchObject({
          granted: true,
          consumed: 1,
        });
        // The answer was lost; the agent asks again with the same id at another server, twice
        // at once: both are told the view is granted, and it counts once.
        const other = await h.open();
        const again = await Promise.all([
          store.consumeView(bob.user_id, first),
          other.consumeView(bob.user_id, first),
        ]);
        expect(again).toEqual([
          expect.objectContaining({ granted: true, consumed: 1, quota: 2 }),
          expect.objectContaining({ granted: true, consumed: 1, quota: 2 }),
        ]);
        // Two new views race their own retries: each counts once, the quota still holds.
        const second = aView(key);
        const third = aView(key);
        const raced = await Promise.all(
          [second, third, second, third].map((v, i) =>
            (i % 2 === 0 ? store : other).consumeView(bob.user_id, v),
          ),
        );
        expect(raced.filter((a) => a.granted)).toHaveLength(2);
        expect(Math.max(...raced.map((a) => a.consumed))).toBe(2);
        expect(await store.consumeView(bob.user_id, first)).toMatchObject({
          granted: true,
          consumed: 2,
        });
        // A used view's id is remembered for the retry window, then forgotten.
        h.clock.advance(VIEW_RETRY_WINDOW_MS + 1);
        await store.setGrant(alice.user_id, { ...key, quota: 5 });
        expect(await store.consumeView(bob.user_id, aView(key))).toMatchObject({
          granted: true,
          consumed: 3,
        });
        expect(await store.consumeView(bob.user_id, first)).toMatchObject({
          granted: true,
          consumed: 4,
        });
        for (const view_id of ['', 'not-a-uuid', 7, null, undefined])
          await expectCode(
            store.consumeView(bob.user_id, { ...key, view_id } as never),
            'invalid_argument',
          );
      });

      it('redelivers until acknowledged and applies exactly once by version', async () => {
        const { alice, bob } = await sharedImage(3);
        await store.setGrant(alice.user_id, { ...grantKey(alice, bob), quota: 10 });
        const first = await store.takeUpdates(bob.user_id, bob.user_id);
        const again = await (await h.open()).takeUpdates(bob.user_id, bob.user_id);
        expect(again).toEqual(first); // a crash before ack: delivered again
        const local = new Map<string, number>(); // the viewer agent's applied grant versions
        const apply = (updates: QueuedUpdate[]) => {
          for (const u of updates) {
            const g = 'grant' in u ? u.grant : undefined;
            if (!g) continue;
            const k = `${g.owner_id}/${g.image_id}`;
            if ((local.get(k) ?? 0) < g.version) local.set(k, g.version);
          }
        };
        apply(first);
        apply(again);
        expect([...local.values()]).toEqual([2]);
        expect(
          await store.ackUpdates(
            bob.user_id,
            bob.user_id,
            first.map((u) => u.update_id),
          ),
        ).toBe(first.length);
        expect(
          await store.ackUpdates(
            bob.user_id,
            bob.user_id,
            first.map((u) => u.update_id),
          ),
        ).toBe(0);
        expect(await store.takeUpdates(bob.user_id, bob.user_id)).toEqual([]);
        await expectCode(store.ackUpdates(bob.user_id, bob.user_id, [0]), 'invalid_argument');
        await expectCode(
          store.ackUpdates(bob.user_id, bob.user_id, new Array(501).fill(1)),
          'invalid_argument',
        );
        expect(await store.ackUpdates(bob.user_id, bob.user_id, [])).toBe(0);
      });

      it('refuses new updates for a full queue but still replaces queued ones', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const limited = await h.open({ limits: { max_queued_updates_per_user: 2 } });
        const grant = (image_id: string, quota: number) =>
          limited.setGrant(alice.user_id, {
            owner_id: alice.user_id,
            image_id,
            viewer_id: bob.user_id,
            quota,
          });
        await grant('one', 1);
        await grant('two', 1);
        await expectCode(grant('three', 1), 'limit_exceeded');
        expect((await grant('two', 5)).version).toBe(2); // replaces the queued 'two' update
        const queue = await limited.takeUpdates(bob.user_id, bob.user_id, { limit: 1 });
        expect(queue).toHaveLength(1);
        await limited.ackUpdates(bob.user_id, bob.user_id, [queue[0]!.update_id]);
        await grant('three', 1);
        // The failed attempt left nothing behind: the transaction rolled back.
        expect(
          (await limited.listGrants(alice.user_id, { role: 'owner' })).items.map((g) => g.image_id),
        ).toEqual(['one', 'three', 'two']);
      });

      it('enforces the grant limit per owner', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const limited = await h.open({ limits: { max_grants_per_owner: 1 } });
        await limited.setGrant(alice.user_id, { ...grantKey(alice, bob), quota: 1 });
        await limited.setGrant(alice.user_id, { ...grantKey(alice, bob), quota: 2 });
        await expectCode(
          limited.setGrant(alice.user_id, { ...grantKey(alice, bob), image_id: 'x', quota: 1 }),
          'limit_exceeded',
        );
      });
    });

    describe('many servers on one database', () => {
      it('applies migrations once when several servers open a fresh database at once', async () => {
        const fresh = await factory();
        try {
          const stores = await Promise.all([
            fresh.open(),
            fresh.open(),
            fresh.open(),
            fresh.open(),
          ]);
          const user = await stores[0]!.registerUser({
            username: 'first',
            public_key: new Uint8Array(32),
          });
          for (const s of stores) expect(await s.getUser(user.user_id)).toEqual(user);
          const raw = fresh.raw();
          const applied = await raw
            .selectFrom('dir_migrations' as never)
            .select(sql<string>`name`.as('name'))
            .execute();
          expect(applied.map((r) => r.name)).toEqual([
            '0001_initial',
            '0002_request_nonces',
            '0003_grant_views',
            '0004_user_lock_seq',
            '0005_view_uses',
          ]);
        } finally {
          await fresh.dispose();
        }
      });

      it('serialises concurrent writers without lock errors or lost updates', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const servers = [store, await h.open(), await h.open()];
        const key = grantKey(alice, bob);
        const writes = Array.from({ length: 30 }, (_, i) =>
          servers[i % servers.length]!.setGrant(alice.user_id, { ...key, quota: i + 1 }),
        );
        const challenges = Array.from({ length: 15 }, (_, i) =>
          servers[i % servers.length]!.createChallenge(bob.user_id),
        );
        const results = await Promise.allSettled([...writes, ...challenges]);
        const failures = results.filter((r) => r.status === 'rejected');
        expect(failures).toEqual([]);
        const final = await store.getGrant(alice.user_id, key);
        expect(final?.version).toBe(30); // every quota differs from the previous one: 30 changes
        const queue = await store.takeUpdates(bob.user_id, bob.user_id);
        expect(queue).toHaveLength(1); // coalesced
        expect(queue[0]).toMatchObject({ kind: 'grant_updated', grant: final });
      });

      it('keeps the queue limit exact under concurrent enqueues', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const servers = await Promise.all(
          [1, 2, 3].map(() => h.open({ limits: { max_queued_updates_per_user: 5 } })),
        );
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, i) =>
            servers[i % 3]!.setGrant(alice.user_id, {
              owner_id: alice.user_id,
              image_id: `img-${i}`,
              viewer_id: bob.user_id,
              quota: 1,
            }),
          ),
        );
        const ok = results.filter((r) => r.status === 'fulfilled').length;
        expect(ok).toBe(5);
        for (const r of results) {
          if (r.status === 'rejected')
            expect(isDirectoryError(r.reason, 'limit_exceeded')).toBe(true);
        }
        expect(await store.takeUpdates(bob.user_id, bob.user_id)).toHaveLength(5);
      });
    });

    describe('failure modes', () => {
      it('gives up within its timeouts when another writer holds a lock, then recovers', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        const impatient = await h.open({ operation_timeout_ms: 1500, busy_timeout_ms: 500 });
        const change = (quota: number) =>
          impatient.setGrant(alice.user_id, { ...grantKey(alice, bob), quota });
        await h
          .raw()
          .connection()
          .execute(async (conn) => {
            if (store.backend === 'sqlite') {
              await sql`begin immediate`.execute(conn);
            } else {
              await sql`begin`.execute(conn);
              await conn
                .selectFrom('dir_users')
                .select('user_id')
                .where('user_id', '=', alice.user_id)
                .forUpdate()
                .execute();
            }
            try {
              const started = performance.now();
              await expectCode(change(1), 'directory_unavailable');
              expect(performance.now() - started).toBeLessThan(5000);
            } finally {
              await sql`rollback`.execute(conn);
            }
          });
        expect((await change(2)).quota).toBe(2);
      });

      it.skipIf(name === 'sqlite')(
        'carries on after the database drops every connection (as in a restart)',
        async () => {
          const alice = await register('alice');
          const bob = await register('bob');
          // Several pooled connections, all idle when they are killed.
          await Promise.all([1, 2, 3, 4].map(() => store.listOnlineUsers()));
          expect(await h.killConnections?.()).toBeGreaterThan(0);
          expect((await store.getUser(alice.user_id))?.username).toBe('alice');
          const grant = await store.setGrant(alice.user_id, { ...grantKey(alice, bob), quota: 4 });
          expect(grant.version).toBe(1);
          await Promise.all([1, 2, 3].map(() => store.listImages()));
        },
      );

      it('refuses a database whose schema is newer than this build', async () => {
        await h
          .raw()
          .insertInto('dir_migrations' as never)
          .values({ name: '9999_future', timestamp: new Date().toISOString() } as never)
          .execute();
        const err = await h.open().then(
          () => new Error('expected the open to fail'),
          (e: unknown) => e,
        );
        expect(isDirectoryError(err, 'directory_migration_failed')).toBe(true);
        expect(String(err)).toMatch(/newer cloudp2p/);
      });
    });

    describe('bad rows and hostile input', () => {
      it('reports corrupt rows instead of returning them', async () => {
        const alice = await register('alice');
        const bob = await register('bob');
        await store.setGrant(alice.user_id, { ...grantKey(alice, bob), quota: 1 });
        const raw = h.raw();
        await raw
          .updateTable('dir_users')
          .set({ public_key: new Uint8Array(31) })
          .where('user_id', '=', alice.user_id)
          .execute();
        await expectCode(store.getUser(alice.user_id), 'directory_bad_row');
        await raw
          .updateTable('dir_grants')
          .set({ quota: 2_000_000 }) // allowed by the CHECK, beyond quota_max
          .where('owner_id', '=', alice.user_id)
          .execute();
        await expect(store.getGrant(bob.user_id, grantKey(alice, bob))).rejects.toThrow(
          /dir_grants.*"quota"/,
        );
        await raw
          .updateTable('dir_updates')
          .set({ payload: '{"grant": 42}' })
          .where('recipient_id', '=', bob.user_id)
          .execute();
        await expectCode(store.takeUpdates(bob.user_id, bob.user_id), 'directory_bad_row');
        await raw
          .updateTable('dir_updates')
          .set({ payload: 'not json' })
          .where('recipient_id', '=', bob.user_id)
          .execute();
        await expectCode(store.takeUpdates(bob.user_id, bob.user_id), 'directory_bad_row');
        await raw
          .updateTable('dir_users')
          .set({ username: 'Bad Name' })
          .where('user_id', '=', bob.user_id)
          .execute();
        await expect(store.listGrants(bob.user_id, { role: 'viewer' })).rejects.toThrow(
          /"viewer_username"/,
        );
      });

      it('answers arbitrary garbage with a clear DirectoryError, never a crash', async () => {
        const alice = await register('alice');
        const anything = fc.oneof(
          fc.anything(),
          fc.string(),
          fc.constantFrom(
            alice.user_id,
            'alice',
            '',
            null,
            undefined,
            -1,
            2 ** 60,
            'a'.repeat(10_000),
          ),
          fc.record({
            owner_id: fc.constantFrom(alice.user_id, 'x'),
            image_id: fc.string(),
            quota: fc.anything(),
          }),
        );
        const calls: ((a: unknown, b: unknown) => Promise<unknown>)[] = [
          (a) => store.registerUser(a as never),
          (a) => store.getUser(a as never),
          (a) => store.findUserByUsername(a as never),
          (a, b) => store.consumeChallenge(a as never, b as never),
          (a, b) => store.goOnline(a as never, b as never),
          (a, b) => store.heartbeat(a as never, b as never),
          (a) => store.listOnlineUsers(a as never),
          (a, b) => store.offerImage(a as never, b as never),
          (a) => store.listImages(a as never),
          (a, b) => store.createRequest(a as never, b as never),
          (a, b) => store.answerRequest(a as never, b as never),
          (a, b) => store.listRequests(a as never, b as never),
          (a, b) => store.setGrant(a as never, b as never),
          (a, b) => store.listGrants(a as never, b as never),
          (a, b) => store.takeUpdates(a as never, b as never),
          (a, b) => store.ackUpdates(alice.user_id, a as never, b as never),
        ];
        await fc.assert(
          fc.asyncProperty(fc.nat(calls.length - 1), anything, anything, async (which, a, b) => {
            try {
              await calls[which]!(a, b);
            } catch (err) {
              expect(isDirectoryError(err), String(err)).toBe(true);
              expect((err as Error).message.length).toBeLessThan(600);
            }
          }),
          { numRuns: 150 },
        );
      });
    });

    it('refuses calls after close', async () => {
      const other = await h.open();
      await other.close();
      await other.close();
      await expectCode(other.listOnlineUsers(), 'directory_closed');
    });

    async function sharedImage(views: number) {
      const alice = await register('alice');
      const bob = await register('bob');
      await store.offerImage(alice.user_id, offer(alice, 'sunset'));
      const request = await store.createRequest(bob.user_id, {
        requester_id: bob.user_id,
        owner_id: alice.user_id,
        image_id: 'sunset',
        views,
      });
      await store.answerRequest(alice.user_id, {
        request_id: request.request_id,
        decision: 'accepted',
      });
      await store.ackUpdates(
        bob.user_id,
        bob.user_id,
        (await store.takeUpdates(bob.user_id, bob.user_id)).map((u) => u.update_id),
      );
      return { alice, bob };
    }
  });
}

function grantKey(owner: UserRecord, viewer: UserRecord) {
  return { owner_id: owner.user_id, image_id: 'sunset', viewer_id: viewer.user_id };
}

async function collect<T>(
  page: (cursor?: string) => Promise<{ items: T[]; next_cursor: string | null }>,
) {
  const all: T[] = [];
  let cursor: string | undefined;
  do {
    const next = await page(cursor);
    all.push(...next.items);
    cursor = next.next_cursor ?? undefined;
  } while (cursor);
  return all;
}

async function expectCode(promise: Promise<unknown>, code: DirectoryErrorCode) {
  const err = await promise.then(
    (value) => new Error(`expected DirectoryError ${code}, got a result: ${JSON.stringify(value)}`),
    (e: unknown) => e,
  );
  expect(isDirectoryError(err) ? err.code : String(err)).toBe(code);
}
