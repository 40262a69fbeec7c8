/**
 * `npm run bench:directory`: directory operations per second and p99 latency on SQLite vs
 * PostgreSQL vs one MariaDB vs a three-node MariaDB Galera cluster, the same workload in one run,
 * side by side.
 *
 * Each backend gets a fresh database (SQLite file in tmp; PostgreSQL schema / MySQL database
 * from CLOUDP2P_TEST_POSTGRES_URL / CLOUDP2P_TEST_MYSQL_URL; Galera: with CLOUDP2P_TEST_GALERA=1
 * the bench starts three nodes on loopback, as the test suite does — a backend that cannot run
 * is skipped with a message). One process, one DirectoryStore per backend, as one server would
 * use it; operations are issued by BENCH_CONCURRENCY workers at once (default "1,8": one
 * sequential client, then 8 concurrent requests in flight). Workload, in order:
 *   register        registerUser
 *   heartbeat       heartbeat of an online user
 *   list online     listOnlineUsers, first page of 100
 *   create request  createRequest (each user asks three others for an image)
 *   grant update    setGrant with a new quota (bumps version, queues a coalesced update)
 *   take updates    takeUpdates + ackUpdates of everything queued for one user
 * Sizes scale with BENCH_SCALE (default 1: 200 users, 2000 heartbeats, 300 lists, 600
 * requests, 2000 grant updates, 200 takes).
 *
 * Galera also gets a contention round: three servers (one store preferring each node) change
 * the grants of the same 10 owners at once, with the writes routed through one node (what the
 * store does) and, for comparison, each server writing through its own node (single-node URLs).
 */
import os from 'node:os';
import { sql } from 'kysely';
import { openDirectory } from '../src/directory/index.js';
import type { DirectoryStore, UserRecord } from '../src/directory/index.js';
import { quantileSorted } from '../src/util/stats.js';
import {
  galeraBackend,
  mysqlBackend,
  postgresBackend,
  sqliteBackend,
  type BackendUnderTest,
  type GaleraBackend,
} from '../test/integration/directory/harness.js';

const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8').split(',').map(Number);
const USERS = Math.round(200 * SCALE);
const HEARTBEATS = Math.round(2000 * SCALE);
const LISTS = Math.round(300 * SCALE);
const GRANT_UPDATES = Math.round(2000 * SCALE);

const OPERATIONS = [
  'register',
  'heartbeat',
  'list online',
  'create request',
  'grant update',
  'take updates',
] as const;
type Operation = (typeof OPERATIONS)[number];
interface Measured {
  per_second: number;
  p99_ms: number;
}
type Rates = Record<Operation, Measured>;

/** Runs `count` operations with `concurrency` in flight; returns their rate and p99 latency. */
async function measure(
  count: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<Measured> {
  let next = 0;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    per_second: count / ((performance.now() - started) / 1000),
    p99_ms: quantileSorted(latencies, 0.99),
  };
}

async function workload(store: DirectoryStore, concurrency: number): Promise<Rates> {
  const users: UserRecord[] = new Array<UserRecord>(USERS);
  const rates = {} as Rates;
  rates['register'] = await measure(USERS, concurrency, async (i) => {
    users[i] = await store.registerUser({
      username: `user${i}`,
      public_key: new Uint8Array(32).fill(i % 256),
    });
  });
  for (const [i, user] of users.entries()) {
    await store.goOnline(user.user_id, {
      user_id: user.user_id,
      address: '127.0.0.1',
      port: 10_000 + i,
    });
    await store.offerImage(user.user_id, {
      owner_id: user.user_id,
      image_id: 'photo',
      title: `photo of user ${i}`,
      preview: { width: 800, height: 600, media_type: 'image/png', size_bytes: 500_000 },
    });
  }
  const user = (i: number) => users[i % USERS] as UserRecord;
  rates['heartbeat'] = await measure(HEARTBEATS, concurrency, (i) =>
    store.heartbeat(user(i).user_id, user(i).user_id),
  );
  rates['list online'] = await measure(LISTS, concurrency, () =>
    store.listOnlineUsers({ limit: 100 }),
  );
  rates['create request'] = await measure(USERS * 3, concurrency, (i) => {
    const requester = user(i);
    const owner = user(i + 1 + Math.floor(i / USERS));
    return store.createRequest(requester.user_id, {
      requester_id: requester.user_id,
      owner_id: owner.user_id,
      image_id: 'photo',
      views: 3,
    });
  });
  rates['grant update'] = await measure(GRANT_UPDATES, concurrency, (i) => {
    const owner = user(i);
    return store.setGrant(owner.user_id, {
      owner_id: owner.user_id,
      image_id: 'photo',
      viewer_id: user(i + 1).user_id,
      quota: 1 + Math.floor(i / USERS),
    });
  });
  rates['take updates'] = await measure(USERS, concurrency, async (i) => {
    const me = user(i);
    const updates = await store.takeUpdates(me.user_id, me.user_id, { limit: 100 });
    await store.ackUpdates(
      me.user_id,
      me.user_id,
      updates.map((u) => u.update_id),
    );
  });
  return rates;
}

async function serverVersion(store: DirectoryStore, url: string): Promise<string> {
  if (store.backend === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(':memory:');
    const row = db.prepare('select sqlite_version() as v').get() as { v: string };
    db.close();
    return `SQLite ${row.v}`;
  }
  const { createKysely } = await import('../src/directory/dialects.js');
  const { parseDirectoryUrl } = await import('../src/directory/url.js');
  const raw = createKysely(parseDirectoryUrl(url), {
    connect_timeout_ms: 5000,
    operation_timeout_ms: 5000,
    busy_timeout_ms: 0,
    pool_size: 1,
    on_warning: () => undefined,
  });
  try {
    const result = await sql<{ v: string }>`select version() as v`.execute(raw);
    return String(result.rows[0]?.v ?? '?').split(' on ')[0] ?? '?';
  } finally {
    await raw.destroy();
  }
}

