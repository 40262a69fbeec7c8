/**
 * Query building blocks shared by the store's operations: the SELECTs that join usernames to
 * rows, counting, paging, and the checks every operation makes on its parties. Pure functions of
 * a Kysely instance or transaction; no state.
 */
import type { Kysely, SelectQueryBuilder } from 'kysely';
import { encodeCursor } from '../cursor.js';
import { denied, notFound } from '../errors.js';
import { CountRow, decodeRow } from '../rows.js';
import type { DirectoryDatabase } from '../schema.js';
import type { ImageKey, Page, UserId } from '../store.js';
import * as v from '../validate.js';

export type Db = Kysely<DirectoryDatabase>;

/** Users locked by a write transaction: id -> username. */
export type LockedUsers = Map<UserId, string>;

export function selectUsers(db: Db) {
  return db.selectFrom('dir_users').select(['user_id', 'username', 'public_key', 'created_at_ms']);
}

export function selectPresence(db: Db) {
  return db
    .selectFrom('dir_users as u')
    .leftJoin('dir_presence as p', 'p.user_id', 'u.user_id')
    .select(['u.user_id', 'u.username', 'p.is_online', 'p.address', 'p.port', 'p.last_seen_at_ms']);
}

export function selectImages(db: Db) {
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

export function selectRequests(db: Db) {
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

export function selectGrants(db: Db) {
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
      'g.views_used',
      'g.version',
      'g.revoked',
      'g.created_at_ms',
      'g.updated_at_ms',
    ]);
}

export async function countRows<TB extends keyof DirectoryDatabase>(
  query: SelectQueryBuilder<DirectoryDatabase, TB, object>,
): Promise<number> {
  const row = await query.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
  return decodeRow(CountRow, row, 'count').n;
}

export function countUpdates(db: Db, recipientId: UserId): Promise<number> {
  return countRows(db.selectFrom('dir_updates').where('recipient_id', '=', recipientId));
}

export function toPage<T>(
  items: T[],
  limit: number,
  cursorOf: (last: T) => (string | number)[],
): Page<T> {
  if (items.length <= limit) return { items, next_cursor: null };
  const page = items.slice(0, limit);
  return { items: page, next_cursor: encodeCursor(cursorOf(page[page.length - 1] as T)) };
}

export function imageKey(fields: unknown): ImageKey {
  return v.check(v.ImageKeyInput, fields, 'image');
}

export function requireSelf(actor: UserId, subject: UserId, action: string): void {
  if (actor !== subject) throw denied(`user ${actor} may not ${action} user ${subject}`);
}

export function requireUser(users: LockedUsers, id: UserId, role: string): string {
  const name = users.get(id);
  if (name === undefined) throw notFound(`${role} ${id} is not a registered user`);
  return name;
}
