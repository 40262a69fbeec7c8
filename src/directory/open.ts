/**
 * `openDirectory(url, options)`: picks the backend from the URL, connects within a timeout,
 * applies the schema migrations (safely when several servers open the same database at once)
 * and returns a ready DirectoryStore.
 */
import { Migrator, sql, type Kysely } from 'kysely';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../util/log.js';
import {
  configureSqlite,
  createDirectoryDb,
  describeError,
  isTransientError,
  isUnavailableError,
  type ConnectionSettings,
} from './dialects.js';
import { DirectoryError, invalidArgument } from './errors.js';
import { DEFAULT_LIMITS, LIMIT_RANGES, type DirectoryLimits } from './limits.js';
import { LATEST_MIGRATION, migrationProvider } from './migrations.js';
import type { MysqlNodes } from './mysql-nodes.js';
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, type DirectoryDatabase } from './schema.js';
import { SqlDirectoryStore } from './sql-store.js';
import type { DirectoryStore } from './store.js';
import { parseDirectoryUrl, type DirectoryTarget } from './url.js';

export interface OpenDirectoryOptions {
  /** Folder that relative `sqlite:` paths are resolved against (the config file's); default cwd. */
  base_dir?: string;
  /** Milliseconds since the epoch; tests inject a manual clock. Default `Date.now`. */
  clock?: () => number;
  /** Policy limits to change (see limits.ts for defaults and allowed ranges). */
  limits?: Partial<DirectoryLimits>;
  /** Reaching the database at open, 100–300000; default 10000. */
  connect_timeout_ms?: number;
  /** Any one store call, 100–600000; default 15000. */
  operation_timeout_ms?: number;
  /** How long a write keeps retrying while other writers hold locks, 0–600000; default 5000. */
  busy_timeout_ms?: number;
  /** Waiting for and applying migrations at open, 1000–3600000; default 60000. */
  migration_timeout_ms?: number;
  /** Connections per process (PostgreSQL, MySQL), 1–100; default 10. */
  pool_size?: number;
  /** Non-fatal trouble, e.g. a pooled connection dropped by a database restart. */
  on_warning?: (message: string) => void;
}

export async function openDirectory(
  url: string,
  options: OpenDirectoryOptions = {},
): Promise<DirectoryStore> {
  const target = parseDirectoryUrl(url, options.base_dir);
  const settings = connectionSettings(options);
  const limits = resolveLimits(options.limits);
  const migration_timeout_ms = numberOption(
    options.migration_timeout_ms,
    'migration_timeout_ms',
    60_000,
    1000,
    3_600_000,
  );
  const clock = options.clock ?? Date.now;
  if (typeof clock !== 'function')
    throw invalidArgument('clock must be a function returning milliseconds');

  const { db, mysqlNodes, writes, writeNodes } = createDirectoryDb(target, settings);
  try {
    if (mysqlNodes) {
      await withDeadline(
        checkNodes(mysqlNodes, target),
        settings.connect_timeout_ms,
        () =>
          `cannot reach the directory database ${target.description} within ${settings.connect_timeout_ms} ms`,
      );
    }
    await withDeadline(
      connectProbe(db, target, settings),
      settings.connect_timeout_ms,
      () =>
        `cannot reach the directory database ${target.description} within ${settings.connect_timeout_ms} ms`,
    );
    await withDeadline(
      // Kysely's MySQL migration lock (GET_LOCK) holds on one node only: migrating through the
      // write node, the same for every server, makes concurrent opens exclude each other.
      migrate(writes ?? db, target, {
        busy_timeout_ms: settings.busy_timeout_ms,
        galera: mysqlNodes?.galera ?? false,
        // Its own error (naming the statement) comes before the overall deadline's.
        race_budget_ms: migration_timeout_ms / 2,
      }),
      migration_timeout_ms,
      () =>
        `applying the directory schema to ${target.description} took over ${migration_timeout_ms} ms (another server may hold the migration lock)`,
    );
  } catch (err) {
    // Do not wait for a pool that may be stuck connecting; just let it go.
    void db.destroy().catch(() => undefined);
    void writes?.destroy().catch(() => undefined);
    throw err;
  }
  return new SqlDirectoryStore({
    db,
    ...(writes ? { write_db: writes } : {}),
    backend: target.backend,
    description: target.description,
    clock,
    limits,
    operation_timeout_ms: settings.operation_timeout_ms,
    busy_timeout_ms: settings.busy_timeout_ms,
    galera: mysqlNodes?.galera ?? false,
    ...(mysqlNodes ? { node_pools: writeNodes ? [mysqlNodes, writeNodes] : [mysqlNodes] } : {}),
  });
}

/**
 * Before serving from a MySQL/MariaDB URL: a node of another Galera cluster, or a plain server in
 * a multi-node URL, is a configuration error; no serving node at all is an outage (the message
 * says each node's problem and, when the majority is lost, the recovery command).
 */
