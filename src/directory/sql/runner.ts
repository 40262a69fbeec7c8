/**
 * Runs every store call: the clock, the per-call deadline, transactions, retries of lock
 * conflicts and of dropped connections, row locks on users, and the mapping of driver errors to
 * DirectoryError codes. The operations (users.ts, catalog.ts, sharing.ts, updates.ts) only say
 * what to read or write; this file decides how and how often.
 *
 * Concurrency: every write is one transaction. Writes that check a per-user limit or a state
 * transition first lock the rows of the users involved (SELECT … FOR UPDATE, in sorted id order
 * so two transactions never wait on each other in a cycle); on SQLite, BEGIN IMMEDIATE already
 * serialises writers. On MariaDB Galera row locks hold on one node only, so there the lock also
 * writes the user row (bumps `lock_seq`): two transactions through two nodes that lock the same
 * user conflict at commit, and Galera aborts one with a deadlock error. Lock conflicts the database
 * resolves by aborting one side (SQLite busy, deadlock, Galera certification failure, serialization
 * failure) are retried, the whole transaction, with jittered backoff for up to `busy_timeout_ms`.
 * Each call is bounded by `operation_timeout_ms`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { describeError, isTransientError, isUnavailableError } from '../dialects.js';
import { DirectoryError } from '../errors.js';
import type { DirectoryLimits } from '../limits.js';
import { decodeRow, UsernameRow } from '../rows.js';
import type { MysqlNodes } from '../mysql-nodes.js';
import type { DirectoryBackend, DirectoryStats, UserId } from '../store.js';
import type { Db, LockedUsers } from './queries.js';

export interface StoreContext {
  db: Db;
  /** Write transactions go here when set (several Galera nodes: the agreed write node). */
  write_db?: Db;
  backend: DirectoryBackend;
  description: string;
  clock: () => number;
  limits: DirectoryLimits;
  operation_timeout_ms: number;
  busy_timeout_ms: number;
  /** The database is a MariaDB Galera node: row locks must also write the row (see above). */
  galera: boolean;
  /** MySQL/MariaDB: the node pools under db (first) and write_db, for stats(). */
  node_pools?: readonly MysqlNodes[];
}

const RECONNECT_RETRIES = 2;
const BACKOFF_CAP_MS = 20;
const GALERA_BACKOFF_CAP_MS = 200;

export class SqlRunner {
  readonly backend: DirectoryBackend;
  readonly description: string;
  readonly limits: DirectoryLimits;
  private readonly db: Db;
  private closed = false;
  private readonly retries = { lock_conflict: 0, node_unavailable: 0 };

  constructor(private readonly ctx: StoreContext) {
    this.backend = ctx.backend;
    this.description = ctx.description;
    this.db = ctx.db;
    this.limits = ctx.limits;
  }

  now(): number {
    const now = this.ctx.clock();
    if (!Number.isSafeInteger(now) || now < 0) {
      throw new DirectoryError(
        'directory_failure',
        `the directory clock returned ${String(now)}, not a time in ms`,
      );
    }
    return now;
  }

