/**
 * The agent's own database (agent.sqlite in its data directory): its images, the copies it made
 * for viewers, the copies it received, the view ledger and the keys it pinned. better-sqlite3,
 * WAL, parameterised statements only, a tiny versioned migration through PRAGMA user_version.
 *
 * The ledger is the agent's memory of how many views were used: `consumed` only ever grows and
 * a grant `version` only ever moves forward, whatever files or updates arrive later — so
 * restoring an old copy of an image file gives no views back.
 */
import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import { UUID_PATTERN } from '../util/ids.js';
import type { OfflineAllowance } from './api-types.js';

const MIGRATIONS: readonly string[] = [
  // 1: initial schema
  `
  CREATE TABLE own_images (
    image_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    media_type TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    size_bytes INTEGER NOT NULL,
    preview_width INTEGER NOT NULL,
    preview_height INTEGER NOT NULL,
    preview_size_bytes INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL
  );
  CREATE TABLE copies_out (
    image_id TEXT NOT NULL,
    viewer_id TEXT NOT NULL,
    viewer_username TEXT NOT NULL,
    copy_version INTEGER NOT NULL,
    image_digest BLOB NOT NULL,
    copy_size_bytes INTEGER NOT NULL,
    copy_sha256 TEXT NOT NULL,
    grant_version INTEGER NOT NULL,
    quota INTEGER NOT NULL,
    revoked INTEGER NOT NULL,
    copy_delivered INTEGER NOT NULL DEFAULT 0,
    rights_delivered_version INTEGER NOT NULL DEFAULT 0,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (image_id, viewer_id)
  );
  CREATE TABLE received (
    owner_id TEXT NOT NULL,
    image_id TEXT NOT NULL,
    owner_username TEXT NOT NULL,
    file_version INTEGER NOT NULL,
    image_digest BLOB NOT NULL,
    size_bytes INTEGER NOT NULL,
    received_at_ms INTEGER NOT NULL,
    PRIMARY KEY (owner_id, image_id)
  );
  CREATE TABLE ledger (
    owner_id TEXT NOT NULL,
    image_id TEXT NOT NULL,
    owner_username TEXT NOT NULL,
    version INTEGER NOT NULL,
    quota INTEGER NOT NULL,
    revoked INTEGER NOT NULL,
    consumed INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    PRIMARY KEY (owner_id, image_id)
  );
  CREATE TABLE known_keys (
    user_id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    public_key BLOB NOT NULL,
    pinned_at_ms INTEGER NOT NULL
  );
  `,
  // 2: the offline allowance (issue 11): when the directory last confirmed this grant's count
  // (NULL: never, so nothing may be viewed offline) and the views used offline since then.
  `
  ALTER TABLE ledger ADD COLUMN online_at_ms INTEGER;
  ALTER TABLE ledger ADD COLUMN offline_used INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE copies_out ADD COLUMN offline_views INTEGER;
  ALTER TABLE copies_out ADD COLUMN offline_window_ms INTEGER;
  ALTER TABLE received ADD COLUMN offline_views INTEGER;
  ALTER TABLE received ADD COLUMN offline_window_ms INTEGER;
  `,
  // 3: images the owner withdrew (no longer offered in the directory; grants stand)
  `ALTER TABLE own_images ADD COLUMN withdrawn_at_ms INTEGER;`,
  // 4: a view the directory may have counted without its answer arriving (its id is asked
  // again by the next view of the grant, also after the agent restarted; NULL: none)
  `ALTER TABLE ledger ADD COLUMN pending_view_id TEXT;`,
];

export interface OwnImageRow {
  image_id: string;
  title: string;
  media_type: string;
  width: number;
  height: number;
  size_bytes: number;
  preview_width: number;
  preview_height: number;
  preview_size_bytes: number;
  created_at_ms: number;
  /** When the owner withdrew it from the directory (`peer withdraw`); null while offered. */
  withdrawn_at_ms: number | null;
}

