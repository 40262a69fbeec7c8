/**
 * The one implementation of DirectoryStore, over Kysely, for SQLite, PostgreSQL and MySQL.
 *
 * Concurrency: every write is one transaction. Writes that check a per-user limit or a state
 * transition first lock the rows of the users involved (SELECT … FOR UPDATE, in sorted id order
 * so two transactions never wait on each other in a cycle); on SQLite, BEGIN IMMEDIATE already
 * serialises writers. Lock conflicts the database resolves by aborting one side (SQLite busy,
 * deadlock, serialization failure) are retried with backoff for up to `busy_timeout_ms`. Each call
 * is bounded by `operation_timeout_ms`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely, SelectQueryBuilder } from 'kysely';
import { decodeCursor, encodeCursor } from './cursor.js';
import {
  describeError,
  isDuplicateKeyError,
  isTransientError,
  isUnavailableError,
} from './dialects.js';
import {
  conflict,
  denied,
  DirectoryError,
  invalidArgument,
  limitExceeded,
  notFound,
} from './errors.js';
import { FIELD_LIMITS, type DirectoryLimits } from './limits.js';
import {
  decodeChallenge,
  decodeGrant,
  decodeImage,
  decodeOnlineUser,
  decodePresence,
  decodeRequest,
  decodeUpdate,
  decodeUser,
  RowReader,
} from './rows.js';
import type { DirectoryDatabase } from './schema.js';
import type {
  AccessGrant,
  AnsweredRequest,
  DirectoryBackend,
  DirectoryStore,
  GrantKey,
  HeartbeatResult,
  ImageKey,
  ImageOffer,
  ImageRequest,
  NewImageRequest,
  OfferedImage,
  OnlineUser,
  Page,
  PageRequest,
  PresenceRecord,
  QueuedUpdate,
  QueuedUpdateKind,
  RequestDecision,
  RequestStatus,
  SignInChallenge,
  SweepResult,
  UserId,
  UserRecord,
} from './store.js';
import * as v from './validate.js';

type Db = Kysely<DirectoryDatabase>;
type Row = Record<string, unknown>;

export interface StoreContext {
  db: Db;
  backend: DirectoryBackend;
  description: string;
  clock: () => number;
  limits: DirectoryLimits;
  operation_timeout_ms: number;
  busy_timeout_ms: number;
}

/** Users locked by a write transaction: id -> username. */
type LockedUsers = Map<UserId, string>;

export class SqlDirectoryStore implements DirectoryStore {
  readonly backend: DirectoryBackend;
  readonly description: string;
  private readonly db: Db;
  private readonly limits: DirectoryLimits;
  private closed = false;

  constructor(private readonly ctx: StoreContext) {
    this.backend = ctx.backend;
    this.description = ctx.description;
    this.db = ctx.db;
    this.limits = ctx.limits;
  }

  // ---- Users ---------------------------------------------------------------------------------

  async registerUser(input: { username: string; public_key: Uint8Array }): Promise<UserRecord> {
    const fields = v.plainObject(input, 'registration');
    const username = v.username(fields.username);
    const publicKey = v.publicKey(fields.public_key);
    const user: UserRecord = {
      user_id: randomUUID(),
      username,
      public_key: new Uint8Array(publicKey),
      created_at_ms: this.now(),
    };
    return this.write('register a user', async (trx) => {
      const taken = await trx
        .selectFrom('dir_users')
        .select('user_id')
        .where('username', '=', username)
        .executeTakeFirst();
      if (taken) throw usernameTaken(username);
      try {
        await trx
          .insertInto('dir_users')
          .values({ ...user, public_key: user.public_key })
          .execute();
      } catch (err) {
        // Two servers registering the same name at once: the unique index decides.
        if (isDuplicateKeyError(err)) throw usernameTaken(username);
        throw err;
      }
      await trx
        .insertInto('dir_presence')
        .values({
          user_id: user.user_id,
          is_online: 0,
          address: null,
          port: null,
          last_seen_at_ms: null,
        })
        .execute();
      return user;
    });
  }

  async getUser(userId: UserId): Promise<UserRecord | undefined> {
    const id = v.userId(userId);
    return this.read('get a user', async (db) => {
      const row = await selectUsers(db).where('user_id', '=', id).executeTakeFirst();
      return row ? decodeUser(row) : undefined;
    });
  }

  async findUserByUsername(username: string): Promise<UserRecord | undefined> {
    const name = v.username(username);
    return this.read('find a user', async (db) => {
      const row = await selectUsers(db).where('username', '=', name).executeTakeFirst();
      return row ? decodeUser(row) : undefined;
    });
  }

  // ---- Challenges ----------------------------------------------------------------------------

  async createChallenge(userId: UserId): Promise<SignInChallenge> {
    const id = v.userId(userId);
    const now = this.now();
    const challenge: SignInChallenge = {
      user_id: id,
      nonce: randomBytes(32).toString('hex'),
      issued_at_ms: now,
      expires_at_ms: now + this.limits.challenge_ttl_ms,
    };
    return this.write('issue a sign-in challenge', async (trx) => {
      const users = await this.lockUsers(trx, [id]);
      requireUser(users, id, 'user');
      await trx
        .deleteFrom('dir_challenges')
        .where('user_id', '=', id)
        .where((eb) => eb.or([eb('used_at_ms', 'is not', null), eb('expires_at_ms', '<=', now)]))
        .execute();
      const open = await trx
        .selectFrom('dir_challenges')
        .select('nonce')
        .where('user_id', '=', id)
        .orderBy('issued_at_ms', 'desc')
        .orderBy('nonce')
        .execute();
      // Keep the newest (limit - 1) so that, with the new one, at most `limit` stay open.
      const dropped = open.slice(this.limits.max_challenges_per_user - 1).map((row) => row.nonce);
      if (dropped.length > 0) {
        await trx.deleteFrom('dir_challenges').where('nonce', 'in', dropped).execute();
      }
      await trx
        .insertInto('dir_challenges')
        .values({ ...challenge, used_at_ms: null })
        .execute();
      return challenge;
    });
  }

