/**
 * The directory's schema history. Migrations are named `NNNN_what` and applied in name order by
 * Kysely's Migrator at open; the applied ones are recorded in `dir_migrations`. Never edit an
 * applied migration: add a new one. The same migrations serve every backend; the few type
 * differences (binary, auto-increment, MySQL table options) are picked per backend here.
 */
import {
  sql,
  type CreateTableBuilder,
  type Kysely,
  type Migration,
  type MigrationProvider,
  type RawBuilder,
} from 'kysely';
import type { DirectoryBackend } from './store.js';

/** The newest migration this build knows; a database with a newer one is refused. */
export const LATEST_MIGRATION = '0005_view_uses';

export function migrationProvider(backend: DirectoryBackend): MigrationProvider {
  return {
    getMigrations: async (): Promise<Record<string, Migration>> => ({
      '0001_initial': initialMigration(backend),
      '0002_request_nonces': requestNoncesMigration(backend),
      '0003_grant_views': grantViewsMigration(),
      '0004_user_lock_seq': userLockSeqMigration(),
      '0005_view_uses': viewUsesMigration(backend),
    }),
  };
}

// The builders below are untyped (Kysely<unknown>) on purpose: a migration describes the schema
// as it was at that point in history, not the current TypeScript view of it.

/**
 * PostgreSQL: binary ("C") collation on every string column, so ordering and comparisons (keyset
 * pagination) are byte-wise, like MySQL's utf8mb4_bin and SQLite's default.
 */
function varcharFor(backend: DirectoryBackend): (chars: number) => RawBuilder<unknown> {
  return (chars) =>
    backend === 'postgres'
      ? sql.raw(`varchar(${chars}) collate "C"`)
      : sql.raw(`varchar(${chars})`);
}

/**
 * MySQL: utf8mb4 for any title, and a binary collation so that comparisons are exact and
 * case-sensitive like on PostgreSQL and SQLite.
 */