export interface CopyOutRow {
  image_id: string;
  viewer_id: string;
  viewer_username: string;
  /** Rights version signed inside the copy file. */
  copy_version: number;
  /** SHA-256 of the copy's sealed image section: what later rights updates are signed over. */
  image_digest: Uint8Array;
  copy_size_bytes: number;
  copy_sha256: string;
  /** The grant as the directory last reported it. */
  grant_version: number;
  quota: number;
  revoked: boolean;
  copy_delivered: boolean;
  /** Highest rights version the viewer acknowledged (in the copy or a RightsUpdate). */
  rights_delivered_version: number;
  updated_at_ms: number;
  /** The offline allowance signed into the copy (null: a copy made before allowances). */
  offline: OfflineAllowance | null;
}

export interface ReceivedRow {
  owner_id: string;
  image_id: string;
  owner_username: string;
  /** Rights version signed inside the stored file. */
  file_version: number;
  image_digest: Uint8Array;
  size_bytes: number;
  received_at_ms: number;
  /** The offline allowance signed into the stored file (null: made before allowances). */
  offline: OfflineAllowance | null;
}

export interface LedgerRow {
  owner_id: string;
  image_id: string;
  owner_username: string;
  version: number;
  quota: number;
  revoked: boolean;
  consumed: number;
  updated_at_ms: number;
  /**
   * When the directory last confirmed this grant's count (a view used there, or a sync); null
   * when it never did on this agent. Offline views are allowed only within the owner's window
   * from here.
   */
  online_at_ms: number | null;
  /** Views used offline since online_at_ms (bounded by the owner's offline allowance). */
  offline_used: number;
}

/** Views left under a ledger entry (none once revoked). */
export function viewsLeft(ledger: Pick<LedgerRow, 'quota' | 'consumed' | 'revoked'>): number {
  return ledger.revoked ? 0 : Math.max(0, ledger.quota - ledger.consumed);
}

export interface KnownKeyRow {
  user_id: string;
  username: string;
  public_key: Uint8Array;
  pinned_at_ms: number;
}

type Row = Record<string, unknown>;

function badRow(table: string, column: string): CloudP2PError {
  return new CloudP2PError(
    'agent_db_bad_row',
    `agent.sqlite: a row of ${table} has an invalid ${column} (the database was edited or damaged)`,
    ExitCode.corrupted,
  );
}

function intOf(row: Row, table: string, column: string, min = 0): number {
  const v = row[column];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw badRow(table, column);
  return v;
}
function textOf(row: Row, table: string, column: string): string {
  const v = row[column];
  if (typeof v !== 'string' || v.length === 0 || v.length > 1000) throw badRow(table, column);
  return v;
}
function bytesOf(row: Row, table: string, column: string, length: number): Uint8Array {
  const v = row[column];
  if (!(v instanceof Uint8Array) || v.length !== length) throw badRow(table, column);
  return new Uint8Array(v);
}
function boolOf(row: Row, table: string, column: string): boolean {
  const v = row[column];
  if (v !== 0 && v !== 1) throw badRow(table, column);
  return v === 1;
}

function offlineOf(row: Row, table: string): OfflineAllowance | null {
  return row.offline_views === null || row.offline_views === undefined
    ? null
    : {
        views: intOf(row, table, 'offline_views'),
        window_ms: intOf(row, table, 'offline_window_ms', 1),
      };
}
/** The allowance as the two columns that hold it. */
function offlineColumns(offline: OfflineAllowance | null): {
  offline_views: number | null;
  offline_window_ms: number | null;
} {
  return { offline_views: offline?.views ?? null, offline_window_ms: offline?.window_ms ?? null };
}

function ownImage(row: Row): OwnImageRow {
  const t = 'own_images';
  return {
    image_id: textOf(row, t, 'image_id'),
    title: textOf(row, t, 'title'),
    media_type: textOf(row, t, 'media_type'),
    width: intOf(row, t, 'width', 1),
    height: intOf(row, t, 'height', 1),
    size_bytes: intOf(row, t, 'size_bytes', 1),
    preview_width: intOf(row, t, 'preview_width', 1),
    preview_height: intOf(row, t, 'preview_height', 1),
    preview_size_bytes: intOf(row, t, 'preview_size_bytes', 1),
    created_at_ms: intOf(row, t, 'created_at_ms'),
    withdrawn_at_ms: row.withdrawn_at_ms === null ? null : intOf(row, t, 'withdrawn_at_ms'),
  };
}

