/**
 * View-limited grants: set, revoke (compare-and-set by version), read, list, and the views a
 * viewer used. Each real change bumps the version and queues an update for the viewer.
 */
import { sql } from 'kysely';
import { decodeCursor } from '../cursor.js';
import { conflict, denied, invalidArgument, limitExceeded, notFound } from '../errors.js';
import { decodeGrant, decodeRow, ViewCountersRow } from '../rows.js';
import {
  VIEW_RETRY_WINDOW_MS,
  type AccessGrant,
  type GrantKey,
  type Page,
  type PageRequest,
  type UserId,
  type ViewConsumed,
} from '../store.js';
import * as v from '../validate.js';
import type { GenericSchema } from 'valibot';
import {
  countRows,
  requireSelf,
  requireUser,
  selectGrants,
  toPage,
  type Db,
  type LockedUsers,
} from './queries.js';
import type { SqlRunner } from './runner.js';
import { enqueue } from './updates.js';

export async function setGrant(
  run: SqlRunner,
  actorId: UserId,
  grant: GrantKey & { quota: number; expected_version?: number },
): Promise<AccessGrant> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const { quota, expected_version: expected, ...key } = grantKey(v.GrantChange, grant);
  requireSelf(actor, key.owner_id, 'change grants of');
  const now = run.now();
  return run.write('set a grant', async (trx) => {
    const users = await run.lockUsers(trx, [key.owner_id, key.viewer_id]);
    requireUser(users, key.owner_id, 'owner');
    requireUser(users, key.viewer_id, 'viewer');
    const existing = await readGrant(trx, key);
    // Already as asked: the same change again (a retry after a lost answer) is done, whatever
    // version it expected. A different change must start from the version it names, so one
    // that a stalled database applies late cannot overwrite a newer change.
    if (existing && !existing.revoked && existing.quota === quota) return existing;
    checkVersion(existing, expected);
    return writeGrant(run, trx, users, key, existing, { quota, revoked: false }, now);
  });
}

export async function revokeGrant(
  run: SqlRunner,
  actorId: UserId,
  grant: GrantKey & { expected_version?: number },
): Promise<AccessGrant> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const { expected_version: expected, ...key } = grantKey(v.GrantRevocation, grant);
  requireSelf(actor, key.owner_id, 'revoke grants of');
  const now = run.now();
  return run.write('revoke a grant', async (trx) => {
    const users = await run.lockUsers(trx, [key.owner_id, key.viewer_id]);
    const existing = await readGrant(trx, key);
    if (!existing) {
      throw notFound(`there is no grant of image ${key.image_id} to viewer ${key.viewer_id}`);
    }
    // Already revoked: done (as in setGrant, the same change again needs no version).
    if (existing.revoked) return existing;
    checkVersion(existing, expected);
    return writeGrant(
      run,
      trx,
      users,
      key,
      existing,
      { quota: existing.quota, revoked: true },
      now,
    );
  });
}

export async function getGrant(
  run: SqlRunner,
  actorId: UserId,
  grant: GrantKey,
): Promise<AccessGrant | undefined> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const key = grantKey(v.GrantKeyInput, grant);
  if (actor !== key.owner_id && actor !== key.viewer_id) {
    throw denied('only the owner or the viewer of a grant may read it');
  }
  return run.read('get a grant', (db) => readGrant(db, key));
}

