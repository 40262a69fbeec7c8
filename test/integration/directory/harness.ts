/**
 * Test databases for the directory compliance suite: a fresh SQLite file, a fresh PostgreSQL
 * schema or a fresh MySQL/MariaDB database per test, so runs never see each other's rows.
 *
 * PostgreSQL and MariaDB are used when CLOUDP2P_TEST_POSTGRES_URL / CLOUDP2P_TEST_MYSQL_URL are
 * set (the user needs the right to create schemas / databases named cloudp2p_test_*). Without
 * them those suites are skipped with a message, unless CLOUDP2P_REQUIRE_ALL_DATABASES=1 (CI),
 * which turns a missing URL into a failure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { createKysely } from '../../../src/directory/dialects.js';
import { openDirectory, type OpenDirectoryOptions } from '../../../src/directory/open.js';
import type { DirectoryDatabase } from '../../../src/directory/schema.js';
import type { DirectoryStore } from '../../../src/directory/store.js';
import { parseDirectoryUrl, redactUrl } from '../../../src/directory/url.js';

export class ManualClock {
  constructor(public now_ms = 1_700_000_000_000) {}
  readonly read = (): number => this.now_ms;
  advance(ms: number): void {
    this.now_ms += ms;
  }
}

/** One fresh, empty database. */
export interface FreshDatabase {
  url: string;
  drop(): Promise<void>;
  /** Server-side kill of every connection to this database (as a database restart would). */
  killConnections?(): Promise<number>;
}

export interface BackendUnderTest {
  name: 'sqlite' | 'postgres' | 'mysql';
  /** Undefined when the backend can run; otherwise why not and how to enable it. */
  unavailable?: string;
  fresh(): Promise<FreshDatabase>;
}

/** A fresh database plus helpers to open stores on it (as separate servers would). */
export interface DirectoryHarness {
  url: string;
  clock: ManualClock;
  store: DirectoryStore;
  open(options?: OpenDirectoryOptions): Promise<DirectoryStore>;
  /** Kills every connection to the database from the server side; undefined for SQLite. */
  killConnections?: () => Promise<number>;
  /** Direct access to the tables, for corrupting rows on purpose. */
  raw(): Kysely<DirectoryDatabase>;
  dispose(): Promise<void>;
}

export type HarnessFactory = (options?: OpenDirectoryOptions) => Promise<DirectoryHarness>;

export function harnessFactory(backend: BackendUnderTest): HarnessFactory {
  return async (options = {}) => {
    const database = await backend.fresh();
    const clock = new ManualClock();
    const opened: DirectoryStore[] = [];
    const raws: Kysely<DirectoryDatabase>[] = [];
    const open = async (more: OpenDirectoryOptions = {}) => {
      const store = await openDirectory(database.url, { clock: clock.read, ...options, ...more });
      opened.push(store);
      return store;
    };
    const store = await open();
    return {
      url: database.url,
      clock,
      store,
      open,
      ...(database.killConnections ? { killConnections: database.killConnections } : {}),
      raw: () => {
        const raw = createKysely(parseDirectoryUrl(database.url), {
          connect_timeout_ms: 5000,
          operation_timeout_ms: 5000,
          busy_timeout_ms: 5000,
          pool_size: 1,
          on_warning: () => undefined,
        });
        raws.push(raw);
        return raw;
      },
      dispose: async () => {
        await Promise.all(opened.map((s) => s.close()));
        await Promise.all(raws.map((r) => r.destroy()));
        await database.drop();
      },
    };
  };
}

function howToRun(variable: string, example: string): string {
  return (
    `${variable} is not set. To run it: start the database, create a user allowed to create ` +
    `cloudp2p_test_* schemas/databases, and set ${variable}=${example} (.ci/run shows the setup).`
  );
}

export function sqliteBackend(): BackendUnderTest {
  return {
    name: 'sqlite',
    fresh: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-dir-'));
      return {
        url: `sqlite:${join(dir, 'directory.db')}`,
        drop: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
}

export function postgresBackend(env = process.env): BackendUnderTest {
  const base = env.CLOUDP2P_TEST_POSTGRES_URL;
  return {
    name: 'postgres',
    unavailable: base
      ? undefined
      : howToRun(
          'CLOUDP2P_TEST_POSTGRES_URL',
          'postgres://cloudp2p:cloudp2p@127.0.0.1:5432/cloudp2p_test',
        ),
    fresh: async () => {
      if (!base) throw new Error('CLOUDP2P_TEST_POSTGRES_URL is not set');
      const schema = `cloudp2p_test_${randomBytes(6).toString('hex')}`;
      await withPgClient(base, (client) => client.query(`create schema ${schema}`));
      const url = new URL(base);
      url.searchParams.set('options', `-c search_path=${schema}`);
      // Names this test's connections, so killConnections hits only them.
      url.searchParams.set('application_name', schema);
      return {
        url: url.toString(),
        killConnections: () =>
          withPgClient(base, async (client) => {
            const result = await client.query<{ n: string }>(
              'select count(pg_terminate_backend(pid)) as n from pg_stat_activity where application_name = $1',
              [schema],
            );
            return Number(result.rows[0]?.n ?? 0);
          }),
        drop: async () => {
          await withPgClient(base, (client) =>
            client.query(`drop schema if exists ${schema} cascade`),
          );
        },
      };
    },
  };
}

export function mysqlBackend(env = process.env): BackendUnderTest {
  const base = env.CLOUDP2P_TEST_MYSQL_URL;
  return {
    name: 'mysql',
    unavailable: base
      ? undefined
      : howToRun(
          'CLOUDP2P_TEST_MYSQL_URL',
          'mysql://cloudp2p:cloudp2p@127.0.0.1:3306/cloudp2p_test',
        ),
    fresh: async () => {
      if (!base) throw new Error('CLOUDP2P_TEST_MYSQL_URL is not set');
      const database = `cloudp2p_test_${randomBytes(6).toString('hex')}`;
      await withMysql(base, (c) =>
        c.query(`create database ${database} character set utf8mb4 collate utf8mb4_bin`),
      );
      const url = new URL(base);
      url.pathname = `/${database}`;
      return {
        url: url.toString(),
        killConnections: () =>
          withMysql(base, async (c) => {
            const [rows] = await c.query(
              'select id from information_schema.processlist where db = ? and id <> connection_id()',
              [database],
            );
            const ids = (rows as { id: number }[]).map((row) => row.id);
            for (const id of ids) await c.query(`kill connection ${Number(id)}`);
            return ids.length;
          }),
        drop: async () => {
          await withMysql(base, (c) => c.query(`drop database if exists ${database}`));
        },
      };
    },
  };
}

async function withPgClient<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}

async function withMysql<T>(
  url: string,
  body: (c: Awaited<ReturnType<typeof createConnection>>) => Promise<T>,
): Promise<T> {
  const connection = await createConnection({ uri: url, connectTimeout: 5000 });
  try {
    return await body(connection);
  } finally {
    await connection.end();
  }
}

/** What to do when a backend cannot run: skip with a message, or fail in CI. */
export function unavailableBackendPolicy(
  backend: BackendUnderTest,
  env = process.env,
): 'run' | 'skip' | 'fail' {
  if (backend.unavailable === undefined) return 'run';
  return env.CLOUDP2P_REQUIRE_ALL_DATABASES === '1' ? 'fail' : 'skip';
}

export { redactUrl };