function copyOut(row: Row): CopyOutRow {
  const t = 'copies_out';
  return {
    image_id: textOf(row, t, 'image_id'),
    viewer_id: textOf(row, t, 'viewer_id'),
    viewer_username: textOf(row, t, 'viewer_username'),
    copy_version: intOf(row, t, 'copy_version', 1),
    image_digest: bytesOf(row, t, 'image_digest', 32),
    copy_size_bytes: intOf(row, t, 'copy_size_bytes', 1),
    copy_sha256: textOf(row, t, 'copy_sha256'),
    grant_version: intOf(row, t, 'grant_version', 1),
    quota: intOf(row, t, 'quota'),
    revoked: boolOf(row, t, 'revoked'),
    copy_delivered: boolOf(row, t, 'copy_delivered'),
    rights_delivered_version: intOf(row, t, 'rights_delivered_version'),
    updated_at_ms: intOf(row, t, 'updated_at_ms'),
    offline: offlineOf(row, t),
  };
}

function received(row: Row): ReceivedRow {
  const t = 'received';
  return {
    owner_id: textOf(row, t, 'owner_id'),
    image_id: textOf(row, t, 'image_id'),
    owner_username: textOf(row, t, 'owner_username'),
    file_version: intOf(row, t, 'file_version', 1),
    image_digest: bytesOf(row, t, 'image_digest', 32),
    size_bytes: intOf(row, t, 'size_bytes', 1),
    received_at_ms: intOf(row, t, 'received_at_ms'),
    offline: offlineOf(row, t),
  };
}

function ledger(row: Row): LedgerRow {
  const t = 'ledger';
  return {
    owner_id: textOf(row, t, 'owner_id'),
    image_id: textOf(row, t, 'image_id'),
    owner_username: textOf(row, t, 'owner_username'),
    version: intOf(row, t, 'version'),
    quota: intOf(row, t, 'quota'),
    revoked: boolOf(row, t, 'revoked'),
    consumed: intOf(row, t, 'consumed'),
    updated_at_ms: intOf(row, t, 'updated_at_ms'),
    online_at_ms: row.online_at_ms === null ? null : intOf(row, t, 'online_at_ms'),
    offline_used: intOf(row, t, 'offline_used'),
  };
}

function knownKey(row: Row): KnownKeyRow {
  const t = 'known_keys';
  return {
    user_id: textOf(row, t, 'user_id'),
    username: textOf(row, t, 'username'),
    public_key: bytesOf(row, t, 'public_key', 32),
    pinned_at_ms: intOf(row, t, 'pinned_at_ms'),
  };
}

/** A grant state as the viewer learns it (from the directory, a signed update or a copy). */
export interface GrantState {
  version: number;
  quota: number;
  revoked: boolean;
}

export class AgentDatabase {
  private readonly db: Database.Database;

  constructor(
    path: string,
    private readonly clock: () => number = Date.now,
  ) {
    try {
      AgentDatabase.makePrivate(path);
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.pragma('foreign_keys = ON');
      this.migrate();
    } catch (err) {
      if (err instanceof CloudP2PError) throw err;
      throw new CloudP2PError(
        'agent_db_unusable',
        `cannot open the agent database ${path}: ${(err as Error).message}`,
        ExitCode.failure,
      );
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * The database, its WAL and shared-memory files readable by the user only. The file is made
   * 0600 before SQLite opens it, and SQLite gives the -wal and -shm files it creates the mode of
   * the database file; files left by older versions (0644) are fixed here.
   */
  private static makePrivate(path: string): void {
    if (path === ':memory:') return;
    if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
    for (const file of [path, `${path}-wal`, `${path}-shm`])
      if (existsSync(file)) chmodSync(file, 0o600);
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > MIGRATIONS.length)
      throw new CloudP2PError(
        'agent_db_newer',
        `agent.sqlite has schema version ${current}; this build knows up to ${MIGRATIONS.length} (it was written by a newer cloudp2p)`,
        ExitCode.failure,
      );
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      this.db
        .transaction(() => {
          this.db.exec(MIGRATIONS[version - 1] as string);
          this.db.pragma(`user_version = ${version}`);
        })
        .immediate();
    }
  }

  // ---- Own images ------------------------------------------------------------------------------

  /** Marks an own image withdrawn (kept, with its copies, but no longer offered). */
  withdrawOwnImage(imageId: string): void {
    this.db
      .prepare(
        'UPDATE own_images SET withdrawn_at_ms = ? WHERE image_id = ? AND withdrawn_at_ms IS NULL',
      )
      .run(this.clock(), imageId);
  }

