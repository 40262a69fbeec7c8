/**
 * Updates queued for users (delivered at sign-in or on the next heartbeat, acknowledged by id),
 * and housekeeping (sweep of expired challenges, nonces, presences and old requests).
 */
import { DirectoryError, limitExceeded } from '../errors.js';
import { FIELD_LIMITS } from '../limits.js';
import { decodeUpdate } from '../rows.js';
import type { QueuedUpdate, QueuedUpdateKind, SweepResult, UserId } from '../store.js';
import * as v from '../validate.js';
import { countUpdates, requireSelf, requireUser, type Db, type LockedUsers } from './queries.js';
import type { SqlRunner } from './runner.js';

// ---- Queued updates ------------------------------------------------------------------------

export async function takeUpdates(
  run: SqlRunner,
  actorId: UserId,
  userId: UserId,
  options: { limit?: number } = {},
): Promise<QueuedUpdate[]> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const id = v.check(v.UserId, userId, 'user_id');
  requireSelf(actor, id, 'take the updates of');
  const limit = v.pageLimit(v.check(v.PageInput, options, 'options').limit);
  return run.read('take queued updates', async (db) => {
    const rows = await db
      .selectFrom('dir_updates')
      .select(['update_id', 'recipient_id', 'kind', 'payload', 'created_at_ms'])
      .where('recipient_id', '=', id)
      .orderBy('update_id')
      .limit(limit)
      .execute();
    return rows.map(decodeUpdate);
  });
}

export async function ackUpdates(
  run: SqlRunner,
  actorId: UserId,
  userId: UserId,
  updateIds: readonly number[],
): Promise<number> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const id = v.check(v.UserId, userId, 'user_id');
  requireSelf(actor, id, 'acknowledge the updates of');
  const ids = [...new Set(v.check(v.UpdateIds, updateIds, 'update_ids'))];
  if (ids.length === 0) return 0;
  return run.write('acknowledge queued updates', async (trx) => {
    const deleted = await trx
      .deleteFrom('dir_updates')
      .where('recipient_id', '=', id)
      .where('update_id', 'in', ids)
      .executeTakeFirst();
    return Number(deleted.numDeletedRows);
  });
}

// ---- Housekeeping --------------------------------------------------------------------------

export async function sweep(run: SqlRunner): Promise<SweepResult> {
  const now = run.now();
  return run.write('sweep', async (trx) => {
    const challenges = await trx
      .deleteFrom('dir_challenges')
      .where((eb) => eb.or([eb('used_at_ms', 'is not', null), eb('expires_at_ms', '<=', now)]))
      .executeTakeFirst();
    const nonces = await trx
      .deleteFrom('dir_request_nonces')
      .where('expires_at_ms', '<=', now)
      .executeTakeFirst();
    const presences = await trx
      .updateTable('dir_presence')
      .set({ is_online: 0 })
      .where('is_online', '=', 1)
      .where((eb) =>
        eb.or([
          eb('last_seen_at_ms', 'is', null),
          eb('last_seen_at_ms', '<=', now - run.limits.presence_ttl_ms),
        ]),
      )
      .executeTakeFirst();
    const requests = await trx
      .deleteFrom('dir_requests')
      .where('status', '<>', 'pending')
      .where('answered_at_ms', '<', now - run.limits.answered_request_retention_ms)
      .executeTakeFirst();
    return {
      challenges_deleted: Number(challenges.numDeletedRows),
      request_nonces_deleted: Number(nonces.numDeletedRows),
      presences_expired: Number(presences.numUpdatedRows),
      requests_deleted: Number(requests.numDeletedRows),
    };
  });
}
/**
 * Queues an update for a locked recipient. A queued, unacknowledged update about the same subject
 * is replaced (only the newest state matters), so the queue grows only with new subjects.
 */
export async function enqueue(
  run: SqlRunner,
  trx: Db,
  users: LockedUsers,
  recipientId: UserId,
  subjectKey: string,
  kind: QueuedUpdateKind,
  payload: object,
): Promise<void> {
  const recipientName = requireUser(users, recipientId, 'recipient');
  const text = JSON.stringify(payload);
  if (Buffer.byteLength(text, 'utf8') > FIELD_LIMITS.update_payload_max_bytes) {
    throw new DirectoryError(
      'directory_failure',
      `a ${kind} update of ${text.length} bytes is larger than allowed`,
    );
  }
  const replaced = await trx
    .deleteFrom('dir_updates')
    .where('recipient_id', '=', recipientId)
    .where('subject_key', '=', subjectKey)
    .executeTakeFirst();
  if (Number(replaced.numDeletedRows) === 0) {
    const queued = await countUpdates(trx, recipientId);
    if (queued >= run.limits.max_queued_updates_per_user) {
      throw limitExceeded(
        `${recipientName} has ${queued} undelivered updates (the limit is ${run.limits.max_queued_updates_per_user}); they must sign in and take them first`,
      );
    }
  }
  await trx
    .insertInto('dir_updates')
    .values({
      recipient_id: recipientId,
      kind,
      subject_key: subjectKey,
      payload: text,
      created_at_ms: run.now(),
    })
    .execute();
}