function createTableFor(
  backend: DirectoryBackend,
): (db: Kysely<unknown>, name: string) => CreateTableBuilder<string, never> {
  return (db, name) =>
    backend === 'mysql'
      ? db.schema
          .createTable(name)
          .modifyEnd(sql`engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin`)
      : db.schema.createTable(name);
}
function initialMigration(backend: DirectoryBackend): Migration {
  const varchar = varcharFor(backend);
  const binary32 =
    backend === 'postgres' ? sql`bytea` : backend === 'mysql' ? sql`varbinary(32)` : sql`blob`;
  const table = createTableFor(backend);

  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await table(db, 'dir_users')
        .addColumn('user_id', varchar(36), (c) => c.notNull().primaryKey())
        .addColumn('username', varchar(32), (c) => c.notNull())
        .addColumn('public_key', binary32, (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('dir_users_username_uq', ['username'])
        .execute();

      await table(db, 'dir_challenges')
        .addColumn('nonce', varchar(64), (c) => c.notNull().primaryKey())
        .addColumn('user_id', varchar(36), (c) => c.notNull())
        .addColumn('issued_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('used_at_ms', 'bigint')
        .addForeignKeyConstraint(
          'dir_challenges_user_fk',
          ['user_id'],
          'dir_users',
          ['user_id'],
          (fk) => fk.onDelete('cascade'),
        )
        .execute();
      await db.schema
        .createIndex('dir_challenges_user_idx')
        .on('dir_challenges')
        .columns(['user_id', 'issued_at_ms'])
        .execute();
      await db.schema
        .createIndex('dir_challenges_expiry_idx')
        .on('dir_challenges')
        .column('expires_at_ms')
        .execute();

      await table(db, 'dir_presence')
        .addColumn('user_id', varchar(36), (c) => c.notNull().primaryKey())
        .addColumn('is_online', 'smallint', (c) => c.notNull())
        .addColumn('address', varchar(253))
        .addColumn('port', 'integer')
        .addColumn('last_seen_at_ms', 'bigint')
        .addForeignKeyConstraint(
          'dir_presence_user_fk',
          ['user_id'],
          'dir_users',
          ['user_id'],
          (fk) => fk.onDelete('cascade'),
        )
        .addCheckConstraint('dir_presence_online_ck', sql`is_online in (0, 1)`)
        .execute();
      await db.schema
        .createIndex('dir_presence_online_idx')
        .on('dir_presence')
        .columns(['is_online', 'last_seen_at_ms'])
        .execute();

      await table(db, 'dir_images')
        .addColumn('owner_id', varchar(36), (c) => c.notNull())
        .addColumn('image_id', varchar(64), (c) => c.notNull())
        .addColumn('title', varchar(200), (c) => c.notNull())
        .addColumn('width', 'integer', (c) => c.notNull())
        .addColumn('height', 'integer', (c) => c.notNull())
        .addColumn('media_type', varchar(100), (c) => c.notNull())
        .addColumn('size_bytes', 'bigint', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('dir_images_pk', ['owner_id', 'image_id'])
        .addForeignKeyConstraint(
          'dir_images_owner_fk',
          ['owner_id'],
          'dir_users',
          ['user_id'],
          (fk) => fk.onDelete('cascade'),
        )
        .execute();

      await table(db, 'dir_requests')
        .addColumn('request_id', varchar(36), (c) => c.notNull().primaryKey())
        .addColumn('requester_id', varchar(36), (c) => c.notNull())
        .addColumn('owner_id', varchar(36), (c) => c.notNull())
        .addColumn('image_id', varchar(64), (c) => c.notNull())
        .addColumn('views', 'integer', (c) => c.notNull())
        .addColumn('kind', varchar(16), (c) => c.notNull())
        .addColumn('status', varchar(16), (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('answered_at_ms', 'bigint')
        .addForeignKeyConstraint(
          'dir_requests_requester_fk',
          ['requester_id'],
          'dir_users',
          ['user_id'],
          (fk) => fk.onDelete('cascade'),
        )
        .addForeignKeyConstraint(
          'dir_requests_owner_fk',
          ['owner_id'],
          'dir_users',
          ['user_id'],
          (fk) => fk.onDelete('cascade'),
        )
        .addCheckConstraint(
          'dir_requests_status_ck',
          sql`status in ('pending', 'accepted', 'rejected')`,
        )
        .addCheckConstraint('dir_requests_kind_ck', sql`kind in ('access', 'more_views')`)
        .execute();
      await db.schema
        .createIndex('dir_requests_owner_idx')
        .on('dir_requests')
        .columns(['owner_id', 'created_at_ms', 'request_id'])
        .execute();
      await db.schema
        .createIndex('dir_requests_owner_status_idx')
        .on('dir_requests')
        .columns(['owner_id', 'status', 'created_at_ms', 'request_id'])
        .execute();
      await db.schema
        .createIndex('dir_requests_requester_idx')
        .on('dir_requests')
        .columns(['requester_id', 'created_at_ms', 'request_id'])
        .execute();
      await db.schema
        .createIndex('dir_requests_pending_idx')
        .on('dir_requests')
        .columns(['requester_id', 'owner_id', 'image_id', 'status'])
        .execute();
      await db.schema
        .createIndex('dir_requests_answered_idx')
        .on('dir_requests')
        .columns(['status', 'answered_at_ms'])
        .execute();

      await table(db, 'dir_grants')
        .addColumn('owner_id', varchar(36), (c) => c.notNull())
        .addColumn('image_id', varchar(64), (c) => c.notNull())
        .addColumn('viewer_id', varchar(36), (c) => c.notNull())
        .addColumn('quota', 'integer', (c) => c.notNull())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .addColumn('revoked', 'smallint', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addColumn('updated_at_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('dir_grants_pk', ['owner_id', 'image_id', 'viewer_id'])
        .addForeignKeyConstraint(
          'dir_grants_owner_fk',
          ['owner_id'],
          'dir_users',
          ['user_id'],
          (fk) => fk.onDelete('cascade'),
        )
        .addForeignKeyConstraint(
          'dir_grants_viewer_fk',
          ['viewer_id'],
          'dir_users',
          ['user_id'],
          (fk) => fk.onDelete('cascade'),
        )
        .addCheckConstraint('dir_grants_quota_ck', sql`quota >= 0`)
        .addCheckConstraint('dir_grants_version_ck', sql`version >= 1`)
        .addCheckConstraint('dir_grants_revoked_ck', sql`revoked in (0, 1)`)
        .execute();
      await db.schema
        .createIndex('dir_grants_viewer_idx')
        .on('dir_grants')
        .columns(['viewer_id', 'owner_id', 'image_id'])
        .execute();

      const updateId =
        backend === 'postgres'
          ? table(db, 'dir_updates').addColumn('update_id', 'bigserial', (c) => c.primaryKey())
          : backend === 'mysql'
            ? table(db, 'dir_updates').addColumn('update_id', 'bigint', (c) =>
                c.primaryKey().autoIncrement(),
              )
            : // AUTOINCREMENT: SQLite must never reuse an id, or a late ack could delete a newer update.
              table(db, 'dir_updates').addColumn('update_id', 'integer', (c) =>
                c.primaryKey().autoIncrement(),
              );
      await updateId
        .addColumn('recipient_id', varchar(36), (c) => c.notNull())
        .addColumn('kind', varchar(32), (c) => c.notNull())
        .addColumn('subject_key', varchar(200), (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('created_at_ms', 'bigint', (c) => c.notNull())
        .addForeignKeyConstraint(
          'dir_updates_recipient_fk',
          ['recipient_id'],
          'dir_users',
          ['user_id'],
          (fk) => fk.onDelete('cascade'),
        )
        .addUniqueConstraint('dir_updates_subject_uq', ['recipient_id', 'subject_key'])
        .execute();
      await db.schema
        .createIndex('dir_updates_recipient_idx')
        .on('dir_updates')
        .columns(['recipient_id', 'update_id'])
        .execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      for (const name of [
        'dir_updates',
        'dir_grants',
        'dir_requests',
        'dir_images',
        'dir_presence',
        'dir_challenges',
        'dir_users',
      ]) {
        await db.schema.dropTable(name).ifExists().execute();
      }
    },
  };
}

/**
 * 0002: nonces of signed directory requests, so a captured request cannot be replayed to any
 * server while its timestamp is still acceptable. Rows expire and are swept.
 */
function requestNoncesMigration(backend: DirectoryBackend): Migration {
  const varchar = varcharFor(backend);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await createTableFor(backend)(db, 'dir_request_nonces')
        .addColumn('user_id', varchar(36), (c) => c.notNull())
        .addColumn('nonce', varchar(64), (c) => c.notNull())
        .addColumn('expires_at_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('dir_request_nonces_pk', ['user_id', 'nonce'])
        .addForeignKeyConstraint(
          'dir_request_nonces_user_fk',
          ['user_id'],
          'dir_users',
          ['user_id'],
          (fk) => fk.onDelete('cascade'),
        )
        .execute();
      await db.schema
        .createIndex('dir_request_nonces_expiry_idx')
        .on('dir_request_nonces')
        .column('expires_at_ms')
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('dir_request_nonces').execute();
    },
  };
}

/**
 * 0003: how many views of each grant the viewer reported using (`recordViews`), so a viewer's
 * agent that lost its local ledger gets its count back instead of its views.
 */
function grantViewsMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('dir_grants')
        .addColumn('views_used', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('dir_grants').dropColumn('views_used').execute();
    },
  };
}

/**
 * 0004: a counter on each user row that write transactions bump on MariaDB Galera instead of only
 * locking the row (SELECT … FOR UPDATE). Galera's row locks are local to one node, so two
 * transactions on two nodes that only lock the same user would both commit; bumping the counter
 * writes the row, so the second to commit fails certification (a deadlock error) and is retried,
 * seeing the first one's changes. Unused elsewhere.
 */
function userLockSeqMigration(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .alterTable('dir_users')
        .addColumn('lock_seq', 'bigint', (c) => c.notNull().defaultTo(0))
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('dir_users').dropColumn('lock_seq').execute();
    },
  };
}

/**
 * 0005: the views recently used, each under the id its agent chose for it, so that a view asked
 * again (a retry after a lost answer, at this server or another) is answered from its first use
 * instead of using a second view. Rows older than the retry window are swept at each use.
 */
function viewUsesMigration(backend: DirectoryBackend): Migration {
  const varchar = varcharFor(backend);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await createTableFor(backend)(db, 'dir_view_uses')
        .addColumn('owner_id', varchar(36), (c) => c.notNull())
        .addColumn('image_id', varchar(64), (c) => c.notNull())
        .addColumn('viewer_id', varchar(36), (c) => c.notNull())
        .addColumn('view_id', varchar(36), (c) => c.notNull())
        .addColumn('used_at_ms', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('dir_view_uses_pk', [
          'owner_id',
          'image_id',
          'viewer_id',
          'view_id',
        ])
        .addForeignKeyConstraint(
          'dir_view_uses_grant_fk',
          ['owner_id', 'image_id', 'viewer_id'],
          'dir_grants',
          ['owner_id', 'image_id', 'viewer_id'],
          (fk) => fk.onDelete('cascade'),
        )
        .execute();
    },
    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable('dir_view_uses').execute();
    },
  };
}