  addOwnImage(row: Omit<OwnImageRow, 'withdrawn_at_ms'>): void {
    this.db
      .prepare(
        `INSERT INTO own_images (image_id, title, media_type, width, height, size_bytes,
           preview_width, preview_height, preview_size_bytes, created_at_ms)
         VALUES (@image_id, @title, @media_type, @width, @height, @size_bytes,
           @preview_width, @preview_height, @preview_size_bytes, @created_at_ms)`,
      )
      .run(row);
  }

  ownImage(imageId: string): OwnImageRow | undefined {
    const row = this.db.prepare('SELECT * FROM own_images WHERE image_id = ?').get(imageId);
    return row ? ownImage(row as Row) : undefined;
  }

  ownImages(): OwnImageRow[] {
    return (
      this.db.prepare('SELECT * FROM own_images ORDER BY created_at_ms, image_id').all() as Row[]
    ).map(ownImage);
  }

  // ---- Copies made for viewers (owner side) ------------------------------------------------------

  /** Records a freshly built copy (replacing an older one for the same viewer). */
  putCopy(row: Omit<CopyOutRow, 'updated_at_ms'>): void {
    const { offline, ...withoutOffline } = row;
    this.db
      .prepare(
        `INSERT INTO copies_out (image_id, viewer_id, viewer_username, copy_version, image_digest,
           copy_size_bytes, copy_sha256, grant_version, quota, revoked, copy_delivered,
           rights_delivered_version, updated_at_ms, offline_views, offline_window_ms)
         VALUES (@image_id, @viewer_id, @viewer_username, @copy_version, @image_digest,
           @copy_size_bytes, @copy_sha256, @grant_version, @quota, @revoked, @copy_delivered,
           @rights_delivered_version, @updated_at_ms, @offline_views, @offline_window_ms)
         ON CONFLICT (image_id, viewer_id) DO UPDATE SET
           viewer_username = excluded.viewer_username, copy_version = excluded.copy_version,
           image_digest = excluded.image_digest, copy_size_bytes = excluded.copy_size_bytes,
           copy_sha256 = excluded.copy_sha256,
           grant_version = MAX(copies_out.grant_version, excluded.grant_version),
           quota = CASE WHEN excluded.grant_version >= copies_out.grant_version
                        THEN excluded.quota ELSE copies_out.quota END,
           revoked = CASE WHEN excluded.grant_version >= copies_out.grant_version
                          THEN excluded.revoked ELSE copies_out.revoked END,
           copy_delivered = excluded.copy_delivered,
           rights_delivered_version = excluded.rights_delivered_version,
           updated_at_ms = excluded.updated_at_ms, offline_views = excluded.offline_views,
           offline_window_ms = excluded.offline_window_ms`,
      )
      .run({
        ...withoutOffline,
        ...offlineColumns(offline),
        image_digest: Buffer.from(row.image_digest),
        revoked: row.revoked ? 1 : 0,
        copy_delivered: row.copy_delivered ? 1 : 0,
        updated_at_ms: this.clock(),
      });
  }

  copy(imageId: string, viewerId: string): CopyOutRow | undefined {
    const row = this.db
      .prepare('SELECT * FROM copies_out WHERE image_id = ? AND viewer_id = ?')
      .get(imageId, viewerId);
    return row ? copyOut(row as Row) : undefined;
  }

  copies(): CopyOutRow[] {
    return (
      this.db.prepare('SELECT * FROM copies_out ORDER BY image_id, viewer_username').all() as Row[]
    ).map(copyOut);
  }

  /** Copies whose file or latest rights the viewer has not acknowledged yet. */
  undeliveredCopies(): CopyOutRow[] {
    return (
      this.db
        .prepare(
          `SELECT * FROM copies_out
           WHERE (copy_delivered = 0 AND revoked = 0)
              OR (copy_delivered = 1 AND rights_delivered_version < grant_version)
           ORDER BY updated_at_ms`,
        )
        .all() as Row[]
    ).map(copyOut);
  }

