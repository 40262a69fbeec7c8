/**
 * Requests for an image: create (idempotent by request_id), answer (accepting creates or extends
 * the grant in the same transaction), read and list. Each change holds the locks of both users and
 * queues an update for the other party.
 */
import { randomUUID } from 'node:crypto';
import { decodeCursor } from '../cursor.js';
import { conflict, denied, invalidArgument, limitExceeded, notFound } from '../errors.js';
import { FIELD_LIMITS } from '../limits.js';
import { decodeRequest, decodeRow, PartiesRow } from '../rows.js';
import type {
  AccessGrant,
  AnsweredRequest,
  GrantKey,
  ImageRequest,
  NewImageRequest,
  Page,
  PageRequest,
  RequestDecision,
  RequestStatus,
  UserId,
} from '../store.js';
import * as v from '../validate.js';
import { countRows, requireSelf, requireUser, selectRequests, toPage, type Db } from './queries.js';
import type { SqlRunner } from './runner.js';
import { enqueue } from './updates.js';
import { readGrant, writeGrant } from './grants.js';

export async function createRequest(
  run: SqlRunner,
  actorId: UserId,
  request: NewImageRequest,
): Promise<ImageRequest> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const fields = v.check(v.NewRequest, request, 'request');
  const requesterId = fields.requester_id;
  requireSelf(actor, requesterId, 'send requests as');
  const key = { owner_id: fields.owner_id, image_id: fields.image_id };
  if (key.owner_id === requesterId)
    throw invalidArgument('requester_id and owner_id must differ: you own this image');
  const views = fields.views;
  const requestId = fields.request_id ?? randomUUID();
  const now = run.now();
  return run.write('create a request', async (trx) => {
    const users = await run.lockUsers(trx, [requesterId, key.owner_id]);
    const requesterName = requireUser(users, requesterId, 'requester');
    const ownerName = requireUser(users, key.owner_id, 'owner');

    const previous = await selectRequests(trx)
      .where('q.request_id', '=', requestId)
      .executeTakeFirst();
    if (previous) {
      const stored = decodeRequest(previous);
      const same =
        stored.requester_id === requesterId &&
        stored.owner_id === key.owner_id &&
        stored.image_id === key.image_id &&
        stored.views === views;
      if (same) return stored; // a retry of the same request
      throw conflict(`request_id ${requestId} is already used by a different request`);
    }
    const offered = await trx
      .selectFrom('dir_images')
      .select('image_id')
      .where('owner_id', '=', key.owner_id)
      .where('image_id', '=', key.image_id)
      .executeTakeFirst();
    if (!offered) throw notFound(`user ${ownerName} does not offer image ${key.image_id}`);
    const pending = await trx
      .selectFrom('dir_requests')
      .select('request_id')
      .where('requester_id', '=', requesterId)
      .where('owner_id', '=', key.owner_id)
      .where('image_id', '=', key.image_id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (pending) {
      throw conflict(
        `request ${String(pending.request_id)} for image ${key.image_id} is still pending`,
      );
    }
    await checkPendingLimits(run, trx, requesterId, key.owner_id);
    const grant = await trx
      .selectFrom('dir_grants')
      .select('revoked')
      .where('owner_id', '=', key.owner_id)
      .where('image_id', '=', key.image_id)
      .where('viewer_id', '=', requesterId)
      .executeTakeFirst();
    const record: ImageRequest = {
      request_id: requestId,
      requester_id: requesterId,
      requester_username: requesterName,
      owner_id: key.owner_id,
      owner_username: ownerName,
      image_id: key.image_id,
      views,
      kind: grant && Number(grant.revoked) === 0 ? 'more_views' : 'access',
      status: 'pending',
      created_at_ms: now,
      answered_at_ms: null,
    };
    await trx
      .insertInto('dir_requests')
      .values({
        request_id: record.request_id,
        requester_id: record.requester_id,
        owner_id: record.owner_id,
        image_id: record.image_id,
        views: record.views,
        kind: record.kind,
        status: record.status,
        created_at_ms: record.created_at_ms,
        answered_at_ms: null,
      })
      .execute();
    await enqueue(run, trx, users, key.owner_id, `request:${requestId}`, 'request_created', {
      request: record,
    });
    return record;
  });
}

