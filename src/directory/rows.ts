/**
 * Decoders for rows read from the database. A database is outside input too: it may have been
 * edited by hand, restored from an old backup, or written by a buggy build. Each decoder checks
 * every column against the same rules the write path enforces and raises
 * `DirectoryError('directory_bad_row')` naming the table, the row and the column.
 *
 * The decoders read record field names; queries alias columns accordingly. The same decoders
 * check the JSON snapshots stored in queued updates.
 */
import { DirectoryError } from './errors.js';
import { FIELD_LIMITS } from './limits.js';
import type {
  AccessGrant,
  ImageRequest,
  OfferedImage,
  OnlineUser,
  PresenceRecord,
  QueuedUpdate,
  SignInChallenge,
  UserRecord,
} from './store.js';
import {
  HEX_32_BYTES_PATTERN,
  IMAGE_ID_PATTERN,
  USERNAME_PATTERN,
  UUID_CHARS,
  UUID_PATTERN,
} from '../util/ids.js';
import { MEDIA_TYPE_PATTERN } from '../protocol/directory-limits.js';
import { PUBLIC_KEY_BYTES } from './validate.js';

const MAX_TIME_MS = 8.64e15; // the largest JavaScript Date
const MAX_TEXT_CHARS = 1000;

export class RowReader {
  constructor(
    private readonly where: string,
    private readonly row: Record<string, unknown>,
  ) {}

  /** Raises the bad-row error for `column`, saying what it must be. */
  reject(column: string, expected: string): never {
    const value = this.row[column];
    const shown =
      value === undefined
        ? 'nothing'
        : value instanceof Uint8Array
          ? `${value.length} bytes`
          : JSON.stringify(String(value).slice(0, 60));
    throw new DirectoryError(
      'directory_bad_row',
      `directory data is corrupt: ${this.where} column "${column}" must be ${expected}; found ${shown}`,
    );
  }

  string(column: string, pattern?: RegExp, maxChars = MAX_TEXT_CHARS): string {
    const value = this.row[column];
    if (typeof value !== 'string' || value.length === 0 || [...value].length > maxChars) {
      this.reject(column, `a string of 1–${maxChars} characters`);
    }
    if (pattern && !pattern.test(value)) this.reject(column, `a string matching ${pattern}`);
    return value;
  }

  nullableString(column: string, maxChars = MAX_TEXT_CHARS): string | null {
    return this.row[column] === null ? null : this.string(column, undefined, maxChars);
  }

  /** Integers arrive as number (SQLite, MySQL), string (PostgreSQL BIGINT) or bigint. */
  int(column: string, min: number, max: number): number {
    const value = this.row[column];
    let n: number | undefined;
    if (typeof value === 'number') n = value;
    else if (typeof value === 'bigint') n = Number(value);
    else if (typeof value === 'string' && /^-?\d{1,16}$/.test(value)) n = Number(value);
    if (n === undefined || !Number.isSafeInteger(n) || n < min || n > max) {
      this.reject(column, `an integer from ${min} to ${max}`);
    }
    return n;
  }

  nullableInt(column: string, min: number, max: number): number | null {
    return this.row[column] === null ? null : this.int(column, min, max);
  }

  time(column: string): number {
    return this.int(column, 0, MAX_TIME_MS);
  }

  nullableTime(column: string): number | null {
    return this.nullableInt(column, 0, MAX_TIME_MS);
  }

  /** Stored as 0/1 in SMALLINT columns; JSON snapshots hold real booleans. */
  bool(column: string): boolean {
    const value = this.row[column];
    if (typeof value === 'boolean') return value;
    return this.int(column, 0, 1) === 1;
  }

  bytes(column: string, length: number): Uint8Array {
    const value = this.row[column];
    if (!(value instanceof Uint8Array) || value.length !== length)
      this.reject(column, `${length} bytes`);
    // A copy: callers must not be able to alter a driver-owned buffer (or vice versa).
    return new Uint8Array(value);
  }