async function checkNodes(nodes: MysqlNodes, target: DirectoryTarget): Promise<void> {
  const reports = await nodes.survey();
  const misconfigured = reports.filter(
    (r) => r.kind === 'foreign_cluster' || r.kind === 'not_galera',
  );
  if (misconfigured.length > 0) {
    throw new DirectoryError(
      'directory_bad_url',
      `directory url ${target.description}: ${misconfigured.map((r) => `node ${r.label}: ${r.problem}`).join('; ')}`,
    );
  }
  if (reports.every((r) => r.problem !== undefined)) {
    const err = nodes.noServingNode();
    throw new DirectoryError(
      'directory_unavailable',
      `cannot open the directory database ${target.description}: ${err.message}`,
      { cause: err },
    );
  }
}

async function connectProbe(
  db: Kysely<DirectoryDatabase>,
  target: DirectoryTarget,
  settings: ConnectionSettings,
): Promise<void> {
  try {
    await retryBusy(settings.busy_timeout_ms, async () => {
      await sql`select 1 as ok`.execute(db);
      if (target.backend === 'sqlite') await configureSqlite(db, target.path);
    });
  } catch (err) {
    if (err instanceof DirectoryError) throw err;
    const reason =
      isUnavailableError(err) || isTransientError(err)
        ? describeError(err)
        : `unexpected answer: ${describeError(err)}`;
    throw new DirectoryError(
      'directory_unavailable',
      `cannot open the directory database ${target.description}: ${reason}`,
      {
        cause: err,
      },
    );
  }
}

async function migrate(
  db: Kysely<DirectoryDatabase>,
  target: DirectoryTarget,
  options: { busy_timeout_ms: number; galera: boolean; race_budget_ms: number },
): Promise<void> {
  const { busy_timeout_ms } = options;
  const provider = migrationProvider(target.backend);
  const names = {
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  };
  let outcome: Awaited<ReturnType<Migrator['migrateToLatest']>>;
  if (target.backend === 'sqlite') {
    // Kysely's SQLite adapter has no cross-process migration lock. Hold SQLite's write lock for
    // the whole migration instead: the first server to get it migrates, the others then find
    // the work done. The lock is taken with asynchronous retries, never a long synchronous wait.
    outcome = await db.connection().execute(async (connection) => {
      await retryBusy(busy_timeout_ms, () => sql`begin immediate`.execute(connection));
      try {
        const migrator = new Migrator({
          db: connection,
          provider,
          ...names,
          disableTransactions: true,
        });
        const result = await migrator.migrateToLatest();
        await sql.raw(result.error === undefined ? 'commit' : 'rollback').execute(connection);
        return result;
      } catch (err) {
        await sql`rollback`.execute(connection).catch(() => undefined);
        throw err;
      }
    });
  } else {
    // PostgreSQL: advisory lock + one transaction. MySQL: GET_LOCK (its DDL is not transactional).
    const schema = target.backend === 'postgres' ? await currentSchema(db, target) : undefined;
    const migrator = new Migrator({
      db,
      provider,
      ...names,
      ...(schema ? { migrationTableSchema: schema } : {}),
    });
    outcome = options.galera
      ? await migrateAlongsideOtherNodes(migrator, options.race_budget_ms)
      : await migrator.migrateToLatest();
  }
  if (outcome.error !== undefined) throw migrationError(outcome.error, target);
}

/**
 * What a migration step gets when another server ran the same step through another Galera node
 * a moment before: a table, column or index that already exists (or is already gone), a
 * duplicate row in the migration tables, or a certification conflict (deadlock); or a lock
 * wait that ran out while the cluster stalled. Each is tried again within the budget.
 */
const ALREADY_MIGRATED_ERRNOS: ReadonlySet<number> = new Set([
  1050, // ER_TABLE_EXISTS_ERROR
  1051, // ER_BAD_TABLE_ERROR (dropped already)
  1060, // ER_DUP_FIELDNAME
  1061, // ER_DUP_KEYNAME
  1062, // ER_DUP_ENTRY (the migration or lock table's row)
  1068, // ER_MULTIPLE_PRI_KEY
  1091, // ER_CANT_DROP_FIELD_OR_KEY
  1213, // ER_LOCK_DEADLOCK (Galera certification conflict)
  // A cluster stalled by a node that just died (writes and DDL wait until it is evicted), or a
  // joining node applying its state transfer, can hold the migration lock row past the lock
  // wait timeout; the next try finds the stall over (seen in the compliance suite under load).
  1205, // ER_LOCK_WAIT_TIMEOUT
]);