  stats(): DirectoryStats {
    const pools = this.ctx.node_pools ?? [];
    const reports = pools.map((pool) => pool.reports());
    return {
      retries: { ...this.retries },
      node_skips: pools[0]?.tally.skips ?? 0,
      // A node serves when no pool has skipped it; the problem is the first one a pool saw.
      nodes: (reports[0] ?? []).map(({ label }) => {
        const problem = reports
          .map((list) => list.find((r) => r.label === label)?.problem)
          .find((p) => p !== undefined);
        return { label, serving: problem === undefined, problem };
      }),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.db.destroy(), this.ctx.write_db?.destroy()]);
  }

  /**
   * After a database restart (or with a Galera node gone) the pool may still hold dead
   * connections. A call that fails on one is retried (twice; the pool moves on to another node)
   * when that is safe: reads always, writes when COMMIT was never sent — a transaction the server
   * did not get a COMMIT for is rolled back. A connection lost during COMMIT leaves the outcome
   * unknown: the caller is told so.
   */
  read<T>(operation: string, body: (db: Db) => Promise<T>): Promise<T> {
    return this.run(operation, () => body(this.db), { idempotent: true });
  }

  write<T>(operation: string, body: (trx: Db) => Promise<T>): Promise<T> {
    return this.run(
      operation,
      async () => {
        let committing = false;
        try {
          return await (this.ctx.write_db ?? this.db).transaction().execute(async (trx) => {
            const result = await body(trx);
            committing = true;
            return result;
          });
        } catch (err) {
          throw committing ? err : new NotCommitted(err);
        }
      },
      { idempotent: false },
    );
  }

  /** Locks the users' rows in sorted order (no lock cycles); returns those that exist. */
  async lockUsers(trx: Db, ids: readonly UserId[]): Promise<LockedUsers> {
    const found: LockedUsers = new Map();
    for (const id of [...new Set(ids)].sort()) {
      if (this.ctx.galera) {
        // Takes the row lock like FOR UPDATE, and makes the lock part of the write set.
        await trx
          .updateTable('dir_users')
          .set({ lock_seq: sql<number>`lock_seq + 1` })
          .where('user_id', '=', id)
          .execute();
      }
      const row = await trx
        .selectFrom('dir_users')
        .select(['user_id', 'username'])
        .where('user_id', '=', id)
        // SQLite has no row locks; BEGIN IMMEDIATE holds the database's write lock instead.
        .$if(this.backend !== 'sqlite', (qb) => qb.forUpdate())
        .executeTakeFirst();
      if (row) {
        found.set(id, decodeRow(UsernameRow, row, `dir_users row ${id}`).username);
      }
    }
    return found;
  }

  /** Bounded by operation_timeout_ms; lock conflicts retried for up to busy_timeout_ms. */
  private run<T>(
    operation: string,
    attempt: () => Promise<T>,
    { idempotent }: { idempotent: boolean },
  ): Promise<T> {
    if (this.closed) {
      return Promise.reject(
        new DirectoryError(
          'directory_closed',
          `the directory store is closed (cannot ${operation})`,
        ),
      );
    }
    const timeout_ms = this.ctx.operation_timeout_ms;
    let abandoned = false;
    const work = (async () => {
      const started = performance.now();
      let reconnects = 0;
      for (let tries = 1; ; tries++) {
        try {
          return await attempt();
        } catch (caught) {
          const safe = idempotent || caught instanceof NotCommitted;
          const err = caught instanceof NotCommitted ? caught.cause : caught;
          if (abandoned) throw err;
          if (safe && isUnavailableError(err) && reconnects < RECONNECT_RETRIES) {
            reconnects++;
            this.retries.node_unavailable++;
            await sleep(50 * reconnects);
            continue;
          }
          const elapsed = performance.now() - started;
          if (!isTransientError(err) || elapsed >= this.ctx.busy_timeout_ms) throw err;
          // Exponential backoff with jitter, so competing processes do not retry in lockstep.
          // Galera aborts the loser of a conflict only at commit, after a cluster round trip, so
          // under contention its retries must spread out further than a local lock queue's.
          const cap_ms = this.ctx.galera ? GALERA_BACKOFF_CAP_MS : BACKOFF_CAP_MS;
          this.retries.lock_conflict++;
          await sleep(Math.min(2 ** tries, cap_ms) * (0.5 + Math.random()));
        }
      }
    })();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        abandoned = true;
        reject(
          new DirectoryError(
            'directory_unavailable',
            `the directory (${this.description}) did not ${operation} within ${timeout_ms} ms; the outcome is unknown, retry`,
          ),
        );
      }, timeout_ms);
      work.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(this.classify(err, operation));
        },
      );
    });
  }

  private classify(err: unknown, operation: string): DirectoryError {
    if (err instanceof DirectoryError) return err;
    if (isTransientError(err)) {
      return new DirectoryError(
        'directory_unavailable',
        this.ctx.galera
          ? `the directory's writes kept conflicting with concurrent writes (row locks or Galera certification conflicts) for over ${this.ctx.busy_timeout_ms} ms (cannot ${operation}): ${describeError(err)}`
          : `the directory database stayed locked by other writers for over ${this.ctx.busy_timeout_ms} ms (cannot ${operation}): ${describeError(err)}`,
        { cause: err },
      );
    }
    if (isUnavailableError(err)) {
      return new DirectoryError(
        'directory_unavailable',
        `the directory (${this.description}) is unavailable (cannot ${operation}): ${describeError(err)}`,
        { cause: err },
      );
    }
    return new DirectoryError(
      'directory_failure',
      `directory failed to ${operation}: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  }
}

/** The write failed before COMMIT was sent, so nothing was changed: safe to retry. */
class NotCommitted extends Error {
  constructor(override readonly cause: unknown) {
    super('the transaction was not committed');
  }
}