  oneOf<T extends string>(column: string, allowed: readonly T[]): T {
    const value = this.row[column];
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.reject(column, `one of ${allowed.join(', ')}`);
    }
    return value as T;
  }

  object(column: string): Record<string, unknown> {
    const value = this.row[column];
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      this.reject(column, 'an object');
    return value as Record<string, unknown>;
  }

  has(column: string): boolean {
    return this.row[column] !== undefined && this.row[column] !== null;
  }
}

const userIdOf = (r: RowReader, column: string) => r.string(column, UUID_PATTERN, UUID_CHARS);
const usernameOf = (r: RowReader, column: string) =>
  r.string(column, USERNAME_PATTERN, FIELD_LIMITS.username_max_chars);

export function decodeUser(row: Record<string, unknown>): UserRecord {
  const r = new RowReader(`dir_users row ${String(row.user_id)}`, row);
  return {
    user_id: userIdOf(r, 'user_id'),
    username: usernameOf(r, 'username'),
    public_key: r.bytes('public_key', PUBLIC_KEY_BYTES),
    created_at_ms: r.time('created_at_ms'),
  };
}

export function decodeChallenge(row: Record<string, unknown>): SignInChallenge {
  const r = new RowReader(`dir_challenges row for user ${String(row.user_id)}`, row);
  return {
    user_id: userIdOf(r, 'user_id'),
    nonce: r.string('nonce', HEX_32_BYTES_PATTERN, 64),
    issued_at_ms: r.time('issued_at_ms'),
    expires_at_ms: r.time('expires_at_ms'),
  };
}

/** `online` combines the stored flag with the TTL, so a crashed agent is offline by itself. */
export function decodePresence(
  row: Record<string, unknown>,
  now_ms: number,
  ttl_ms: number,
): PresenceRecord {
  const r = new RowReader(`dir_presence row ${String(row.user_id)}`, row);
  const flagged =
    row.is_online === null || row.is_online === undefined ? false : r.bool('is_online');
  const lastSeen = row.last_seen_at_ms === undefined ? null : r.nullableTime('last_seen_at_ms');
  const address =
    row.address === undefined ? null : r.nullableString('address', FIELD_LIMITS.address_max_chars);
  const port = row.port === undefined ? null : r.nullableInt('port', 1, 65_535);
  const online = flagged && lastSeen !== null && lastSeen > now_ms - ttl_ms;
  if (flagged && (address === null || port === null)) r.reject('address', 'set while online');
  return {
    user_id: userIdOf(r, 'user_id'),
    username: usernameOf(r, 'username'),
    online,
    address,
    port,
    last_seen_at_ms: lastSeen,
  };
}

export function decodeOnlineUser(row: Record<string, unknown>): OnlineUser {
  const r = new RowReader(`dir_presence row ${String(row.user_id)}`, row);
  return {
    user_id: userIdOf(r, 'user_id'),
    username: usernameOf(r, 'username'),
    public_key: r.bytes('public_key', PUBLIC_KEY_BYTES),
    address: r.string('address', undefined, FIELD_LIMITS.address_max_chars),
    port: r.int('port', 1, 65_535),
    last_seen_at_ms: r.time('last_seen_at_ms'),
  };
}

export function decodeImage(row: Record<string, unknown>): OfferedImage {
  const r = new RowReader(`dir_images row ${String(row.owner_id)}/${String(row.image_id)}`, row);
  return {
    owner_id: userIdOf(r, 'owner_id'),
    owner_username: usernameOf(r, 'owner_username'),
    image_id: r.string('image_id', IMAGE_ID_PATTERN, FIELD_LIMITS.image_id_max_chars),
    title: r.string('title', undefined, FIELD_LIMITS.title_max_chars),
    preview: {
      width: r.int('width', 1, FIELD_LIMITS.image_dimension_max),
      height: r.int('height', 1, FIELD_LIMITS.image_dimension_max),
      media_type: r.string('media_type', MEDIA_TYPE_PATTERN, FIELD_LIMITS.media_type_max_chars),
      size_bytes: r.int('size_bytes', 0, FIELD_LIMITS.image_size_max_bytes),
    },
    created_at_ms: r.time('created_at_ms'),
    updated_at_ms: r.time('updated_at_ms'),
  };
}