  /** Records the directory's grant state for a copy, if newer than what we hold. */
  updateCopyGrant(imageId: string, viewerId: string, grant: GrantState): void {
    this.db
      .prepare(
        `UPDATE copies_out SET grant_version = @version, quota = @quota, revoked = @revoked,
           updated_at_ms = @now
         WHERE image_id = @image_id AND viewer_id = @viewer_id AND grant_version < @version`,
      )
      .run({
        image_id: imageId,
        viewer_id: viewerId,
        version: grant.version,
        quota: grant.quota,
        revoked: grant.revoked ? 1 : 0,
        now: this.clock(),
      });
  }

  markCopyDelivered(imageId: string, viewerId: string, version: number): void {
    this.db
      .prepare(
        `UPDATE copies_out SET copy_delivered = 1,
           rights_delivered_version = MAX(rights_delivered_version, @version), updated_at_ms = @now
         WHERE image_id = @image_id AND viewer_id = @viewer_id`,
      )
      .run({ image_id: imageId, viewer_id: viewerId, version, now: this.clock() });
  }

  markRightsDelivered(imageId: string, viewerId: string, version: number): void {
    this.db
      .prepare(
        `UPDATE copies_out SET rights_delivered_version = MAX(rights_delivered_version, @version),
           updated_at_ms = @now
         WHERE image_id = @image_id AND viewer_id = @viewer_id`,
      )
      .run({ image_id: imageId, viewer_id: viewerId, version, now: this.clock() });
  }

  // ---- Received copies and the ledger (viewer side) ----------------------------------------------

  putReceived(row: ReceivedRow): void {
    const { offline, ...withoutOffline } = row;
    this.db
      .prepare(
        `INSERT INTO received (owner_id, image_id, owner_username, file_version, image_digest,
           size_bytes, received_at_ms, offline_views, offline_window_ms)
         VALUES (@owner_id, @image_id, @owner_username, @file_version, @image_digest, @size_bytes,
           @received_at_ms, @offline_views, @offline_window_ms)
         ON CONFLICT (owner_id, image_id) DO UPDATE SET owner_username = excluded.owner_username,
           file_version = excluded.file_version, image_digest = excluded.image_digest,
           size_bytes = excluded.size_bytes, received_at_ms = excluded.received_at_ms,
           offline_views = excluded.offline_views, offline_window_ms = excluded.offline_window_ms`,
      )
      .run({
        ...withoutOffline,
        ...offlineColumns(offline),
        image_digest: Buffer.from(row.image_digest),
      });
  }

  received(ownerId: string, imageId: string): ReceivedRow | undefined {
    const row = this.db
      .prepare('SELECT * FROM received WHERE owner_id = ? AND image_id = ?')
      .get(ownerId, imageId);
    return row ? received(row as Row) : undefined;
  }

  receivedAll(): ReceivedRow[] {
    return (
      this.db.prepare('SELECT * FROM received ORDER BY owner_username, image_id').all() as Row[]
    ).map(received);
  }

  ledger(ownerId: string, imageId: string): LedgerRow | undefined {
    const row = this.db
      .prepare('SELECT * FROM ledger WHERE owner_id = ? AND image_id = ?')
      .get(ownerId, imageId);
    return row ? ledger(row as Row) : undefined;
  }

  ledgers(): LedgerRow[] {
    return (
      this.db.prepare('SELECT * FROM ledger ORDER BY owner_username, image_id').all() as Row[]
    ).map(ledger);
  }

  /**
   * Merges what we learned about a grant into the ledger: the grant state is taken only when
   * its version is newer, and `consumed` only ever grows. Returns the row after the merge.
   */
  mergeLedger(
    key: { owner_id: string; image_id: string; owner_username: string },
    grant: GrantState | null,
    consumedAtLeast = 0,
  ): LedgerRow {
    const now = this.clock();
    this.db
      .transaction(() => {
        this.db
          .prepare(
            `INSERT INTO ledger (owner_id, image_id, owner_username, version, quota, revoked,
               consumed, updated_at_ms)
             VALUES (@owner_id, @image_id, @owner_username, @version, @quota, @revoked, @consumed,
               @now)
             ON CONFLICT (owner_id, image_id) DO UPDATE SET
               quota = CASE WHEN excluded.version > ledger.version THEN excluded.quota
                            ELSE ledger.quota END,
               revoked = CASE WHEN excluded.version > ledger.version THEN excluded.revoked
                              ELSE ledger.revoked END,
               version = MAX(ledger.version, excluded.version),
               consumed = MAX(ledger.consumed, excluded.consumed),
               owner_username = excluded.owner_username,
               updated_at_ms = excluded.updated_at_ms`,
          )
          .run({
            ...key,
            version: grant?.version ?? 0,
            quota: grant?.quota ?? 0,
            revoked: grant?.revoked ? 1 : 0,
            consumed: consumedAtLeast,
            now,
          });
      })
      .immediate();
    return this.ledger(key.owner_id, key.image_id) as LedgerRow;
  }

