/** The catalog: images users offer (title and preview metadata), listed and paged. */
import { decodeCursor } from '../cursor.js';
import { limitExceeded, notFound } from '../errors.js';
import { decodeImage } from '../rows.js';
import type { ImageKey, ImageOffer, OfferedImage, Page, PageRequest, UserId } from '../store.js';
import * as v from '../validate.js';
import { countRows, imageKey, requireSelf, requireUser, selectImages, toPage } from './queries.js';
import type { SqlRunner } from './runner.js';

// ---- Offered images ------------------------------------------------------------------------

export async function offerImage(
  run: SqlRunner,
  actorId: UserId,
  offer: ImageOffer,
): Promise<OfferedImage> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const fields = v.check(v.ImageOffer, offer, 'offer');
  const { owner_id: ownerId, image_id: imageId, preview } = fields;
  requireSelf(actor, ownerId, 'offer images of');
  const values = {
    title: fields.title,
    width: preview.width,
    height: preview.height,
    media_type: preview.media_type,
    size_bytes: preview.size_bytes,
  };
  const now = run.now();
  return run.write('offer an image', async (trx) => {
    const users = await run.lockUsers(trx, [ownerId]);
    requireUser(users, ownerId, 'owner');
    const existing = await trx
      .selectFrom('dir_images')
      .select('created_at_ms')
      .where('owner_id', '=', ownerId)
      .where('image_id', '=', imageId)
      .executeTakeFirst();
    if (existing) {
      await trx
        .updateTable('dir_images')
        .set({ ...values, updated_at_ms: now })
        .where('owner_id', '=', ownerId)
        .where('image_id', '=', imageId)
        .execute();
    } else {
      const count = await countRows(trx.selectFrom('dir_images').where('owner_id', '=', ownerId));
      if (count >= run.limits.max_images_per_user) {
        throw limitExceeded(
          `user ${ownerId} already offers ${count} images; the limit is ${run.limits.max_images_per_user}`,
        );
      }
      await trx
        .insertInto('dir_images')
        .values({
          owner_id: ownerId,
          image_id: imageId,
          ...values,
          created_at_ms: now,
          updated_at_ms: now,
        })
        .execute();
    }
    const row = await selectImages(trx)
      .where('i.owner_id', '=', ownerId)
      .where('i.image_id', '=', imageId)
      .executeTakeFirstOrThrow();
    return decodeImage(row);
  });
}

export async function withdrawImage(
  run: SqlRunner,
  actorId: UserId,
  image: ImageKey,
): Promise<void> {
  const actor = v.check(v.UserId, actorId, 'actor');
  const key = imageKey(image);
  requireSelf(actor, key.owner_id, 'withdraw images of');
  await run.write('withdraw an image', async (trx) => {
    const deleted = await trx
      .deleteFrom('dir_images')
      .where('owner_id', '=', key.owner_id)
      .where('image_id', '=', key.image_id)
      .executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) {
      throw notFound(`user ${key.owner_id} does not offer image ${key.image_id}`);
    }
  });
}

export async function getImage(run: SqlRunner, image: ImageKey): Promise<OfferedImage | undefined> {
  const key = imageKey(image);
  return run.read('get an image', async (db) => {
    const row = await selectImages(db)
      .where('i.owner_id', '=', key.owner_id)
      .where('i.image_id', '=', key.image_id)
      .executeTakeFirst();
    return row ? decodeImage(row) : undefined;
  });
}

export async function listImages(
  run: SqlRunner,
  query: { owner_id?: UserId; online_only?: boolean } & PageRequest = {},
): Promise<Page<OfferedImage>> {
  const fields = v.check(v.ImageQuery, query, 'query');
  const ownerId = fields.owner_id;
  const onlineOnly = fields.online_only ?? false;
  const limit = v.pageLimit(fields.limit);
  const after = decodeCursor(fields.cursor, ['string', 'string'] as const);
  const cutoff = run.now() - run.limits.presence_ttl_ms;
  return run.read('list images', async (db) => {
    const rows = await selectImages(db)
      .$if(ownerId !== undefined, (qb) => qb.where('i.owner_id', '=', ownerId))
      .$if(onlineOnly, (qb) =>
        qb
          .innerJoin('dir_presence as p', 'p.user_id', 'i.owner_id')
          .where('p.is_online', '=', 1)
          .where('p.last_seen_at_ms', '>', cutoff),
      )
      .$if(after !== undefined, (qb) =>
        qb.where((eb) =>
          eb.or([
            eb('i.owner_id', '>', after?.[0]),
            eb.and([eb('i.owner_id', '=', after?.[0]), eb('i.image_id', '>', after?.[1])]),
          ]),
        ),
      )
      .orderBy('i.owner_id')
      .orderBy('i.image_id')
      .limit(limit + 1)
      .execute();
    return toPage(rows.map(decodeImage), limit, (image) => [image.owner_id, image.image_id]);
  });
}