export async function answerRequest(
  run: SqlRunner,
  actorId: UserId,
  answer: { request_id: string; decision: RequestDecision },
): Promise<AnsweredRequest> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const { request_id: requestId, decision } = v.check(v.RequestAnswer, answer, 'answer');
  const now = run.now();
  return run.write('answer a request', async (trx) => {
    const parties = await trx
      .selectFrom('dir_requests')
      .select(['owner_id', 'requester_id'])
      .where('request_id', '=', requestId)
      .executeTakeFirst();
    if (!parties) throw notFound(`request ${requestId} does not exist`);
    const { owner_id: ownerId, requester_id: requesterId } = decodeRow(
      PartiesRow,
      parties,
      `dir_requests row ${requestId}`,
    );
    if (ownerId !== actor) throw denied(`only the image's owner may answer request ${requestId}`);
    const users = await run.lockUsers(trx, [ownerId, requesterId]);
    requireUser(users, requesterId, 'requester');
    // Re-read under the owners' lock: every change to a request holds it.
    const row = await selectRequests(trx)
      .where('q.request_id', '=', requestId)
      .executeTakeFirstOrThrow();
    const current = decodeRequest(row);
    const grantKey: GrantKey = {
      owner_id: ownerId,
      image_id: current.image_id,
      viewer_id: requesterId,
    };
    if (current.status !== 'pending') {
      if (current.status !== decision) {
        throw conflict(`request ${requestId} was already ${current.status}`);
      }
      const grant = decision === 'accepted' ? await readGrant(trx, grantKey) : undefined;
      return grant ? { request: current, grant } : { request: current };
    }
    const request: ImageRequest = { ...current, status: decision, answered_at_ms: now };
    let grant: AccessGrant | undefined;
    if (decision === 'accepted') {
      const existing = await readGrant(trx, grantKey);
      const quota = existing && !existing.revoked ? existing.quota + current.views : current.views;
      if (quota > FIELD_LIMITS.quota_max) {
        throw limitExceeded(
          `accepting would raise the quota to ${quota}; the limit is ${FIELD_LIMITS.quota_max}`,
        );
      }
      // No separate grant update: the request_answered update below carries the grant.
      grant = await writeGrant(
        run,
        trx,
        users,
        grantKey,
        existing,
        { quota, revoked: false },
        now,
        {
          notify: false,
        },
      );
    }
    await trx
      .updateTable('dir_requests')
      .set({ status: decision, answered_at_ms: now })
      .where('request_id', '=', requestId)
      .execute();
    await enqueue(
      run,
      trx,
      users,
      requesterId,
      `request:${requestId}`,
      'request_answered',
      grant ? { request, grant } : { request },
    );
    return grant ? { request, grant } : { request };
  });
}

export async function getRequest(
  run: SqlRunner,
  actorId: UserId,
  requestId: string,
): Promise<ImageRequest | undefined> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const id = v.check(v.RequestId, requestId, 'request_id');
  return run.read('get a request', async (db) => {
    const row = await selectRequests(db).where('q.request_id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const request = decodeRequest(row);
    if (request.owner_id !== actor && request.requester_id !== actor) {
      throw denied(`request ${id} is between other users`);
    }
    return request;
  });
}

export async function listRequests(
  run: SqlRunner,
  actorId: UserId,
  query: { role: 'owner' | 'requester'; status?: RequestStatus } & PageRequest,
): Promise<Page<ImageRequest>> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const fields = v.check(v.RequestQuery, query, 'query');
  const { role, status } = fields;
  const limit = v.pageLimit(fields.limit);
  const after = decodeCursor(fields.cursor, ['integer', 'string'] as const);
  const column = role === 'owner' ? 'q.owner_id' : 'q.requester_id';
  return run.read('list requests', async (db) => {
    const rows = await selectRequests(db)
      .where(column, '=', actor)
      .$if(status !== undefined, (qb) => qb.where('q.status', '=', status))
      .$if(after !== undefined, (qb) =>
        qb.where((eb) =>
          eb.or([
            eb('q.created_at_ms', '>', after?.[0]),
            eb.and([eb('q.created_at_ms', '=', after?.[0]), eb('q.request_id', '>', after?.[1])]),
          ]),
        ),
      )
      .orderBy('q.created_at_ms')
      .orderBy('q.request_id')
      .limit(limit + 1)
      .execute();
    return toPage(
      rows.map((row) => decodeRequest(row)),
      limit,
      (r) => [r.created_at_ms, r.request_id],
    );
  });
}

async function checkPendingLimits(
  run: SqlRunner,
  trx: Db,
  requesterId: UserId,
  ownerId: UserId,
): Promise<void> {
  const forOwner = await countRows(
    trx.selectFrom('dir_requests').where('owner_id', '=', ownerId).where('status', '=', 'pending'),
  );
  if (forOwner >= run.limits.max_pending_requests_per_owner) {
    throw limitExceeded(
      `the owner already has ${forOwner} pending requests; the limit is ${run.limits.max_pending_requests_per_owner}`,
    );
  }
  const byRequester = await countRows(
    trx
      .selectFrom('dir_requests')
      .where('requester_id', '=', requesterId)
      .where('status', '=', 'pending'),
  );
  if (byRequester >= run.limits.max_pending_requests_per_requester) {
    throw limitExceeded(
      `you already have ${byRequester} pending requests; the limit is ${run.limits.max_pending_requests_per_requester}`,
    );
  }
}
