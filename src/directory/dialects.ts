/**
 * One Kysely instance per backend, configured for many server processes sharing one database,
 * and the classification of driver errors (retry, unreachable, duplicate key, other).
 *
 * SQLite: WAL (readers never block the writer), `synchronous = NORMAL` (a killed process loses
 * nothing; a power cut may lose the last commits, never corrupts), foreign keys on, and every
 * write transaction starts with BEGIN IMMEDIATE: it takes the write lock up front, so two
 * processes never both read under a shared lock and then deadlock upgrading it (which SQLite
 * reports as SQLITE_BUSY without waiting). better-sqlite3 is synchronous, so SQLite's own busy
 * handler would sleep on the event loop; it is capped at SQLITE_SYNC_BUSY_WAIT_MS and longer
 * waits are asynchronous retries (see store.ts), keeping heartbeats on time.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  CompiledQuery,
  Kysely,
  MysqlDialect,
  PostgresDialect,
  SqliteDialect,
  SqliteDriver,
  sql,
  type DatabaseConnection,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';
import pg from 'pg';
import { describeError, DirectoryError } from './errors.js';
import { ER_WSREP_NOT_READY, MysqlNodes, NodeSkipTally } from './mysql-nodes.js';

export { describeError };
import type { DirectoryDatabase } from './schema.js';
import { SQLITE_MEMORY, type DirectoryTarget, type MysqlNode } from './url.js';

/** Longest time SQLite's synchronous busy handler may block the event loop per statement. */
export const SQLITE_SYNC_BUSY_WAIT_MS = 20;

export interface ConnectionSettings {
  connect_timeout_ms: number;
  operation_timeout_ms: number;
  busy_timeout_ms: number;
  pool_size: number;
  on_warning: (message: string) => void;
}

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

export function createKysely(
  target: DirectoryTarget,
  settings: ConnectionSettings,
): Kysely<DirectoryDatabase> {
  return createDirectoryDb(target, settings).db;
}

/**
 * The Kysely instance, and for MySQL/MariaDB the node pool under it (Galera checks at open). With
 * several nodes there is a second instance for write transactions: reads go to the first serving
 * node in the URL's order (the local one), writes to the first serving node in sorted order, the
 * same for every server (see `writeOrder`).
 */
export function createDirectoryDb(
  target: DirectoryTarget,
  settings: ConnectionSettings,
): {
  db: Kysely<DirectoryDatabase>;
  mysqlNodes?: MysqlNodes;
  writes?: Kysely<DirectoryDatabase>;
  writeNodes?: MysqlNodes;
} {
  if (target.backend !== 'mysql') return { db: createSqlOrPg(target, settings) };
  const tally = new NodeSkipTally();
  const mysqlNodes = new MysqlNodes(target.nodes, settings, tally);
  const db = new Kysely<DirectoryDatabase>({ dialect: new MysqlDialect({ pool: mysqlNodes }) });
  if (target.nodes.length === 1) return { db, mysqlNodes };
  const writeNodes = new MysqlNodes(writeOrder(target.nodes), settings, tally);
  const writes = new Kysely<DirectoryDatabase>({
    dialect: new MysqlDialect({ pool: writeNodes }),
  });
  return { db, mysqlNodes, writes, writeNodes };
}

/**
 * The order in which every server tries nodes for writes: sorted by address, so all servers that
 * list the same nodes write through the same one. Galera lets any node take writes, but two
 * transactions on two nodes that touch the same rows are only compared at commit, and one of them
 * is aborted (then retried); under contention on a few hot rows (one user's queue and grants) that
 * wastes most of the work. Through one node they wait for each other's row locks instead, as on a
 * single server. Correctness never depends on it: while servers disagree (a node just died), the
 * conflicts are caught at commit and retried. Measured in docs/RESULTS.md (bench:directory).
 */