export async function listGrants(
  run: SqlRunner,
  actorId: UserId,
  query: { role: 'owner' | 'viewer' } & PageRequest,
): Promise<Page<AccessGrant>> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const fields = v.check(v.GrantQuery, query, 'query');
  const role = fields.role;
  const limit = v.pageLimit(fields.limit);
  const after = decodeCursor(fields.cursor, ['string', 'string'] as const);
  // Sorted by the two key columns that are not the actor's.
  const [self, first, second] =
    role === 'owner'
      ? (['g.owner_id', 'g.image_id', 'g.viewer_id'] as const)
      : (['g.viewer_id', 'g.owner_id', 'g.image_id'] as const);
  return run.read('list grants', async (db) => {
    const rows = await selectGrants(db)
      .where(self, '=', actor)
      .$if(after !== undefined, (qb) =>
        qb.where((eb) =>
          eb.or([
            eb(first, '>', after?.[0]),
            eb.and([eb(first, '=', after?.[0]), eb(second, '>', after?.[1])]),
          ]),
        ),
      )
      .orderBy(first)
      .orderBy(second)
      .limit(limit + 1)
      .execute();
    const grants = rows.map((row) => decodeGrant(row));
    return toPage(grants, limit, (g) =>
      role === 'owner' ? [g.image_id, g.viewer_id] : [g.owner_id, g.image_id],
    );
  });
}

export async function recordViews(
  run: SqlRunner,
  actorId: UserId,
  grant: GrantKey & { consumed: number },
): Promise<{ consumed: number }> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const { consumed, ...key } = grantKey(v.ViewReport, grant);
  requireSelf(actor, key.viewer_id, 'report the views of');
  return run.write('record views', async (trx) => {
    // Conditional update: concurrent reports can only raise the count (no read-modify-write).
    await trx
      .updateTable('dir_grants')
      .set({ views_used: consumed })
      .where('owner_id', '=', key.owner_id)
      .where('image_id', '=', key.image_id)
      .where('viewer_id', '=', key.viewer_id)
      .where('views_used', '<', consumed)
      .execute();
    return { consumed: (await viewCounters(trx, key)).consumed };
  });
}

export async function consumeView(
  run: SqlRunner,
  actorId: UserId,
  view: GrantKey & { view_id: string },
): Promise<ViewConsumed> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const { view_id: viewId, ...key } = grantKey(v.ViewUse, view);
  requireSelf(actor, key.viewer_id, 'use the views of');
  const now = run.now();
  return run.write('consume a view', async (trx) => {
    // The grant row is locked first (SQLite's BEGIN IMMEDIATE already serialises writers), so a
    // retry of this view racing its first attempt waits and then finds it used. On Galera the
    // lock is local to a node, but both attempts write the grant row, so certification aborts
    // one and its retry finds the other's use.
    const before = await viewCounters(trx, key, run.backend !== 'sqlite');
    const alreadyUsed = await trx
      .selectFrom('dir_view_uses')
      .select('view_id')
      .where('owner_id', '=', key.owner_id)
      .where('image_id', '=', key.image_id)
      .where('viewer_id', '=', key.viewer_id)
      .where('view_id', '=', viewId)
      .executeTakeFirst();
    if (alreadyUsed) return { granted: true, ...before };
    // One conditional UPDATE: the condition is checked against the current row, so the count
    // cannot pass the quota whatever number of devices ask at once.
    const result = await trx
      .updateTable('dir_grants')
      .set({ views_used: sql<number>`views_used + 1` })
      .where('owner_id', '=', key.owner_id)
      .where('image_id', '=', key.image_id)
      .where('viewer_id', '=', key.viewer_id)
      .where('revoked', '=', 0)
      .whereRef('views_used', '<', 'quota')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return { granted: false, ...before };
    await trx
      .insertInto('dir_view_uses')
      .values({ ...key, view_id: viewId, used_at_ms: now })
      .execute();
    // Older uses can no longer be retried: at most one retry window of views per grant.
    await trx
      .deleteFrom('dir_view_uses')
      .where('owner_id', '=', key.owner_id)
      .where('image_id', '=', key.image_id)
      .where('viewer_id', '=', key.viewer_id)
      .where('used_at_ms', '<', now - VIEW_RETRY_WINDOW_MS)
      .execute();
    // The row is locked (or, on Galera, certified at commit): the count is exactly one more.
    return { granted: true, ...before, consumed: before.consumed + 1 };
  });
}

