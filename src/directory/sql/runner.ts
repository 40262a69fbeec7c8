/**
 * Runs every store call: the clock, the per-call deadline, transactions, retries of lock
 * conflicts and of dropped connections, row locks on users, and the mapping of driver errors to
 * DirectoryError codes. The operations (users.ts, catalog.ts, sharing.ts, updates.ts) only say
 * what to read or write; this file decides how and how often.
 *
 * Concurrency: every write is one transaction. Writes that check a per-user limit or a state
 * transition first lock the rows of the users involved (SELECT … FOR UPDATE, in sorted id order
 * so two transactions never wait on each other in a cycle); on SQLite, BEGIN IMMEDIATE already
 * serialises writers. Lock conflicts the database resolves by aborting one side (SQLite busy,
 * deadlock, serialization failure) are retried with backoff for up to `busy_timeout_ms`. Each call
 * is bounded by `operation_timeout_ms`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describeError, isTransientError, isUnavailableError } from '../dialects.js';
import { DirectoryError } from '../errors.js';
import { FIELD_LIMITS, type DirectoryLimits } from '../limits.js';
import { RowReader } from '../rows.js';
import type { DirectoryBackend, UserId } from '../store.js';
import * as v from '../validate.js';
import type { Db, LockedUsers } from './queries.js';

export interface StoreContext {
  db: Db;
  backend: DirectoryBackend;
  description: string;
  clock: () => number;
  limits: DirectoryLimits;
  operation_timeout_ms: number;
  busy_timeout_ms: number;
}

const RECONNECT_RETRIES = 2;

export class SqlRunner {
  readonly backend: DirectoryBackend;
  readonly description: string;
  readonly limits: DirectoryLimits;
  private readonly db: Db;
  private closed = false;

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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.destroy();
  }

  /**
   * After a database restart the pool may still hold dead connections. A call that fails on one
   * is retried (twice) when that is safe: reads always, writes only when the transaction never
   * began. A connection lost during a write leaves its outcome unknown: the caller must know.
   */
  read<T>(operation: string, body: (db: Db) => Promise<T>): Promise<T> {
    return this.run(operation, () => body(this.db), { idempotent: true });
  }

  write<T>(operation: string, body: (trx: Db) => Promise<T>): Promise<T> {
    return this.run(
      operation,
      async () => {
        let began = false;
        try {
          return await this.db.transaction().execute((trx) => {
            began = true;
            return body(trx);
          });
        } catch (err) {
          throw began ? err : new NotBegun(err);
        }
      },
      { idempotent: false },
    );
  }

  /** Locks the users' rows in sorted order (no lock cycles); returns those that exist. */
  async lockUsers(trx: Db, ids: readonly UserId[]): Promise<LockedUsers> {
    const found: LockedUsers = new Map();
    for (const id of [...new Set(ids)].sort()) {
      const row = await trx
        .selectFrom('dir_users')
        .select(['user_id', 'username'])
        .where('user_id', '=', id)
        // SQLite has no row locks; BEGIN IMMEDIATE holds the database's write lock instead.
        .$if(this.backend !== 'sqlite', (qb) => qb.forUpdate())
        .executeTakeFirst();
      if (row) {
        const reader = new RowReader(`dir_users row ${id}`, row);
        found.set(
          id,
          reader.string('username', v.USERNAME_PATTERN, FIELD_LIMITS.username_max_chars),
        );
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
          const safe = idempotent || caught instanceof NotBegun;
          const err = caught instanceof NotBegun ? caught.cause : caught;
          if (abandoned) throw err;
          if (safe && isUnavailableError(err) && reconnects < RECONNECT_RETRIES) {
            reconnects++;
            await sleep(50 * reconnects);
            continue;
          }
          const elapsed = performance.now() - started;
          if (!isTransientError(err) || elapsed >= this.ctx.busy_timeout_ms) throw err;
          // Exponential backoff with jitter, so competing processes do not retry in lockstep.
          await sleep(Math.min(2 ** tries, 20) * (0.5 + Math.random()));
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
        `the directory database stayed locked by other writers for over ${this.ctx.busy_timeout_ms} ms (cannot ${operation}): ${describeError(err)}`,
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

/** The write failed before its transaction began, so nothing was changed: safe to retry. */
class NotBegun extends Error {
  constructor(override readonly cause: unknown) {
    super('the transaction did not begin');
  }
}