export function writeOrder(nodes: readonly MysqlNode[]): MysqlNode[] {
  return [...nodes].sort((a, b) => (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

function createSqlOrPg(
  target: Exclude<DirectoryTarget, { backend: 'mysql' }>,
  settings: ConnectionSettings,
): Kysely<DirectoryDatabase> {
  switch (target.backend) {
    case 'sqlite':
      return new Kysely({
        dialect: new ImmediateSqliteDialect({ database: openSqliteFile(target.path) }),
      });
    case 'postgres':
      return new Kysely({
        dialect: new PostgresDialect({ pool: createPostgresPool(target.url, settings) }),
      });
  }
}

function openSqliteFile(path: string): Database.Database {
  try {
    if (path !== SQLITE_MEMORY) mkdirSync(dirname(path), { recursive: true });
    const database = new Database(path, { timeout: SQLITE_SYNC_BUSY_WAIT_MS });
    return database;
  } catch (err) {
    throw new DirectoryError(
      'directory_unavailable',
      `cannot open the SQLite directory file ${path}: ${describeError(err)}`,
      { cause: err },
    );
  }
}

/** Session settings for a freshly opened SQLite connection; may raise SQLITE_BUSY (retried). */
export async function configureSqlite(db: Kysely<DirectoryDatabase>, path: string): Promise<void> {
  if (path !== SQLITE_MEMORY) {
    const mode = await sql<{ journal_mode: string }>`pragma journal_mode = wal`.execute(db);
    const journalMode = mode.rows[0]?.journal_mode;
    if (journalMode !== 'wal') {
      throw new DirectoryError(
        'directory_unavailable',
        `the SQLite directory file ${path} cannot use WAL mode (got "${String(journalMode)}"); it must be on a local file system`,
      );
    }
  }
  await sql`pragma synchronous = normal`.execute(db);
  await sql`pragma foreign_keys = on`.execute(db);
}

function createPostgresPool(url: string, settings: ConnectionSettings): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: settings.pool_size,
    connectionTimeoutMillis: settings.connect_timeout_ms,
    // The server cancels what the client gave up on, and never keeps a lock for a dead client.
    statement_timeout: settings.operation_timeout_ms,
    lock_timeout: settings.operation_timeout_ms,
    idle_in_transaction_session_timeout: settings.operation_timeout_ms * 2,
    application_name: 'cloudp2p-directory',
    idleTimeoutMillis: 30_000,
    keepAlive: true,
  });
  // An idle pooled connection that dies (database restart, network cut) is emitted here; without a
  // listener Node would crash the server. The pool drops it and the next query reconnects.
  // A client in use when its connection dies (database restart) emits 'error' on itself, not on
  // the pool; without a listener that too would crash. The failing query already reports it.
  pool.on('connect', (client) => {
    client.on('error', (err) =>
      settings.on_warning(`directory: PostgreSQL connection lost: ${describeError(err)}`),
    );
  });
  pool.on('error', (err) =>
    settings.on_warning(`directory: PostgreSQL connection lost: ${describeError(err)}`),
  );
  return pool;
}

// ---- Error classification ---------------------------------------------------------------------

interface DriverError {
  code?: unknown;
  errno?: unknown;
  fatal?: unknown;
  message?: unknown;
}

function fields(err: unknown): DriverError {
  return typeof err === 'object' && err !== null ? (err as DriverError) : {};
}

const PG_TRANSIENT = new Set(['40001', '40P01', '55P03']);
const PG_UNAVAILABLE_CLASSES = ['08', '28', '53', '57', '3D'];
const MYSQL_TRANSIENT = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT']);
const MYSQL_UNAVAILABLE = new Set([
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'POOL_CLOSED',
  // Ours (mysql-nodes.ts): no node of the URL serves.
  'DIRECTORY_NO_NODE',
]);
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** Lock conflicts that a fresh attempt of the whole transaction resolves. */
export function isTransientError(err: unknown): boolean {
  const { code } = fields(err);
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('SQLITE_BUSY') ||
    code.startsWith('SQLITE_LOCKED') ||
    PG_TRANSIENT.has(code) ||
    MYSQL_TRANSIENT.has(code)
  );
}

/** The database cannot be reached or refuses us: configuration or outage, not our data. */
export function isUnavailableError(err: unknown): boolean {
  const { code, errno, fatal, message } = fields(err);
  if (fatal === true) return true;
  // Galera: "WSREP has not yet prepared node for application use" (not primary, not synced).
  if (errno === ER_WSREP_NOT_READY) return true;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || MYSQL_UNAVAILABLE.has(code)) return true;
    if (code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_FULL')
      return true;
    if (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_NOTADB') return true;
    if (/^[0-9A-Z]{5}$/.test(code) && PG_UNAVAILABLE_CLASSES.some((c) => code.startsWith(c)))
      return true;
    // 57014: statement_timeout cancelled the query.
  }
  return (
    typeof message === 'string' &&
    /connection terminated|connection timeout|timeout exceeded when trying to connect|query read timeout|cannot use a pool after calling end|client password must be/i.test(
      message,
    )
  );
}

export function isDuplicateKeyError(err: unknown): boolean {
  const { code } = fields(err);
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === '23505' ||
    code === 'ER_DUP_ENTRY'
  );
}