  async consumeChallenge(userId: UserId, nonce: string): Promise<SignInChallenge> {
    const id = v.userId(userId);
    const value = v.nonce(nonce);
    const now = this.now();
    return this.write('check a sign-in challenge', async (trx) => {
      const used = await trx
        .updateTable('dir_challenges')
        .set({ used_at_ms: now })
        .where('nonce', '=', value)
        .where('user_id', '=', id)
        .where('used_at_ms', 'is', null)
        .where('expires_at_ms', '>', now)
        .executeTakeFirst();
      const row = await trx
        .selectFrom('dir_challenges')
        .select(['nonce', 'user_id', 'issued_at_ms', 'expires_at_ms', 'used_at_ms'])
        .where('nonce', '=', value)
        .where('user_id', '=', id)
        .executeTakeFirst();
      if (Number(used.numUpdatedRows) === 1 && row) return decodeChallenge(row);
      const reason = !row
        ? 'was not issued to this user (or was dropped)'
        : row.used_at_ms !== null
          ? 'was already used: sign-in answers cannot be replayed'
          : 'has expired: ask for a new challenge';
      throw denied(`sign-in challenge ${reason}`);
    });
  }

  async recordRequestNonce(userId: UserId, nonce: string, expires_at_ms: number): Promise<void> {
    const id = v.userId(userId);
    const value = v.nonce(nonce);
    const now = this.now();
    if (!Number.isSafeInteger(expires_at_ms) || expires_at_ms > now + 3_600_000) {
      throw new DirectoryError(
        'invalid_argument',
        'expires_at_ms must be an integer at most an hour from now',
      );
    }
    return this.write('record a request nonce', async (trx) => {
      const users = await this.lockUsers(trx, [id]);
      requireUser(users, id, 'user');
      const seen = await trx
        .selectFrom('dir_request_nonces')
        .select('expires_at_ms')
        .where('user_id', '=', id)
        .where('nonce', '=', value)
        .executeTakeFirst();
      if (seen) throw denied('this signed request was already used: requests cannot be replayed');
      await trx
        .insertInto('dir_request_nonces')
        .values({ user_id: id, nonce: value, expires_at_ms })
        .execute();
    });
  }

  // ---- Presence ------------------------------------------------------------------------------