export function decodeRequest(
  row: Record<string, unknown>,
  where = 'dir_requests row',
): ImageRequest {
  const r = new RowReader(`${where} ${String(row.request_id)}`, row);
  const status = r.oneOf('status', ['pending', 'accepted', 'rejected'] as const);
  const answeredAt = r.nullableTime('answered_at_ms');
  if ((status === 'pending') !== (answeredAt === null)) {
    r.reject('answered_at_ms', status === 'pending' ? 'null while pending' : 'set once answered');
  }
  return {
    request_id: r.string('request_id', UUID_PATTERN, UUID_CHARS),
    requester_id: userIdOf(r, 'requester_id'),
    requester_username: usernameOf(r, 'requester_username'),
    owner_id: userIdOf(r, 'owner_id'),
    owner_username: usernameOf(r, 'owner_username'),
    image_id: r.string('image_id', IMAGE_ID_PATTERN, FIELD_LIMITS.image_id_max_chars),
    views: r.int('views', 1, FIELD_LIMITS.views_per_request_max),
    kind: r.oneOf('kind', ['access', 'more_views'] as const),
    status,
    created_at_ms: r.time('created_at_ms'),
    answered_at_ms: answeredAt,
  };
}

export function decodeGrant(row: Record<string, unknown>, where = 'dir_grants row'): AccessGrant {
  const r = new RowReader(
    `${where} ${String(row.owner_id)}/${String(row.image_id)}/${String(row.viewer_id)}`,
    row,
  );
  return {
    owner_id: userIdOf(r, 'owner_id'),
    owner_username: usernameOf(r, 'owner_username'),
    image_id: r.string('image_id', IMAGE_ID_PATTERN, FIELD_LIMITS.image_id_max_chars),
    viewer_id: userIdOf(r, 'viewer_id'),
    viewer_username: usernameOf(r, 'viewer_username'),
    quota: r.int('quota', 0, FIELD_LIMITS.quota_max),
    // Queued updates written before the count was part of a grant have none: 0 (not shown there).
    views_used: row.views_used === undefined ? 0 : r.int('views_used', 0, FIELD_LIMITS.quota_max),
    version: r.int('version', 1, Number.MAX_SAFE_INTEGER),
    revoked: r.bool('revoked'),
    created_at_ms: r.time('created_at_ms'),
    updated_at_ms: r.time('updated_at_ms'),
  };
}

const UPDATE_KINDS = [
  'request_created',
  'request_answered',
  'grant_updated',
  'grant_revoked',
] as const;

export function decodeUpdate(row: Record<string, unknown>): QueuedUpdate {
  const r = new RowReader(`dir_updates row ${String(row.update_id)}`, row);
  const base = {
    update_id: r.int('update_id', 1, Number.MAX_SAFE_INTEGER),
    recipient_id: userIdOf(r, 'recipient_id'),
    created_at_ms: r.time('created_at_ms'),
  };
  const kind = r.oneOf('kind', UPDATE_KINDS);
  const payloadText = r.string('payload', undefined, FIELD_LIMITS.update_payload_max_bytes);
  let payload: unknown;
  try {
    payload = JSON.parse(payloadText);
  } catch {
    r.reject('payload', 'JSON');
  }
  const p = new RowReader(`dir_updates row ${base.update_id} payload`, { payload });
  const body = new RowReader(`dir_updates row ${base.update_id} payload`, p.object('payload'));
  const where = `dir_updates row ${base.update_id} payload`;
  switch (kind) {
    case 'request_created':
      return { ...base, kind, request: decodeRequest(body.object('request'), where) };
    case 'request_answered': {
      const request = decodeRequest(body.object('request'), where);
      return body.has('grant')
        ? { ...base, kind, request, grant: decodeGrant(body.object('grant'), where) }
        : { ...base, kind, request };
    }
    case 'grant_updated':
    case 'grant_revoked':
      return { ...base, kind, grant: decodeGrant(body.object('grant'), where) };
  }
}
