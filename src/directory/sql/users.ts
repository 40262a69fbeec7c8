/**
 * Users and how they sign in: registration, lookup, sign-in challenges, signed-request nonces
 * (replay protection), and presence (online flag, address, heartbeats, TTL).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { decodeCursor } from '../cursor.js';
import { isDuplicateKeyError } from '../dialects.js';
import { conflict, denied, DirectoryError, notFound } from '../errors.js';
import { decodeChallenge, decodeOnlineUser, decodePresence, decodeUser } from '../rows.js';
import type {
  HeartbeatResult,
  OnlineUser,
  Page,
  PageRequest,
  PresenceRecord,
  SignInChallenge,
  UserId,
  UserRecord,
} from '../store.js';
import * as v from '../validate.js';
import {
  countUpdates,
  requireSelf,
  requireUser,
  selectPresence,
  selectUsers,
  toPage,
} from './queries.js';
import type { SqlRunner } from './runner.js';

// ---- Users ---------------------------------------------------------------------------------

export async function registerUser(
  run: SqlRunner,
  input: { username: string; public_key: Uint8Array },
): Promise<UserRecord> {
  const { username, public_key: publicKey } = v.check(v.Registration, input, 'registration');
  const user: UserRecord = {
    user_id: randomUUID(),
    username,
    public_key: new Uint8Array(publicKey),
    created_at_ms: run.now(),
  };
  return run.write('register a user', async (trx) => {
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

export async function getUser(run: SqlRunner, userId: UserId): Promise<UserRecord | undefined> {
  const id = v.check(v.UserId, userId, 'user_id');
  return run.read('get a user', async (db) => {
    const row = await selectUsers(db).where('user_id', '=', id).executeTakeFirst();
    return row ? decodeUser(row) : undefined;
  });
}

export async function findUserByUsername(
  run: SqlRunner,
  username: string,
): Promise<UserRecord | undefined> {
  const name = v.check(v.Username, username, 'username');
  return run.read('find a user', async (db) => {
    const row = await selectUsers(db).where('username', '=', name).executeTakeFirst();
    return row ? decodeUser(row) : undefined;
  });
}

// ---- Challenges ----------------------------------------------------------------------------

export async function createChallenge(run: SqlRunner, userId: UserId): Promise<SignInChallenge> {
  const id = v.check(v.UserId, userId, 'user_id');
  const now = run.now();
  const challenge: SignInChallenge = {
    user_id: id,
    nonce: randomBytes(32).toString('hex'),
    issued_at_ms: now,
    expires_at_ms: now + run.limits.challenge_ttl_ms,
  };
  return run.write('issue a sign-in challenge', async (trx) => {
    const users = await run.lockUsers(trx, [id]);
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
    const dropped = open.slice(run.limits.max_challenges_per_user - 1).map((row) => row.nonce);
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

export async function consumeChallenge(
  run: SqlRunner,
  userId: UserId,
  nonce: string,
): Promise<SignInChallenge> {
  const id = v.check(v.UserId, userId, 'user_id');
  const value = v.check(v.Nonce, nonce, 'nonce');
  const now = run.now();
  return run.write('check a sign-in challenge', async (trx) => {
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

export async function recordRequestNonce(
  run: SqlRunner,
  userId: UserId,
  nonce: string,
  expires_at_ms: number,
): Promise<void> {
  const id = v.check(v.UserId, userId, 'user_id');
  const value = v.check(v.Nonce, nonce, 'nonce');
  const now = run.now();
  if (!Number.isSafeInteger(expires_at_ms) || expires_at_ms > now + 3_600_000) {
    throw new DirectoryError(
      'invalid_argument',
      'expires_at_ms must be an integer at most an hour from now',
    );
  }
  return run.write('record a request nonce', async (trx) => {
    const users = await run.lockUsers(trx, [id]);
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

export async function goOnline(
  run: SqlRunner,
  actorId: UserId,
  presence: { user_id: UserId; address: string; port: number },
): Promise<PresenceRecord> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const { user_id: id, address, port } = v.check(v.PresenceInput, presence, 'presence');
  requireSelf(actor, id, 'change the presence of');
  const now = run.now();
  return run.write('sign in', async (trx) => {
    const users = await run.lockUsers(trx, [id]);
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

export async function heartbeat(
  run: SqlRunner,
  actorId: UserId,
  userId: UserId,
): Promise<HeartbeatResult> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const id = v.check(v.UserId, userId, 'user_id');
  requireSelf(actor, id, 'heartbeat for');
  const now = run.now();
  const cutoff = now - run.limits.presence_ttl_ms;
  return run.write('heartbeat', async (trx) => {
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
        `user ${id} is not signed in (signed out, or no heartbeat within ${run.limits.presence_ttl_ms} ms): sign in again`,
      );
    }
    const pending = await countUpdates(trx, id);
    return {
      presence: decodePresence(row, now, run.limits.presence_ttl_ms),
      pending_updates: pending,
    };
  });
}

export async function goOffline(run: SqlRunner, actorId: UserId, userId: UserId): Promise<void> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const id = v.check(v.UserId, userId, 'user_id');
  requireSelf(actor, id, 'change the presence of');
  await run.write('sign out', async (trx) => {
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

export async function getPresence(
  run: SqlRunner,
  userId: UserId,
): Promise<PresenceRecord | undefined> {
  const id = v.check(v.UserId, userId, 'user_id');
  const now = run.now();
  return run.read('get presence', async (db) => {
    const row = await selectPresence(db).where('u.user_id', '=', id).executeTakeFirst();
    return row ? decodePresence(row, now, run.limits.presence_ttl_ms) : undefined;
  });
}

export async function listOnlineUsers(
  run: SqlRunner,
  page: PageRequest = {},
): Promise<Page<OnlineUser>> {
  const query = v.check(v.PageInput, page, 'page');
  const limit = v.pageLimit(query.limit);
  const after = decodeCursor(query.cursor, ['string'] as const);
  const cutoff = run.now() - run.limits.presence_ttl_ms;
  return run.read('list online users', async (db) => {
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

function usernameTaken(username: string): DirectoryError {
  return conflict(`username "${username}" is already taken`);
}
