/**
 * Test databases for the directory compliance suite: a fresh SQLite file, a fresh PostgreSQL
 * schema or a fresh MySQL/MariaDB database per test, so runs never see each other's rows.
 *
 * PostgreSQL and MariaDB are used when CLOUDP2P_TEST_POSTGRES_URL / CLOUDP2P_TEST_MYSQL_URL are
 * set (the user needs the right to create schemas / databases named cloudp2p_test_*); Galera when
 * CLOUDP2P_TEST_GALERA=1 (the suite starts its own cluster). Without them those suites are skipped
 * with a message, unless CLOUDP2P_REQUIRE_ALL_DATABASES=1 (CI), which turns a missing one into a
 * failure.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { createKysely, writeOrder } from '../../../src/directory/dialects.js';
import {
  startLocalGaleraCluster,
  type LocalGaleraCluster,
} from '../../../src/directory/galera/cluster.js';
import { galeraProgramsMissing } from '../../../src/directory/galera/node.js';
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
  /**
   * The same database reached through other preferred nodes (Galera: server k prefers node k);
   * stores opened by the harness take them in turn, as the servers of a cloud would.
   */
  urls?: string[];
  drop(): Promise<void>;
  /** Server-side kill of every connection to this database (as a database restart would). */
  killConnections?(): Promise<number>;
}

export interface BackendUnderTest {
  name: 'sqlite' | 'postgres' | 'mysql' | 'galera';
  /** Undefined when the backend can run; otherwise why not and how to enable it. */
  unavailable?: string;
  fresh(): Promise<FreshDatabase>;
}

/** A fresh database plus helpers to open stores on it (as separate servers would). */
export interface DirectoryHarness {
  url: string;
  clock: ManualClock;
  store: DirectoryStore;
  /** Another server's store (on Galera each one prefers another node for its reads). */
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
      const urls = database.urls ?? [database.url];
      const url = urls[opened.length % urls.length] as string;
      const store = await openDirectory(url, { clock: clock.read, ...options, ...more });
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
        // Through the node the stores write to (Galera: the agreed write node), so that its row
        // locks and its autocommit changes are the ones the stores' transactions meet.
        const target = parseDirectoryUrl(database.url);
        const rawTarget =
          target.backend === 'mysql' ? { ...target, nodes: writeOrder(target.nodes) } : target;
        const raw = createKysely(rawTarget, {
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
        killConnections: () => withMysql(base, (c) => killDatabaseConnections(c, database)),
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

const GALERA_ACCOUNT = { user: 'cloudp2p', password: 'cloudp2p-test' };

export interface GaleraBackend extends BackendUnderTest {
  /** The cluster the suite runs on, started on first use (three nodes on loopback). */
  cluster(): Promise<LocalGaleraCluster>;
  /** Stops the cluster and deletes its folders. */
  stop(): Promise<void>;
}

/**
 * A three-node MariaDB Galera cluster on loopback (free ports), started once per test file, with
 * a fresh database per test. Needs CLOUDP2P_TEST_GALERA=1 and the Debian packages galera-4,
 * mariadb-server and rsync; as root, mariadbd runs as the `mysql` user.
 */
export function galeraBackend(env = process.env): GaleraBackend {
  let started: Promise<LocalGaleraCluster> | undefined;
  const cluster = () => {
    started ??= (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-galera-'));
      chmodSync(dir, 0o755); // the mysql user must reach the nodes' folders
      return startLocalGaleraCluster({
        dir,
        size: 3,
        account: GALERA_ACCOUNT,
        cluster_name: 'cloudp2p_test',
        // Notice a killed node in about 5 s (Galera's default suspect timeout), but give a live
        // node 15 s before it is declared inactive: with 3 s / 6 s, two survivors starved of CPU
        // by the rest of the suite once evicted each other and both lost the primary component.
        provider_options: {
          'evs.suspect_timeout': 'PT5S',
          'evs.inactive_timeout': 'PT15S',
          'evs.install_timeout': 'PT15S',
        },
      });
    })();
    return started;
  };
  return {
    name: 'galera',
    unavailable: galeraUnavailable(env),
    cluster,
    stop: async () => {
      if (started) await (await started).stop({ remove: true });
    },
    fresh: async () => {
      const nodes = await cluster();
      const database = `cloudp2p_test_${randomBytes(6).toString('hex')}`;
      await withServingNode(nodes, (c) =>
        c.query(`create database ${database} character set utf8mb4 collate utf8mb4_bin`),
      );
      await databaseOnEveryNode(nodes, database);
      // Server k prefers node k, as each cloud machine's server prefers its local node.
      const rotations = nodes.nodes.map((_, k) =>
        nodes.url(database, [...nodes.nodes.slice(k), ...nodes.nodes.slice(0, k)]),
      );
      return {
        url: rotations[0] as string,
        urls: rotations,
        killConnections: async () => {
          let killed = 0;
          for (const node of nodes.nodes) {
            if (!node.running()) continue;
            killed += await node
              .withConnection((c) => killDatabaseConnections(c, database))
              .catch(() => 0);
          }
          return killed;
        },
        drop: async () => {
          await withServingNode(nodes, (c) => c.query(`drop database if exists ${database}`));
        },
      };
    },
  };
}

function galeraUnavailable(env: NodeJS.ProcessEnv): string | undefined {
  if (env.CLOUDP2P_TEST_GALERA !== '1') {
    return (
      'CLOUDP2P_TEST_GALERA is not set. To run it: install the Debian packages galera-4, ' +
      'mariadb-server and rsync, and set CLOUDP2P_TEST_GALERA=1; the suite starts its own ' +
      'three-node cluster on loopback (as root, mariadbd runs as the mysql user). .ci/run does both.'
    );
  }
  const missing = galeraProgramsMissing();
  return missing ? `CLOUDP2P_TEST_GALERA=1 but ${missing}` : undefined;
}

/**
 * Waits until every running node has applied the CREATE DATABASE (a causal read on each), so the
 * stores' first connections do not find it missing on a node that is a moment behind.
 */
async function databaseOnEveryNode(cluster: LocalGaleraCluster, database: string): Promise<void> {
  await Promise.all(
    cluster.nodes
      .filter((node) => node.running())
      .map(
        (node) =>
          node
            .withConnection(async (c) => {
              await c.query('set session wsrep_sync_wait = 1');
              await c.query(
                'select schema_name from information_schema.schemata where schema_name = ?',
                [database],
              );
            })
            .catch(() => undefined), // a node that is down or joining is skipped by the stores
      ),
  );
}

/** Runs SQL with the cluster's account on the first node that answers. */
async function withServingNode<T>(
  cluster: LocalGaleraCluster,
  body: (c: Awaited<ReturnType<typeof createConnection>>) => Promise<T>,
): Promise<T> {
  let last: unknown;
  for (const node of cluster.nodes) {
    if (!node.running()) continue;
    try {
      return await node.withConnection(body);
    } catch (err) {
      last = err;
    }
  }
  throw last ?? new Error('no Galera node is running');
}

/** Server-side kill of every other connection to `database` on one MySQL/MariaDB server. */
async function killDatabaseConnections(
  c: Awaited<ReturnType<typeof createConnection>>,
  database: string,
): Promise<number> {
  const [rows] = await c.query(
    'select id from information_schema.processlist where db = ? and id <> connection_id()',
    [database],
  );
  const ids = (rows as { id: number }[]).map((row) => row.id);
  for (const id of ids) await c.query(`kill connection ${Number(id)}`);
  return ids.length;
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