  async goOnline(
    actorId: UserId,
    presence: { user_id: UserId; address: string; port: number },
  ): Promise<PresenceRecord> {
    const actor = v.userId(actorId, 'actor');
    const fields = v.plainObject(presence, 'presence');
    const id = v.userId(fields.user_id);
    requireSelf(actor, id, 'change the presence of');
    const address = v.address(fields.address);
    const port = v.port(fields.port);
    const now = this.now();
    return this.write('sign in', async (trx) => {
      const users = await this.lockUsers(trx, [id]);
      const username = requireUser(users, id, 'user');
      const values = { is_online: 1, address, port, last_seen_at_ms: now };
      const updated = await trx
        .updateTable('dir_presence')
        .set(values)
        .where('user_id', '=', id)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) {
        await trx
          .insertInto('dir_presence')
          .values({ user_id: id, ...values })
          .execute();
      }
      return { user_id: id, username, online: true, address, port, last_seen_at_ms: now };
    });
  }

  async heartbeat(actorId: UserId, userId: UserId): Promise<HeartbeatResult> {
    const actor = v.userId(actorId, 'actor');
    const id = v.userId(userId);
    requireSelf(actor, id, 'heartbeat for');
    const now = this.now();
    const cutoff = now - this.limits.presence_ttl_ms;
    return this.write('heartbeat', async (trx) => {
      const updated = await trx
        .updateTable('dir_presence')
        .set({ last_seen_at_ms: now })
        .where('user_id', '=', id)
        .where('is_online', '=', 1)
        .where('last_seen_at_ms', '>', cutoff)
        .executeTakeFirst();
      const row = await selectPresence(trx).where('u.user_id', '=', id).executeTakeFirst();
      if (!row) throw notFound(`user ${id} is not registered`);
      if (Number(updated.numUpdatedRows) === 0) {
        throw conflict(
          `user ${id} is not signed in (signed out, or no heartbeat within ${this.limits.presence_ttl_ms} ms): sign in again`,
        );
      }
      const pending = await countUpdates(trx, id);
      return {
        presence: decodePresence(row, now, this.limits.presence_ttl_ms),
        pending_updates: pending,
      };
    });
  }

  async goOffline(actorId: UserId, userId: UserId): Promise<void> {
    const actor = v.userId(actorId, 'actor');
    const id = v.userId(userId);
    requireSelf(actor, id, 'change the presence of');
    await this.write('sign out', async (trx) => {
      const updated = await trx
        .updateTable('dir_presence')
        .set({ is_online: 0 })
        .where('user_id', '=', id)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) {
        const user = await trx
          .selectFrom('dir_users')
          .select('user_id')
          .where('user_id', '=', id)
          .executeTakeFirst();
        if (!user) throw notFound(`user ${id} is not registered`);
      }
    });
  }

  async getPresence(userId: UserId): Promise<PresenceRecord | undefined> {
    const id = v.userId(userId);
    const now = this.now();
    return this.read('get presence', async (db) => {
      const row = await selectPresence(db).where('u.user_id', '=', id).executeTakeFirst();
      return row ? decodePresence(row, now, this.limits.presence_ttl_ms) : undefined;
    });
  }

  async listOnlineUsers(page: PageRequest = {}): Promise<Page<OnlineUser>> {
    const query = v.plainObject(page, 'page');
    const limit = v.pageLimit(query.limit);
    const after = decodeCursor(query.cursor, ['string'] as const);
    const cutoff = this.now() - this.limits.presence_ttl_ms;
    return this.read('list online users', async (db) => {
      const rows = await db
        .selectFrom('dir_presence as p')
        .innerJoin('dir_users as u', 'u.user_id', 'p.user_id')
        .select([
          'u.user_id',
          'u.username',
          'u.public_key',
          'p.address',
          'p.port',
          'p.last_seen_at_ms',
        ])
        .where('p.is_online', '=', 1)
        .where('p.last_seen_at_ms', '>', cutoff)
        .$if(after !== undefined, (qb) => qb.where('u.username', '>', after?.[0]))
        .orderBy('u.username')
        .limit(limit + 1)
        .execute();
      return toPage(rows.map(decodeOnlineUser), limit, (user) => [user.username]);
    });
  }

  // ---- Offered images ------------------------------------------------------------------------

  async offerImage(actorId: UserId, offer: ImageOffer): Promise<OfferedImage> {
    const actor = v.userId(actorId, 'actor');
    const fields = v.plainObject(offer, 'offer');
    const ownerId = v.userId(fields.owner_id, 'owner_id');
    requireSelf(actor, ownerId, 'offer images of');
    const imageId = v.imageId(fields.image_id);
    const title = v.text(fields.title, 'title', FIELD_LIMITS.title_max_chars);
    const preview = v.plainObject(fields.preview, 'preview');
    const values = {
      title,
      width: v.integer(preview.width, 'preview.width', 1, FIELD_LIMITS.image_dimension_max),
      height: v.integer(preview.height, 'preview.height', 1, FIELD_LIMITS.image_dimension_max),
      media_type: v.mediaType(preview.media_type),
      size_bytes: v.integer(
        preview.size_bytes,
        'preview.size_bytes',
        0,
        FIELD_LIMITS.image_size_max_bytes,
      ),
    };
    const now = this.now();
    return this.write('offer an image', async (trx) => {
      const users = await this.lockUsers(trx, [ownerId]);
      requireUser(users, ownerId, 'owner');
      const existing = await trx
        .selectFrom('dir_images')
        .select('created_at_ms')
        .where('owner_id', '=', ownerId)
        .where('image_id', '=', imageId)
        .executeTakeFirst();
      if (existing) {
        await trx
          .updateTable('dir_images')
          .set({ ...values, updated_at_ms: now })
          .where('owner_id', '=', ownerId)
          .where('image_id', '=', imageId)
          .execute();
      } else {
        const count = await countRows(trx.selectFrom('dir_images').where('owner_id', '=', ownerId));
        if (count >= this.limits.max_images_per_user) {
          throw limitExceeded(
            `user ${ownerId} already offers ${count} images; the limit is ${this.limits.max_images_per_user}`,
          );
        }
        await trx
          .insertInto('dir_images')
          .values({
            owner_id: ownerId,
            image_id: imageId,
            ...values,
            created_at_ms: now,
            updated_at_ms: now,
          })
          .execute();
      }
      const row = await selectImages(trx)
        .where('i.owner_id', '=', ownerId)
        .where('i.image_id', '=', imageId)
        .executeTakeFirstOrThrow();
      return decodeImage(row);
    });
  }

  async withdrawImage(actorId: UserId, image: ImageKey): Promise<void> {
    const actor = v.userId(actorId, 'actor');
    const key = imageKey(image);
    requireSelf(actor, key.owner_id, 'withdraw images of');
    await this.write('withdraw an image', async (trx) => {
      const deleted = await trx
        .deleteFrom('dir_images')
        .where('owner_id', '=', key.owner_id)
        .where('image_id', '=', key.image_id)
        .executeTakeFirst();
      if (Number(deleted.numDeletedRows) === 0) {
        throw notFound(`user ${key.owner_id} does not offer image ${key.image_id}`);
      }
    });
  }

  async getImage(image: ImageKey): Promise<OfferedImage | undefined> {
    const key = imageKey(image);
    return this.read('get an image', async (db) => {
      const row = await selectImages(db)
        .where('i.owner_id', '=', key.owner_id)
        .where('i.image_id', '=', key.image_id)
        .executeTakeFirst();
      return row ? decodeImage(row) : undefined;
    });
  }

  async listImages(
    query: { owner_id?: UserId; online_only?: boolean } & PageRequest = {},
  ): Promise<Page<OfferedImage>> {
    const fields = v.plainObject(query, 'query');
    const ownerId =
      fields.owner_id === undefined ? undefined : v.userId(fields.owner_id, 'owner_id');
    const onlineOnly = v.optionalBoolean(fields.online_only, 'online_only');
    const limit = v.pageLimit(fields.limit);
    const after = decodeCursor(fields.cursor, ['string', 'string'] as const);
    const cutoff = this.now() - this.limits.presence_ttl_ms;
    return this.read('list images', async (db) => {
      const rows = await selectImages(db)
        .$if(ownerId !== undefined, (qb) => qb.where('i.owner_id', '=', ownerId))
        .$if(onlineOnly, (qb) =>
          qb
            .innerJoin('dir_presence as p', 'p.user_id', 'i.owner_id')
            .where('p.is_online', '=', 1)
            .where('p.last_seen_at_ms', '>', cutoff),
        )
        .$if(after !== undefined, (qb) =>
          qb.where((eb) =>
            eb.or([
              eb('i.owner_id', '>', after?.[0]),
              eb.and([eb('i.owner_id', '=', after?.[0]), eb('i.image_id', '>', after?.[1])]),
            ]),
          ),
        )
        .orderBy('i.owner_id')
        .orderBy('i.image_id')
        .limit(limit + 1)
        .execute();
      return toPage(rows.map(decodeImage), limit, (image) => [image.owner_id, image.image_id]);
    });
  }

  // ---- Requests ------------------------------------------------------------------------------

  async createRequest(actorId: UserId, request: NewImageRequest): Promise<ImageRequest> {
    const actor = v.userId(actorId, 'actor');
    const fields = v.plainObject(request, 'request');
    const requesterId = v.userId(fields.requester_id, 'requester_id');
    requireSelf(actor, requesterId, 'send requests as');
    const key = imageKey(fields);
    if (key.owner_id === requesterId)
      throw invalidArgument('requester_id and owner_id must differ: you own this image');
    const views = v.integer(fields.views, 'views', 1, FIELD_LIMITS.views_per_request_max);
    const requestId =
      fields.request_id === undefined ? randomUUID() : v.requestId(fields.request_id);
    const now = this.now();
    return this.write('create a request', async (trx) => {
      const users = await this.lockUsers(trx, [requesterId, key.owner_id]);
      const requesterName = requireUser(users, requesterId, 'requester');
      const ownerName = requireUser(users, key.owner_id, 'owner');

      const previous = await selectRequests(trx)
        .where('q.request_id', '=', requestId)
        .executeTakeFirst();
      if (previous) {
        const stored = decodeRequest(previous);
        const same =
          stored.requester_id === requesterId &&
          stored.owner_id === key.owner_id &&
          stored.image_id === key.image_id &&
          stored.views === views;
        if (same) return stored; // a retry of the same request
        throw conflict(`request_id ${requestId} is already used by a different request`);
      }
      const offered = await trx
        .selectFrom('dir_images')
        .select('image_id')
        .where('owner_id', '=', key.owner_id)
        .where('image_id', '=', key.image_id)
        .executeTakeFirst();
      if (!offered) throw notFound(`user ${ownerName} does not offer image ${key.image_id}`);
      const pending = await trx
        .selectFrom('dir_requests')
        .select('request_id')
        .where('requester_id', '=', requesterId)
        .where('owner_id', '=', key.owner_id)
        .where('image_id', '=', key.image_id)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (pending) {
        throw conflict(
          `request ${String(pending.request_id)} for image ${key.image_id} is still pending`,
        );
      }
      await this.checkPendingLimits(trx, requesterId, key.owner_id);
      const grant = await trx
        .selectFrom('dir_grants')
        .select('revoked')
        .where('owner_id', '=', key.owner_id)
        .where('image_id', '=', key.image_id)
        .where('viewer_id', '=', requesterId)
        .executeTakeFirst();
      const record: ImageRequest = {
        request_id: requestId,
        requester_id: requesterId,
        requester_username: requesterName,
        owner_id: key.owner_id,
        owner_username: ownerName,
        image_id: key.image_id,
        views,
        kind: grant && Number(grant.revoked) === 0 ? 'more_views' : 'access',
        status: 'pending',
        created_at_ms: now,
        answered_at_ms: null,
      };
      await trx
        .insertInto('dir_requests')
        .values({
          request_id: record.request_id,
          requester_id: record.requester_id,
          owner_id: record.owner_id,
          image_id: record.image_id,
          views: record.views,
          kind: record.kind,
          status: record.status,
          created_at_ms: record.created_at_ms,
          answered_at_ms: null,
        })
        .execute();
      await this.enqueue(trx, users, key.owner_id, `request:${requestId}`, 'request_created', {
        request: record,
      });
      return record;
    });
  }

  async answerRequest(
    actorId: UserId,
    answer: { request_id: string; decision: RequestDecision },
  ): Promise<AnsweredRequest> {
    const actor = v.userId(actorId, 'actor');
    const fields = v.plainObject(answer, 'answer');
    const requestId = v.requestId(fields.request_id);
    const decision = v.oneOf(fields.decision, 'decision', ['accepted', 'rejected'] as const);
    const now = this.now();
    return this.write('answer a request', async (trx) => {
      const parties = await trx
        .selectFrom('dir_requests')
        .select(['owner_id', 'requester_id'])
        .where('request_id', '=', requestId)
        .executeTakeFirst();
      if (!parties) throw notFound(`request ${requestId} does not exist`);
      const stored = new RowReader(`dir_requests row ${requestId}`, parties);
      const ownerId = stored.string('owner_id', v.UUID_PATTERN, 36);
      const requesterId = stored.string('requester_id', v.UUID_PATTERN, 36);
      if (ownerId !== actor) throw denied(`only the image's owner may answer request ${requestId}`);
      const users = await this.lockUsers(trx, [ownerId, requesterId]);
      requireUser(users, requesterId, 'requester');
      // Re-read under the owners' lock: every change to a request holds it.
      const row = await selectRequests(trx)
        .where('q.request_id', '=', requestId)
        .executeTakeFirstOrThrow();
      const current = decodeRequest(row);
      const grantKey: GrantKey = {
        owner_id: ownerId,
        image_id: current.image_id,
        viewer_id: requesterId,
      };
      if (current.status !== 'pending') {
        if (current.status !== decision) {
          throw conflict(`request ${requestId} was already ${current.status}`);
        }
        const grant = decision === 'accepted' ? await this.readGrant(trx, grantKey) : undefined;
        return grant ? { request: current, grant } : { request: current };
      }
      const request: ImageRequest = { ...current, status: decision, answered_at_ms: now };
      let grant: AccessGrant | undefined;
      if (decision === 'accepted') {
        const existing = await this.readGrant(trx, grantKey);
        const quota =
          existing && !existing.revoked ? existing.quota + current.views : current.views;
        if (quota > FIELD_LIMITS.quota_max) {
          throw limitExceeded(
            `accepting would raise the quota to ${quota}; the limit is ${FIELD_LIMITS.quota_max}`,
          );
        }
        // No separate grant update: the request_answered update below carries the grant.
        grant = await this.writeGrant(
          trx,
          users,
          grantKey,
          existing,
          { quota, revoked: false },
          now,
          {
            notify: false,
          },
        );
      }
      await trx
        .updateTable('dir_requests')
        .set({ status: decision, answered_at_ms: now })
        .where('request_id', '=', requestId)
        .execute();
      await this.enqueue(
        trx,
        users,
        requesterId,
        `request:${requestId}`,
        'request_answered',
        grant ? { request, grant } : { request },
      );
      return grant ? { request, grant } : { request };
    });
  }

  async getRequest(actorId: UserId, requestId: string): Promise<ImageRequest | undefined> {
    const actor = v.userId(actorId, 'actor');
    const id = v.requestId(requestId);
    return this.read('get a request', async (db) => {
      const row = await selectRequests(db).where('q.request_id', '=', id).executeTakeFirst();
      if (!row) return undefined;
      const request = decodeRequest(row);
      if (request.owner_id !== actor && request.requester_id !== actor) {
        throw denied(`request ${id} is between other users`);
      }
      return request;
    });
  }

  async listRequests(
    actorId: UserId,
    query: { role: 'owner' | 'requester'; status?: RequestStatus } & PageRequest,
  ): Promise<Page<ImageRequest>> {
    const actor = v.userId(actorId, 'actor');
    const fields = v.plainObject(query, 'query');
    const role = v.oneOf(fields.role, 'role', ['owner', 'requester'] as const);
    const status =
      fields.status === undefined
        ? undefined
        : v.oneOf(fields.status, 'status', ['pending', 'accepted', 'rejected'] as const);
    const limit = v.pageLimit(fields.limit);
    const after = decodeCursor(fields.cursor, ['integer', 'string'] as const);
    const column = role === 'owner' ? 'q.owner_id' : 'q.requester_id';
    return this.read('list requests', async (db) => {
      const rows = await selectRequests(db)
        .where(column, '=', actor)
        .$if(status !== undefined, (qb) => qb.where('q.status', '=', status))
        .$if(after !== undefined, (qb) =>
          qb.where((eb) =>
            eb.or([
              eb('q.created_at_ms', '>', after?.[0]),
              eb.and([eb('q.created_at_ms', '=', after?.[0]), eb('q.request_id', '>', after?.[1])]),
            ]),
          ),
        )
        .orderBy('q.created_at_ms')
        .orderBy('q.request_id')
        .limit(limit + 1)
        .execute();
      return toPage(
        rows.map((row) => decodeRequest(row)),
        limit,
        (r) => [r.created_at_ms, r.request_id],
      );
    });
  }

  // ---- Grants --------------------------------------------------------------------------------

  async setGrant(
    actorId: UserId,
    grant: GrantKey & { quota: number; expected_version?: number },
  ): Promise<AccessGrant> {
    const actor = v.userId(actorId, 'actor');
    const fields = v.plainObject(grant, 'grant');
    const key = grantKey(fields);
    requireSelf(actor, key.owner_id, 'change grants of');
    const quota = v.integer(fields.quota, 'quota', 0, FIELD_LIMITS.quota_max);
    const expected = expectedVersion(fields.expected_version);
    const now = this.now();
    return this.write('set a grant', async (trx) => {
      const users = await this.lockUsers(trx, [key.owner_id, key.viewer_id]);
      requireUser(users, key.owner_id, 'owner');
      requireUser(users, key.viewer_id, 'viewer');
      const existing = await this.readGrant(trx, key);
      checkVersion(existing, expected);
      if (existing && !existing.revoked && existing.quota === quota) return existing;
      return this.writeGrant(trx, users, key, existing, { quota, revoked: false }, now);
    });
  }

  async revokeGrant(
    actorId: UserId,
    grant: GrantKey & { expected_version?: number },
  ): Promise<AccessGrant> {
    const actor = v.userId(actorId, 'actor');
    const fields = v.plainObject(grant, 'grant');
    const key = grantKey(fields);
    requireSelf(actor, key.owner_id, 'revoke grants of');
    const expected = expectedVersion(fields.expected_version);
    const now = this.now();
    return this.write('revoke a grant', async (trx) => {
      const users = await this.lockUsers(trx, [key.owner_id, key.viewer_id]);
      const existing = await this.readGrant(trx, key);
      if (!existing) {
        throw notFound(`there is no grant of image ${key.image_id} to viewer ${key.viewer_id}`);
      }
      checkVersion(existing, expected);
      if (existing.revoked) return existing;
      return this.writeGrant(
        trx,
        users,
        key,
        existing,
        { quota: existing.quota, revoked: true },
        now,
      );
    });
  }

  async getGrant(actorId: UserId, grant: GrantKey): Promise<AccessGrant | undefined> {
    const actor = v.userId(actorId, 'actor');
    const key = grantKey(v.plainObject(grant, 'grant'));
    if (actor !== key.owner_id && actor !== key.viewer_id) {
      throw denied('only the owner or the viewer of a grant may read it');
    }
    return this.read('get a grant', (db) => this.readGrant(db, key));
  }

  async listGrants(
    actorId: UserId,
    query: { role: 'owner' | 'viewer' } & PageRequest,
  ): Promise<Page<AccessGrant>> {
    const actor = v.userId(actorId, 'actor');
    const fields = v.plainObject(query, 'query');
    const role = v.oneOf(fields.role, 'role', ['owner', 'viewer'] as const);
    const limit = v.pageLimit(fields.limit);
    const after = decodeCursor(fields.cursor, ['string', 'string'] as const);
    // Sorted by the two key columns that are not the actor's.
    const [self, first, second] =
      role === 'owner'
        ? (['g.owner_id', 'g.image_id', 'g.viewer_id'] as const)
        : (['g.viewer_id', 'g.owner_id', 'g.image_id'] as const);
    return this.read('list grants', async (db) => {
      const rows = await selectGrants(db)
        .where(self, '=', actor)
        .$if(after !== undefined, (qb) =>
          qb.where((eb) =>
            eb.or([
              eb(first, '>', after?.[0]),
              eb.and([eb(first, '=', after?.[0]), eb(second, '>', after?.[1])]),
            ]),
          ),
        )
        .orderBy(first)
        .orderBy(second)
        .limit(limit + 1)
        .execute();
      const grants = rows.map((row) => decodeGrant(row));
      return toPage(grants, limit, (g) =>
        role === 'owner' ? [g.image_id, g.viewer_id] : [g.owner_id, g.image_id],
      );
    });
  }

  async recordViews(
    actorId: UserId,
    grant: GrantKey & { consumed: number },
  ): Promise<{ consumed: number }> {
    const actor = v.userId(actorId, 'actor');
    const fields = v.plainObject(grant, 'grant');
    const key = grantKey(fields);
    requireSelf(actor, key.viewer_id, 'report the views of');
    const consumed = v.integer(fields.consumed, 'consumed', 0, FIELD_LIMITS.quota_max);
    return this.write('record views', async (trx) => {
      // Conditional update: concurrent reports can only raise the count (no read-modify-write).
      await trx
        .updateTable('dir_grants')
        .set({ views_used: consumed })
        .where('owner_id', '=', key.owner_id)
        .where('image_id', '=', key.image_id)
        .where('viewer_id', '=', key.viewer_id)
        .where('views_used', '<', consumed)
        .execute();
      const row = await trx
        .selectFrom('dir_grants')
        .select('views_used')
        .where('owner_id', '=', key.owner_id)
        .where('image_id', '=', key.image_id)
        .where('viewer_id', '=', key.viewer_id)
        .executeTakeFirst();
      if (!row)
        throw notFound(`there is no grant of image ${key.image_id} from ${key.owner_id} to you`);
      return {
        consumed: new RowReader('dir_grants', row as Row).int(
          'views_used',
          0,
          FIELD_LIMITS.quota_max,
        ),
      };
    });
  }

  // ---- Queued updates ------------------------------------------------------------------------

  async takeUpdates(
    actorId: UserId,
    userId: UserId,
    options: { limit?: number } = {},
  ): Promise<QueuedUpdate[]> {
    const actor = v.userId(actorId, 'actor');
    const id = v.userId(userId);
    requireSelf(actor, id, 'take the updates of');
    const limit = v.pageLimit(v.plainObject(options, 'options').limit);
    return this.read('take queued updates', async (db) => {
      const rows = await db
        .selectFrom('dir_updates')
        .select(['update_id', 'recipient_id', 'kind', 'payload', 'created_at_ms'])
        .where('recipient_id', '=', id)
        .orderBy('update_id')
        .limit(limit)
        .execute();
      return rows.map(decodeUpdate);
    });
  }

  async ackUpdates(actorId: UserId, userId: UserId, updateIds: readonly number[]): Promise<number> {
    const actor = v.userId(actorId, 'actor');
    const id = v.userId(userId);
    requireSelf(actor, id, 'acknowledge the updates of');
    const ids = [...new Set(v.updateIds(updateIds))];
    if (ids.length === 0) return 0;
    return this.write('acknowledge queued updates', async (trx) => {
      const deleted = await trx
        .deleteFrom('dir_updates')
        .where('recipient_id', '=', id)
        .where('update_id', 'in', ids)
        .executeTakeFirst();
      return Number(deleted.numDeletedRows);
    });
  }

  // ---- Housekeeping --------------------------------------------------------------------------

  async sweep(): Promise<SweepResult> {
    const now = this.now();
    return this.write('sweep', async (trx) => {
      const challenges = await trx
        .deleteFrom('dir_challenges')
        .where((eb) => eb.or([eb('used_at_ms', 'is not', null), eb('expires_at_ms', '<=', now)]))
        .executeTakeFirst();
      const nonces = await trx
        .deleteFrom('dir_request_nonces')
        .where('expires_at_ms', '<=', now)
        .executeTakeFirst();
      const presences = await trx
        .updateTable('dir_presence')
        .set({ is_online: 0 })
        .where('is_online', '=', 1)
        .where((eb) =>
          eb.or([
            eb('last_seen_at_ms', 'is', null),
            eb('last_seen_at_ms', '<=', now - this.limits.presence_ttl_ms),
          ]),
        )
        .executeTakeFirst();
      const requests = await trx
        .deleteFrom('dir_requests')
        .where('status', '<>', 'pending')
        .where('answered_at_ms', '<', now - this.limits.answered_request_retention_ms)
        .executeTakeFirst();
      return {
        challenges_deleted: Number(challenges.numDeletedRows),
        request_nonces_deleted: Number(nonces.numDeletedRows),
        presences_expired: Number(presences.numUpdatedRows),
        requests_deleted: Number(requests.numDeletedRows),
      };
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }

  // ---- Internals -----------------------------------------------------------------------------

  private now(): number {
    const now = this.ctx.clock();
    if (!Number.isSafeInteger(now) || now < 0) {
      throw new DirectoryError(
        'directory_failure',
        `the directory clock returned ${String(now)}, not a time in ms`,
      );
    }
    return now;
  }

  /**
   * After a database restart the pool may still hold dead connections. A call that fails on one
   * is retried (twice) when that is safe: reads always, writes only when the transaction never
   * began. A connection lost during a write leaves its outcome unknown: the caller must know.
   */
  private read<T>(operation: string, body: (db: Db) => Promise<T>): Promise<T> {
    return this.run(operation, () => body(this.db), { idempotent: true });
  }

  private write<T>(operation: string, body: (trx: Db) => Promise<T>): Promise<T> {
    return this.run(
      operation,
      async () => {
        let began = false;
        try {
          return await this.db.transaction().execute((trx) => {
            began = true;
            return body(trx);
          });
        } catch (err) {
          throw began ? err : new NotBegun(err);
        }
      },
      { idempotent: false },
    );
  }

  /** Bounded by operation_timeout_ms; lock conflicts retried for up to busy_timeout_ms. */
  private run<T>(
    operation: string,
    attempt: () => Promise<T>,
    { idempotent }: { idempotent: boolean },
  ): Promise<T> {
    if (this.closed) {
      return Promise.reject(
        new DirectoryError(
          'directory_closed',
          `the directory store is closed (cannot ${operation})`,
        ),
      );
    }
    const timeout_ms = this.ctx.operation_timeout_ms;
    let abandoned = false;
    const work = (async () => {
      const started = performance.now();
      let reconnects = 0;
      for (let tries = 1; ; tries++) {
        try {
          return await attempt();
        } catch (caught) {
          const safe = idempotent || caught instanceof NotBegun;
          const err = caught instanceof NotBegun ? caught.cause : caught;
          if (abandoned) throw err;
          if (safe && isUnavailableError(err) && reconnects < RECONNECT_RETRIES) {
            reconnects++;
            await sleep(50 * reconnects);
            continue;
          }
          const elapsed = performance.now() - started;
          if (!isTransientError(err) || elapsed >= this.ctx.busy_timeout_ms) throw err;
          // Exponential backoff with jitter, so competing processes do not retry in lockstep.
          await sleep(Math.min(2 ** tries, 20) * (0.5 + Math.random()));
        }
      }
    })();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        abandoned = true;
        reject(
          new DirectoryError(
            'directory_unavailable',
            `the directory (${this.description}) did not ${operation} within ${timeout_ms} ms; the outcome is unknown, retry`,
          ),
        );
      }, timeout_ms);
      work.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(this.classify(err, operation));
        },
      );
    });
  }

  private classify(err: unknown, operation: string): DirectoryError {
    if (err instanceof DirectoryError) return err;
    if (isTransientError(err)) {
      return new DirectoryError(
        'directory_unavailable',
        `the directory database stayed locked by other writers for over ${this.ctx.busy_timeout_ms} ms (cannot ${operation}): ${describeError(err)}`,
        { cause: err },
      );
    }
    if (isUnavailableError(err)) {
      return new DirectoryError(
        'directory_unavailable',
        `the directory (${this.description}) is unavailable (cannot ${operation}): ${describeError(err)}`,
        { cause: err },
      );
    }
    return new DirectoryError(
      'directory_failure',
      `directory failed to ${operation}: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  }

  /** Locks the users' rows in sorted order (no lock cycles); returns those that exist. */
  private async lockUsers(trx: Db, ids: readonly UserId[]): Promise<LockedUsers> {
    const found: LockedUsers = new Map();
    for (const id of [...new Set(ids)].sort()) {
      const row = await trx
        .selectFrom('dir_users')
        .select(['user_id', 'username'])
        .where('user_id', '=', id)
        // SQLite has no row locks; BEGIN IMMEDIATE holds the database's write lock instead.
        .$if(this.backend !== 'sqlite', (qb) => qb.forUpdate())
        .executeTakeFirst();
      if (row) {
        const reader = new RowReader(`dir_users row ${id}`, row);
        found.set(
          id,
          reader.string('username', v.USERNAME_PATTERN, FIELD_LIMITS.username_max_chars),
        );
      }
    }
    return found;
  }

  private async checkPendingLimits(trx: Db, requesterId: UserId, ownerId: UserId): Promise<void> {
    const forOwner = await countRows(
      trx
        .selectFrom('dir_requests')
        .where('owner_id', '=', ownerId)
        .where('status', '=', 'pending'),
    );
    if (forOwner >= this.limits.max_pending_requests_per_owner) {
      throw limitExceeded(
        `the owner already has ${forOwner} pending requests; the limit is ${this.limits.max_pending_requests_per_owner}`,
      );
    }
    const byRequester = await countRows(
      trx
        .selectFrom('dir_requests')
        .where('requester_id', '=', requesterId)
        .where('status', '=', 'pending'),
    );
    if (byRequester >= this.limits.max_pending_requests_per_requester) {
      throw limitExceeded(
        `you already have ${byRequester} pending requests; the limit is ${this.limits.max_pending_requests_per_requester}`,
      );
    }
  }

  private async readGrant(db: Db, key: GrantKey): Promise<AccessGrant | undefined> {
    const row = await selectGrants(db)
      .where('g.owner_id', '=', key.owner_id)
      .where('g.image_id', '=', key.image_id)
      .where('g.viewer_id', '=', key.viewer_id)
      .executeTakeFirst();
    return row ? decodeGrant(row) : undefined;
  }

  /** Inserts or updates a grant with a new version and queues the change for the viewer. */
  private async writeGrant(
    trx: Db,
    users: LockedUsers,
    key: GrantKey,
    existing: AccessGrant | undefined,
    state: { quota: number; revoked: boolean },
    now: number,
    { notify }: { notify: boolean } = { notify: true },
  ): Promise<AccessGrant> {
    let grant: AccessGrant;
    if (existing) {
      grant = { ...existing, ...state, version: existing.version + 1, updated_at_ms: now };
      await trx
        .updateTable('dir_grants')
        .set({
          quota: grant.quota,
          revoked: grant.revoked ? 1 : 0,
          version: grant.version,
          updated_at_ms: now,
        })
        .where('owner_id', '=', key.owner_id)
        .where('image_id', '=', key.image_id)
        .where('viewer_id', '=', key.viewer_id)
        .execute();
    } else {
      const count = await countRows(
        trx.selectFrom('dir_grants').where('owner_id', '=', key.owner_id),
      );
      if (count >= this.limits.max_grants_per_owner) {
        throw limitExceeded(
          `the owner already has ${count} grants; the limit is ${this.limits.max_grants_per_owner}`,
        );
      }
      grant = {
        ...key,
        owner_username: requireUser(users, key.owner_id, 'owner'),
        viewer_username: requireUser(users, key.viewer_id, 'viewer'),
        ...state,
        version: 1,
        created_at_ms: now,
        updated_at_ms: now,
      };
      await trx
        .insertInto('dir_grants')
        .values({
          ...key,
          quota: grant.quota,
          revoked: grant.revoked ? 1 : 0,
          version: 1,
          created_at_ms: now,
          updated_at_ms: now,
        })
        .execute();
    }
    if (!notify) return grant;
    await this.enqueue(
      trx,
      users,
      key.viewer_id,
      `grant:${key.owner_id}:${key.image_id}`,
      grant.revoked ? 'grant_revoked' : 'grant_updated',
      { grant },
    );
    return grant;
  }

  /**
   * Queues an update for a locked recipient. A queued, unacknowledged update about the same subject
   * is replaced (only the newest state matters), so the queue grows only with new subjects.
   */
  private async enqueue(
    trx: Db,
    users: LockedUsers,
    recipientId: UserId,
    subjectKey: string,
    kind: QueuedUpdateKind,
    payload: object,
  ): Promise<void> {
    const recipientName = requireUser(users, recipientId, 'recipient');
    const text = JSON.stringify(payload);
    if (Buffer.byteLength(text, 'utf8') > FIELD_LIMITS.update_payload_max_bytes) {
      throw new DirectoryError(
        'directory_failure',
        `a ${kind} update of ${text.length} bytes is larger than allowed`,
      );
    }
    const replaced = await trx
      .deleteFrom('dir_updates')
      .where('recipient_id', '=', recipientId)
      .where('subject_key', '=', subjectKey)
      .executeTakeFirst();
    if (Number(replaced.numDeletedRows) === 0) {
      const queued = await countUpdates(trx, recipientId);
      if (queued >= this.limits.max_queued_updates_per_user) {
        throw limitExceeded(
          `${recipientName} has ${queued} undelivered updates (the limit is ${this.limits.max_queued_updates_per_user}); they must sign in and take them first`,
        );
      }
    }
    await trx
      .insertInto('dir_updates')
      .values({
        recipient_id: recipientId,
        kind,
        subject_key: subjectKey,
        payload: text,
        created_at_ms: this.now(),
      })
      .execute();
  }
}

const RECONNECT_RETRIES = 2;

/** The write failed before its transaction began, so nothing was changed: safe to retry. */
class NotBegun extends Error {
  constructor(override readonly cause: unknown) {
    super('the transaction did not begin');
  }
}

// ---- Query helpers (pure functions of a Kysely instance or transaction) -------------------------

function selectUsers(db: Db) {
  return db.selectFrom('dir_users').select(['user_id', 'username', 'public_key', 'created_at_ms']);
}

function selectPresence(db: Db) {
  return db
    .selectFrom('dir_users as u')
    .leftJoin('dir_presence as p', 'p.user_id', 'u.user_id')
    .select(['u.user_id', 'u.username', 'p.is_online', 'p.address', 'p.port', 'p.last_seen_at_ms']);
}

function selectImages(db: Db) {
  return db
    .selectFrom('dir_images as i')
    .innerJoin('dir_users as o', 'o.user_id', 'i.owner_id')
    .select([
      'i.owner_id',
      'o.username as owner_username',
      'i.image_id',
      'i.title',
      'i.width',
      'i.height',
      'i.media_type',
      'i.size_bytes',
      'i.created_at_ms',
      'i.updated_at_ms',
    ]);
}

function selectRequests(db: Db) {
  return db
    .selectFrom('dir_requests as q')
    .innerJoin('dir_users as r', 'r.user_id', 'q.requester_id')
    .innerJoin('dir_users as o', 'o.user_id', 'q.owner_id')
    .select([
      'q.request_id',
      'q.requester_id',
      'r.username as requester_username',
      'q.owner_id',
      'o.username as owner_username',
      'q.image_id',
      'q.views',
      'q.kind',
      'q.status',
      'q.created_at_ms',
      'q.answered_at_ms',
    ]);
}

function selectGrants(db: Db) {
  return db
    .selectFrom('dir_grants as g')
    .innerJoin('dir_users as o', 'o.user_id', 'g.owner_id')
    .innerJoin('dir_users as w', 'w.user_id', 'g.viewer_id')
    .select([
      'g.owner_id',
      'o.username as owner_username',
      'g.image_id',
      'g.viewer_id',
      'w.username as viewer_username',
      'g.quota',
      'g.version',
      'g.revoked',
      'g.created_at_ms',
      'g.updated_at_ms',
    ]);
}

async function countRows<TB extends keyof DirectoryDatabase>(
  query: SelectQueryBuilder<DirectoryDatabase, TB, object>,
): Promise<number> {
  const row = await query.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return new RowReader('count', row as Row).int('n', 0, Number.MAX_SAFE_INTEGER);
}

function countUpdates(db: Db, recipientId: UserId): Promise<number> {
  return countRows(db.selectFrom('dir_updates').where('recipient_id', '=', recipientId));
}

function toPage<T>(items: T[], limit: number, cursorOf: (last: T) => (string | number)[]): Page<T> {
  if (items.length <= limit) return { items, next_cursor: null };
  const page = items.slice(0, limit);
  return { items: page, next_cursor: encodeCursor(cursorOf(page[page.length - 1] as T)) };
}

function imageKey(fields: unknown): ImageKey {
  const record = v.plainObject(fields, 'image');
  return { owner_id: v.userId(record.owner_id, 'owner_id'), image_id: v.imageId(record.image_id) };
}

function grantKey(fields: Record<string, unknown>): GrantKey {
  const key = imageKey(fields);
  const viewerId = v.userId(fields.viewer_id, 'viewer_id');
  if (viewerId === key.owner_id) throw invalidArgument('viewer_id must differ from owner_id');
  return { ...key, viewer_id: viewerId };
}

function expectedVersion(value: unknown): number | undefined {
  return value === undefined
    ? undefined
    : v.integer(value, 'expected_version', 0, Number.MAX_SAFE_INTEGER);
}

function checkVersion(existing: AccessGrant | undefined, expected: number | undefined): void {
  const current = existing?.version ?? 0;
  if (expected !== undefined && expected !== current) {
    throw conflict(
      `the grant is at version ${current}, not ${expected}: read it again before changing it`,
    );
  }
}

function requireSelf(actor: UserId, subject: UserId, action: string): void {
  if (actor !== subject) throw denied(`user ${actor} may not ${action} user ${subject}`);
}

function requireUser(users: LockedUsers, id: UserId, role: string): string {
  const name = users.get(id);
  if (name === undefined) throw notFound(`${role} ${id} is not a registered user`);
  return name;
}

function usernameTaken(username: string): DirectoryError {
  return conflict(`username "${username}" is already taken`);
}
