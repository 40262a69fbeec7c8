/**
 * The directory's field limits: part of its database schema (column widths) and of the wire
 * contract. The op table (directory-ops.ts) checks requests and answers against them and the
 * store (src/directory) checks them again before touching the database. Pure.
 */
import { IMAGE_ID_MAX_CHARS, USERNAME_MAX_CHARS, USERNAME_MIN_CHARS } from '../util/ids.js';

export const FIELD_LIMITS = {
  username_min_chars: USERNAME_MIN_CHARS,
  username_max_chars: USERNAME_MAX_CHARS,
  image_id_max_chars: IMAGE_ID_MAX_CHARS,
  title_max_chars: 200,
  media_type_max_chars: 100,
  address_max_chars: 253,
  image_dimension_max: 65_535,
  /** 1 GiB: the directory only describes images; the cloud refuses much smaller ones anyway. */
  image_size_max_bytes: 1024 * 1024 * 1024,
  views_per_request_max: 10_000,
  quota_max: 1_000_000,
  page_size_default: 100,
  page_size_max: 500,
  cursor_max_chars: 512,
  ack_ids_max: 500,
  /** Queued update payloads are small JSON snapshots; anything larger is a bug or an attack. */
  update_payload_max_bytes: 8 * 1024,
} as const;

/** Media types of offered images: `image/<subtype>`, lowercase, within media_type_max_chars. */
export const MEDIA_TYPE_PATTERN = new RegExp(
  `^image/[a-z0-9][a-z0-9.+-]{0,${FIELD_LIMITS.media_type_max_chars - 'image/'.length - 1}}$`,
);
export const MEDIA_TYPE_RULE = `"image/<subtype>" in lowercase, at most ${FIELD_LIMITS.media_type_max_chars} characters`;