/**
 * Galera: Kysely's migration lock (GET_LOCK) holds on one node only, so servers opening a fresh
 * database through different nodes run the same migrations at once. DDL replicates in total
 * order (TOI): each statement runs once cluster-wide, the first server's wins and the others'
 * copy fails before changing anything (a migration's statements run in the same order
 * everywhere, so a loser stops at its first one). The loser waits and reads the migration table
 * again until the winner has recorded the step, for up to `budget_ms`; after that the last error
 * stands (a server that died in the middle of a migration leaves it half applied: see
 * docs/DEPLOY.md, recovery).
 */
async function migrateAlongsideOtherNodes(
  migrator: Migrator,
  budget_ms: number,
): Promise<Awaited<ReturnType<Migrator['migrateToLatest']>>> {
  const started = performance.now();
  for (let tries = 1; ; tries++) {
    const outcome = await migrator.migrateToLatest().catch((error: unknown) => ({ error }));
    const { errno } = (outcome.error ?? {}) as { errno?: unknown };
    if (
      outcome.error === undefined ||
      typeof errno !== 'number' ||
      !ALREADY_MIGRATED_ERRNOS.has(errno) ||
      performance.now() - started >= budget_ms
    )
      return outcome;
    await sleep(Math.min(50 * 2 ** tries, 1000) * (0.5 + Math.random()));
  }
}

/** Kysely must look for its migration table in the schema we will use, not in any schema. */
async function currentSchema(
  db: Kysely<DirectoryDatabase>,
  target: DirectoryTarget,
): Promise<string> {
  const result = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(
    db,
  );
  const schema = result.rows[0]?.schema;
  if (typeof schema !== 'string' || schema === '') {
    throw new DirectoryError(
      'directory_migration_failed',
      `${target.description}: the search_path names no existing schema; create it or fix the options parameter`,
    );
  }
  return schema;
}

function migrationError(error: unknown, target: DirectoryTarget): DirectoryError {
  if (error instanceof DirectoryError) return error;
  const message = describeError(error);
  if (/corrupted migrations/.test(message)) {
    return new DirectoryError(
      'directory_migration_failed',
      `the directory database ${target.description} has a schema this build does not know (its newest is ${LATEST_MIGRATION}): it was written by a newer cloudp2p; upgrade this server (${message})`,
      { cause: error },
    );
  }
  if (isUnavailableError(error)) {
    return new DirectoryError(
      'directory_unavailable',
      `cannot migrate the directory database ${target.description}: ${message}`,
      {
        cause: error,
      },
    );
  }
  return new DirectoryError(
    'directory_migration_failed',
    `cannot migrate the directory database ${target.description}: ${message}`,
    {
      cause: error,
    },
  );
}

async function retryBusy<T>(budget_ms: number, attempt: () => Promise<T>): Promise<T> {
  const started = performance.now();
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (!isTransientError(err) || performance.now() - started >= budget_ms) throw err;
      await sleep(Math.min(2 ** tries, 100) * (0.5 + Math.random()));
    }
  }
}

function withDeadline<T>(work: Promise<T>, timeout_ms: number, message: () => string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new DirectoryError('directory_unavailable', message())),
      timeout_ms,
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

function connectionSettings(options: OpenDirectoryOptions): ConnectionSettings {
  if (typeof options !== 'object' || options === null)
    throw invalidArgument('directory options must be an object');
  const log = createLogger('directory');
  return {
    connect_timeout_ms: numberOption(
      options.connect_timeout_ms,
      'connect_timeout_ms',
      10_000,
      100,
      300_000,
    ),
    operation_timeout_ms: numberOption(
      options.operation_timeout_ms,
      'operation_timeout_ms',
      15_000,
      100,
      600_000,
    ),
    busy_timeout_ms: numberOption(options.busy_timeout_ms, 'busy_timeout_ms', 5000, 0, 600_000),
    pool_size: numberOption(options.pool_size, 'pool_size', 10, 1, 100),
    on_warning: options.on_warning ?? ((message) => log.warn(message)),
  };
}

function resolveLimits(overrides: Partial<DirectoryLimits> | undefined): DirectoryLimits {
  const limits: DirectoryLimits = { ...DEFAULT_LIMITS };
  if (overrides === undefined) return limits;
  if (typeof overrides !== 'object' || overrides === null)
    throw invalidArgument('limits must be an object');
  for (const [name, value] of Object.entries(overrides)) {
    if (!Object.hasOwn(LIMIT_RANGES, name)) {
      throw invalidArgument(
        `unknown directory limit "${name}"; known: ${Object.keys(LIMIT_RANGES).join(', ')}`,
      );
    }
    const key = name as keyof DirectoryLimits;
    const [min, max] = LIMIT_RANGES[key];
    limits[key] = numberOption(value, `limits.${name}`, limits[key], min, max);
  }
  return limits;
}

function numberOption(
  value: unknown,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(
      `directory option ${name} must be an integer from ${min} to ${max}; got ${String(value)}`,
    );
  }
  return value;
}