/**
 * Three servers (one store preferring each node) change grants of the same few owners at once:
 * the grant changes per second, and how many failed after their retry budget.
 */
async function contention(
  urls: readonly string[],
): Promise<{ per_second: number; p99_ms: number; failed: number }> {
  // One after the other: the first open migrates the fresh database. (Opened at once through
  // three different nodes, the migrations would race: Kysely's GET_LOCK holds on one node only,
  // which is why servers must list the same nodes, docs/DIRECTORY.md.)
  const stores: DirectoryStore[] = [];
  for (const url of urls) stores.push(await openDirectory(url, { pool_size: 10 }));
  try {
    const owners: UserRecord[] = [];
    for (let i = 0; i < 11; i++) {
      owners.push(
        await (stores[0] as DirectoryStore).registerUser({
          username: `hot${i}`,
          public_key: new Uint8Array(32).fill(i),
        }),
      );
    }
    const count = Math.round(600 * SCALE);
    let failed = 0;
    const measured = await measure(count, 24, async (i) => {
      const owner = owners[i % 10] as UserRecord;
      const viewer = owners[10] as UserRecord;
      await (stores[i % stores.length] as DirectoryStore)
        .setGrant(owner.user_id, {
          owner_id: owner.user_id,
          image_id: `img-${i % 7}`,
          viewer_id: viewer.user_id,
          quota: 1 + i,
        })
        .catch(() => failed++);
    });
    return { ...measured, failed };
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
}

async function galeraContention(galera: GaleraBackend): Promise<void> {
  const cluster = await galera.cluster();
  console.log('\nGalera contention: 3 servers, 24 grant changes in flight on 10 owners');
  const rows = [['writes', 'grant changes/s', 'p99 ms', 'failed']];
  for (const [label, urlsOf] of [
    [
      'through one node (the store)',
      (db: string) =>
        cluster.nodes.map((_, k) =>
          cluster.url(db, [...cluster.nodes.slice(k), ...cluster.nodes.slice(0, k)]),
        ),
    ],
    [
      'each server through its own node',
      (db: string) => cluster.nodes.map((node) => cluster.url(db, [node])),
    ],
  ] as const) {
    const database = await galera.fresh();
    const db = database.url.slice(database.url.lastIndexOf('/') + 1);
    try {
      const result = await contention(urlsOf(db));
      rows.push([
        label,
        result.per_second.toFixed(0),
        result.p99_ms.toFixed(1),
        String(result.failed),
      ]);
    } finally {
      await database.drop();
    }
  }
  printTable(rows);
}

async function main(): Promise<void> {
  const galera = galeraBackend();
  const backends: BackendUnderTest[] = [sqliteBackend(), postgresBackend(), mysqlBackend(), galera];
  console.log(
    `bench:directory — node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}; ` +
      `scale ${SCALE}; databases on this machine (loopback)`,
  );
  const results = new Map<string, Map<number, Rates>>();
  for (const backend of backends) {
    if (backend.unavailable) {
      console.log(`skipping ${backend.name}: ${backend.unavailable}`);
      continue;
    }
    const perConcurrency = new Map<number, Rates>();
    for (const concurrency of CONCURRENCY) {
      const database = await backend.fresh();
      // Presence lasts an hour: on a loaded machine a phase can outlast the default 15 s TTL, and
      // heartbeats of expired users would fail (presence expiry is not what this measures).
      const store = await openDirectory(database.url, {
        pool_size: 10,
        limits: { presence_ttl_ms: 60 * 60 * 1000 },
      });
      try {
        if (perConcurrency.size === 0)
          console.log(`${backend.name}: ${await serverVersion(store, database.url)}`);
        perConcurrency.set(concurrency, await workload(store, concurrency));
      } finally {
        await store.close();
        await database.drop();
      }
    }
    results.set(backend.name, perConcurrency);
  }
  const names = [...results.keys()];
  for (const concurrency of CONCURRENCY) {
    const get = (name: string, op: Operation) => results.get(name)?.get(concurrency)?.[op];
    console.log(`\noperations per second, ${concurrency} in flight`);
    const header = ['operation', ...names, ...names.slice(1).map((n) => `${n}/sqlite`)];
    const rows = OPERATIONS.map((op) => {
      const rate = (name: string) => get(name, op)?.per_second ?? Number.NaN;
      const base = rate('sqlite');
      return [
        op,
        ...names.map((n) => rate(n).toFixed(0)),
        ...names.slice(1).map((n) => (rate(n) / base).toFixed(2)),
      ];
    });
    printTable([header, ...rows]);
    console.log(`\np99 latency in ms, ${concurrency} in flight`);
    printTable([
      ['operation', ...names],
      ...OPERATIONS.map((op) => [
        op,
        ...names.map((n) => (get(n, op)?.p99_ms ?? Number.NaN).toFixed(1)),
      ]),
    ]);
  }
  if (!galera.unavailable) {
    try {
      await galeraContention(galera);
    } finally {
      await galera.stop();
    }
  }
}

function printTable(rows: string[][]): void {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  const line = (r: string[]) =>
    `| ${r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  console.log(line(rows[0] ?? []));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of rows.slice(1)) console.log(line(r));
}

await main();
