/**
 * The tables as Kysely sees them. Every column reads as `unknown`: drivers disagree on types
 * (PostgreSQL returns BIGINT as a string, MySQL returns TINYINT as a number, SQLite anything
 * that was stored), and a row may have been edited by hand, so every read goes through the
 * decoders in rows.ts. Inserts and updates are typed.
 */
import type { ColumnType } from 'kysely';

/** A column that reads as unknown and is written as T. */
type Col<T> = ColumnType<unknown, T, T>;
/** A column the database fills in (auto-increment): never written by us. */
type Generated = ColumnType<unknown, never, never>;

export const TABLES = {
  users: 'dir_users',
  challenges: 'dir_challenges',
  presence: 'dir_presence',
  images: 'dir_images',
  requests: 'dir_requests',
  grants: 'dir_grants',
  updates: 'dir_updates',
  viewUses: 'dir_view_uses',
} as const;

export const MIGRATION_TABLE = 'dir_migrations';
export const MIGRATION_LOCK_TABLE = 'dir_migrations_lock';

export interface UsersTable {
  user_id: Col<string>;
  username: Col<string>;
  public_key: Col<Uint8Array>;
  created_at_ms: Col<number>;
  /** Bumped by write transactions on Galera (migration 0004); has a default. */
  lock_seq: ColumnType<unknown, number | undefined, number>;
}

export interface ChallengesTable {
  nonce: Col<string>;
  user_id: Col<string>;
  issued_at_ms: Col<number>;
  expires_at_ms: Col<number>;
  used_at_ms: Col<number | null>;
}

export interface RequestNoncesTable {
  user_id: Col<string>;
  nonce: Col<string>;
  expires_at_ms: Col<number>;
}

export interface PresenceTable {
  user_id: Col<string>;
  /** 0 or 1: signed in and not signed out. Whether the TTL passed is decided at read time. */
  is_online: Col<number>;
  address: Col<string | null>;
  port: Col<number | null>;
  last_seen_at_ms: Col<number | null>;
}

export interface ImagesTable {
  owner_id: Col<string>;
  image_id: Col<string>;
  title: Col<string>;
  width: Col<number>;
  height: Col<number>;
  media_type: Col<string>;
  size_bytes: Col<number>;
  created_at_ms: Col<number>;
  updated_at_ms: Col<number>;
}

export interface RequestsTable {
  request_id: Col<string>;
  requester_id: Col<string>;
  owner_id: Col<string>;
  image_id: Col<string>;
  views: Col<number>;
  kind: Col<string>;
  status: Col<string>;
  created_at_ms: Col<number>;
  answered_at_ms: Col<number | null>;
}

export interface GrantsTable {
  owner_id: Col<string>;
  image_id: Col<string>;
  viewer_id: Col<string>;
  quota: Col<number>;
  version: Col<number>;
  revoked: Col<number>;
  created_at_ms: Col<number>;
  updated_at_ms: Col<number>;
  /** Views the viewer reported using (migration 0003); defaults to 0 on insert. */
  views_used: ColumnType<unknown, number | undefined, number>;
}

/** A view used under the id its agent chose (migration 0005): a retry of it is not a second view. */
export interface ViewUsesTable {
  owner_id: Col<string>;
  image_id: Col<string>;
  viewer_id: Col<string>;
  view_id: Col<string>;
  used_at_ms: Col<number>;
}

export interface UpdatesTable {
  update_id: Generated;
  recipient_id: Col<string>;
  kind: Col<string>;
  /** What the update is about (`grant:<owner>:<image>`, `request:<id>`): one queued per subject. */
  subject_key: Col<string>;
  /** JSON snapshot of the grant or request, validated when read. */
  payload: Col<string>;
  created_at_ms: Col<number>;
}

export interface DirectoryDatabase {
  dir_users: UsersTable;
  dir_challenges: ChallengesTable;
  dir_request_nonces: RequestNoncesTable;
  dir_presence: PresenceTable;
  dir_images: ImagesTable;
  dir_requests: RequestsTable;
  dir_grants: GrantsTable;
  dir_updates: UpdatesTable;
  dir_view_uses: ViewUsesTable;
}