  /**
   * The id of a view of this grant the directory may have counted without the answer
   * arriving, or null. A stored value that is not a UUID (a hand-edited row) is treated as
   * none: the next view asks under a new id.
   */
  pendingView(ownerId: string, imageId: string): string | null {
    const row = this.db
      .prepare('SELECT pending_view_id FROM ledger WHERE owner_id = ? AND image_id = ?')
      .get(ownerId, imageId) as { pending_view_id: unknown } | undefined;
    const id = row?.pending_view_id;
    return typeof id === 'string' && UUID_PATTERN.test(id) ? id : null;
  }

  /** Records (or, with null, clears) the pending view of a grant (see pendingView). */
  setPendingView(ownerId: string, imageId: string, viewId: string | null): void {
    if (viewId !== null && !UUID_PATTERN.test(viewId))
      throw new Error(`a pending view id must be a UUID, got ${JSON.stringify(viewId)}`);
    this.db
      .prepare(
        `UPDATE ledger SET pending_view_id = @view_id
         WHERE owner_id = @owner_id AND image_id = @image_id`,
      )
      .run({ owner_id: ownerId, image_id: imageId, view_id: viewId });
  }

  /**
   * The directory just confirmed this grant's count (a view used there, or views exchanged at
   * sync): the offline window starts again from now, with no offline views used in it.
   */
  markOnline(ownerId: string, imageId: string): void {
    this.db
      .prepare(
        `UPDATE ledger SET online_at_ms = @now, offline_used = 0, updated_at_ms = @now
         WHERE owner_id = @owner_id AND image_id = @image_id`,
      )
      .run({ owner_id: ownerId, image_id: imageId, now: this.clock() });
  }

  /**
   * Uses one view offline, atomically, only while one is left under the grant, the directory
   * confirmed the count within the last `window_ms`, and fewer than `views` were used offline
   * since; returns the row after, or null when the view is not allowed.
   */
  consumeOfflineView(
    ownerId: string,
    imageId: string,
    allowance: { views: number; window_ms: number },
  ): LedgerRow | null {
    const now = this.clock();
    const changes = this.db
      .prepare(
        `UPDATE ledger SET consumed = consumed + 1, offline_used = offline_used + 1,
           updated_at_ms = @now
         WHERE owner_id = @owner_id AND image_id = @image_id AND revoked = 0
           AND consumed < quota AND online_at_ms IS NOT NULL AND online_at_ms <= @now
           AND @now < online_at_ms + @window_ms AND offline_used < @views`,
      )
      .run({
        owner_id: ownerId,
        image_id: imageId,
        now,
        views: allowance.views,
        window_ms: allowance.window_ms,
      }).changes;
    return changes === 1 ? (this.ledger(ownerId, imageId) as LedgerRow) : null;
  }

  /** The agent's clock (injected in tests). */
  now(): number {
    return this.clock();
  }

  // ---- Pinned keys ------------------------------------------------------------------------------

  keyById(userId: string): KnownKeyRow | undefined {
    const row = this.db.prepare('SELECT * FROM known_keys WHERE user_id = ?').get(userId);
    return row ? knownKey(row as Row) : undefined;
  }

  keyByUsername(username: string): KnownKeyRow | undefined {
    const row = this.db.prepare('SELECT * FROM known_keys WHERE username = ?').get(username);
    return row ? knownKey(row as Row) : undefined;
  }

  pinKey(row: Omit<KnownKeyRow, 'pinned_at_ms'>): void {
    this.db
      .prepare(
        `INSERT INTO known_keys (user_id, username, public_key, pinned_at_ms)
         VALUES (?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING`,
      )
      .run(row.user_id, row.username, Buffer.from(row.public_key), this.clock());
  }
}