/** A grant's view counters as they stand in this transaction; `not_found` without the grant. */
async function viewCounters(
  trx: Db,
  key: GrantKey,
  forUpdate = false,
): Promise<Omit<ViewConsumed, 'granted'>> {
  const row = await trx
    .selectFrom('dir_grants')
    .select(['views_used', 'quota', 'revoked', 'version'])
    .where('owner_id', '=', key.owner_id)
    .where('image_id', '=', key.image_id)
    .where('viewer_id', '=', key.viewer_id)
    .$if(forUpdate, (qb) => qb.forUpdate())
    .executeTakeFirst();
  if (!row)
    throw notFound(`there is no grant of image ${key.image_id} from ${key.owner_id} to you`);
  const { views_used, ...counters } = decodeRow(ViewCountersRow, row, 'dir_grants');
  return { consumed: views_used, ...counters };
}

export async function readGrant(db: Db, key: GrantKey): Promise<AccessGrant | undefined> {
  const row = await selectGrants(db)
    .where('g.owner_id', '=', key.owner_id)
    .where('g.image_id', '=', key.image_id)
    .where('g.viewer_id', '=', key.viewer_id)
    .executeTakeFirst();
  return row ? decodeGrant(row) : undefined;
}

/** Inserts or updates a grant with a new version and queues the change for the viewer. */
export async function writeGrant(
  run: SqlRunner,
  trx: Db,
  users: LockedUsers,
  key: GrantKey,
  existing: AccessGrant | undefined,
  state: { quota: number; revoked: boolean },
  now: number,
  { notify }: { notify: boolean } = { notify: true },
): Promise<AccessGrant> {
  let grant: AccessGrant;
  if (existing) {
    grant = { ...existing, ...state, version: existing.version + 1, updated_at_ms: now };
    await trx
      .updateTable('dir_grants')
      .set({
        quota: grant.quota,
        revoked: grant.revoked ? 1 : 0,
        version: grant.version,
        updated_at_ms: now,
      })
      .where('owner_id', '=', key.owner_id)
      .where('image_id', '=', key.image_id)
      .where('viewer_id', '=', key.viewer_id)
      .execute();
  } else {
    const count = await countRows(
      trx.selectFrom('dir_grants').where('owner_id', '=', key.owner_id),
    );
    if (count >= run.limits.max_grants_per_owner) {
      throw limitExceeded(
        `the owner already has ${count} grants; the limit is ${run.limits.max_grants_per_owner}`,
      );
    }
    grant = {
      ...key,
      owner_username: requireUser(users, key.owner_id, 'owner'),
      viewer_username: requireUser(users, key.viewer_id, 'viewer'),
      ...state,
      views_used: 0,
      version: 1,
      created_at_ms: now,
      updated_at_ms: now,
    };
    await trx
      .insertInto('dir_grants')
      .values({
        ...key,
        quota: grant.quota,
        revoked: grant.revoked ? 1 : 0,
        version: 1,
        created_at_ms: now,
        updated_at_ms: now,
      })
      .execute();
  }
  if (!notify) return grant;
  await enqueue(
    run,
    trx,
    users,
    key.viewer_id,
    `grant:${key.owner_id}:${key.image_id}`,
    grant.revoked ? 'grant_revoked' : 'grant_updated',
    { grant },
  );
  return grant;
}

/** `value` checked by `schema` (a grant key and more), whose viewer is not its owner. */
function grantKey<T extends GrantKey>(schema: GenericSchema<unknown, T>, value: unknown): T {
  const fields = v.check(schema, value, 'grant');
  if (fields.viewer_id === fields.owner_id)
    throw invalidArgument('viewer_id must differ from owner_id');
  return fields;
}

function checkVersion(existing: AccessGrant | undefined, expected: number | undefined): void {
  const current = existing?.version ?? 0;
  if (expected !== undefined && expected !== current) {
    throw conflict(
      `the grant is at version ${current}, not ${expected}: read it again before changing it`,
    );
  }
}
