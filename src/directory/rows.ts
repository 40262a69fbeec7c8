/**
 * Rows read from the database, as schemas. A database is outside input too: it may have been
 * edited by hand, restored from an old backup, or written by a buggy build. Every column is
 * checked against the rule the write path enforces (the same schemas: src/protocol/ids.ts, the
 * op table's numbers, src/directory/validate.ts), and a row that breaks one raises
 * `DirectoryError('directory_bad_row')` naming the table, the row and the column.
 *
 * The schemas read record field names; queries alias columns accordingly. The same schemas
 * check the JSON snapshots stored in queued updates. What they return is the store's record
 * type (src/directory/store.ts), which the compiler checks against each schema's output.
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
import { Address, PublicKeyBytes, Title } from './validate.js';
import {
  GrantVersion,
  Port,
  Preview,
  Quota,
  RequestKind,
  RequestStatus,
  Time,
  UpdateId,
  Views,
} from '../protocol/directory-ops.js';
import { ImageId, Nonce, RequestId, UserId, Username } from '../protocol/ids.js';
import {
  AnyText,
  Tolerant,
  Int,
  OneOf,
  Optional,
  describeSchema,
  parseFirst,
  v,
  type Infer,
  type Schema,
} from '../protocol/schema.js';

/** The row as `schema` reads it, else the bad-row error naming `where` and the column. */
export function decodeRow<S extends Schema>(schema: S, row: unknown, where: string): Infer<S> {
  const result = parseFirst(schema, row);
  if (result.ok) return result.value;
  const { issue } = result;
  const column = (issue.path ?? []).map((item) => String((item as { key: unknown }).key));
  const expected = issue.message.replace(/^(missing; )?expected /, '');
  throw badRow(where, column.join('.'), expected, issue.input);
}

function badRow(where: string, column: string, expected: string, value: unknown): DirectoryError {
  const shown =
    value === undefined
      ? 'nothing'
      : value instanceof Uint8Array
        ? `${value.length} bytes`
        : JSON.stringify(String(value).slice(0, 60));
  return new DirectoryError(
    'directory_bad_row',
    `directory data is corrupt: ${where} column "${column}" must be ${expected}; found ${shown}`,
  );
}

// ---- Columns ----------------------------------------------------------------------------------

/** Integers arrive as number (SQLite, MySQL), string (PostgreSQL BIGINT) or bigint. */
function isDriverInteger(value: unknown): value is number | bigint | string {
  return (
    typeof value === 'number' ||
    typeof value === 'bigint' ||
    (typeof value === 'string' && /^-?\d{1,16}$/.test(value))
  );
}

/** An integer column read by the rule `schema` (an Int) states. */
function IntColumn<S extends v.GenericSchema<number, number>>(schema: S) {
  return v.pipe(
    v.custom<number | bigint | string>(isDriverInteger, `expected ${describeSchema(schema)}`),
    v.transform(Number),
    schema,
  );
}

/** Stored as 0/1 in SMALLINT columns; JSON snapshots hold real booleans. */
const BoolColumn = v.union(
  [
    v.boolean(),
    v.pipe(
      IntColumn(Int(0, 1)),
      v.transform((n) => n === 1),
    ),
  ],
  'expected 0 or 1 (true or false)',
);

/** A copy: callers must not be able to alter a driver-owned buffer (or vice versa). */
const KeyColumn = v.pipe(
  PublicKeyBytes,
  v.transform((bytes) => new Uint8Array(bytes)),
);

const TimeColumn = IntColumn(Time);
const PortColumn = IntColumn(Port);
const QuotaColumn = IntColumn(Quota);
const VersionColumn = IntColumn(GrantVersion);

/** A column that a query may leave out (undefined) or that holds NULL: null either way. */
function NullColumn<S extends Schema>(schema: S) {
  return v.optional(v.nullable(schema), null);
}

// ---- Rows -------------------------------------------------------------------------------------

const UserRow = Tolerant({
  user_id: UserId,
  username: Username,
  public_key: KeyColumn,
  created_at_ms: TimeColumn,
});

const ChallengeRow = Tolerant({
  user_id: UserId,
  nonce: Nonce,
  issued_at_ms: TimeColumn,
  expires_at_ms: TimeColumn,
});

const PresenceRow = v.pipe(
  Tolerant({
    user_id: UserId,
    username: Username,
    is_online: v.optional(v.nullable(BoolColumn, false), false),
    address: NullColumn(Address),
    port: NullColumn(PortColumn),
    last_seen_at_ms: NullColumn(TimeColumn),
  }),
  v.forward(
    v.check(
      (row) => !row.is_online || (row.address !== null && row.port !== null),
      'expected set while online',
    ),
    ['address'],
  ),
);

const OnlineUserRow = Tolerant({
  user_id: UserId,
  username: Username,
  public_key: KeyColumn,
  address: Address,
  port: PortColumn,
  last_seen_at_ms: TimeColumn,
});

const ImageRow = v.pipe(
  Tolerant({
    owner_id: UserId,
    owner_username: Username,
    image_id: ImageId,
    title: Title,
    width: IntColumn(Preview.width),
    height: IntColumn(Preview.height),
    media_type: Preview.media_type,
    size_bytes: IntColumn(Preview.size_bytes),
    created_at_ms: TimeColumn,
    updated_at_ms: TimeColumn,
  }),
  v.transform(({ width, height, media_type, size_bytes, ...image }) => ({
    ...image,
    preview: { width, height, media_type, size_bytes },
  })),
);

const RequestRow = v.pipe(
  Tolerant({
    request_id: RequestId,
    requester_id: UserId,
    requester_username: Username,
    owner_id: UserId,
    owner_username: Username,
    image_id: ImageId,
    views: IntColumn(Views),
    kind: RequestKind,
    status: RequestStatus,
    created_at_ms: TimeColumn,
    answered_at_ms: v.nullable(TimeColumn),
  }),
  v.forward(
    v.check(
      (row) => row.status !== 'pending' || row.answered_at_ms === null,
      'expected null while pending',
    ),
    ['answered_at_ms'],
  ),
  v.forward(
    v.check(
      (row) => row.status === 'pending' || row.answered_at_ms !== null,
      'expected set once answered',
    ),
    ['answered_at_ms'],
  ),
);

const GrantRow = Tolerant({
  owner_id: UserId,
  owner_username: Username,
  image_id: ImageId,
  viewer_id: UserId,
  viewer_username: Username,
  quota: QuotaColumn,
  // Queued updates written before the count was part of a grant have none: 0 (not shown there).
  views_used: v.optional(QuotaColumn, 0),
  version: VersionColumn,
  revoked: BoolColumn,
  created_at_ms: TimeColumn,
  updated_at_ms: TimeColumn,
});

const UPDATE_KINDS = [
  'request_created',
  'request_answered',
  'grant_updated',
  'grant_revoked',
] as const;

const UpdateRow = Tolerant({
  update_id: IntColumn(UpdateId),
  recipient_id: UserId,
  created_at_ms: TimeColumn,
  kind: OneOf(UPDATE_KINDS),
  payload: AnyText(FIELD_LIMITS.update_payload_max_bytes),
});

/** What each kind of queued update carries (a JSON snapshot of the records it is about). */
const PAYLOADS = {
  request_created: Tolerant({ request: RequestRow }),
  request_answered: Tolerant({ request: RequestRow, grant: Optional(v.nullable(GrantRow)) }),
  grant_updated: Tolerant({ grant: GrantRow }),
  grant_revoked: Tolerant({ grant: GrantRow }),
} as const;

/** The few columns some operations read on their own. */
export const CountRow = Tolerant({ n: IntColumn(Int(0, Number.MAX_SAFE_INTEGER)) });
export const PartiesRow = Tolerant({ owner_id: UserId, requester_id: UserId });
export const UsernameRow = Tolerant({ username: Username });
export const ViewCountersRow = Tolerant({
  views_used: QuotaColumn,
  quota: QuotaColumn,
  revoked: BoolColumn,
  version: VersionColumn,
});

// ---- Decoders ---------------------------------------------------------------------------------

export function decodeUser(row: Record<string, unknown>): UserRecord {
  return decodeRow(UserRow, row, `dir_users row ${String(row.user_id)}`);
}

export function decodeChallenge(row: Record<string, unknown>): SignInChallenge {
  return decodeRow(ChallengeRow, row, `dir_challenges row for user ${String(row.user_id)}`);
}

/** `online` combines the stored flag with the TTL, so a crashed agent is offline by itself. */
export function decodePresence(
  row: Record<string, unknown>,
  now_ms: number,
  ttl_ms: number,
): PresenceRecord {
  const { is_online, ...presence } = decodeRow(
    PresenceRow,
    row,
    `dir_presence row ${String(row.user_id)}`,
  );
  const lastSeen = presence.last_seen_at_ms;
  return { ...presence, online: is_online && lastSeen !== null && lastSeen > now_ms - ttl_ms };
}

export function decodeOnlineUser(row: Record<string, unknown>): OnlineUser {
  return decodeRow(OnlineUserRow, row, `dir_presence row ${String(row.user_id)}`);
}

export function decodeImage(row: Record<string, unknown>): OfferedImage {
  return decodeRow(ImageRow, row, `dir_images row ${String(row.owner_id)}/${String(row.image_id)}`);
}

export function decodeRequest(
  row: Record<string, unknown>,
  where = 'dir_requests row',
): ImageRequest {
  return decodeRow(RequestRow, row, `${where} ${String(row.request_id)}`);
}

export function decodeGrant(row: Record<string, unknown>, where = 'dir_grants row'): AccessGrant {
  return decodeRow(
    GrantRow,
    row,
    `${where} ${String(row.owner_id)}/${String(row.image_id)}/${String(row.viewer_id)}`,
  );
}

export function decodeUpdate(row: Record<string, unknown>): QueuedUpdate {
  const {
    kind,
    payload: text,
    ...base
  } = decodeRow(UpdateRow, row, `dir_updates row ${String(row.update_id)}`);
  const where = `dir_updates row ${base.update_id} payload`;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw badRow(`dir_updates row ${base.update_id}`, 'payload', 'JSON', text);
  }
  switch (kind) {
    case 'request_created':
      return { ...base, kind, request: decodeRow(PAYLOADS[kind], json, where).request };
    case 'request_answered': {
      const { request, grant } = decodeRow(PAYLOADS[kind], json, where);
      return grant ? { ...base, kind, request, grant } : { ...base, kind, request };
    }
    case 'grant_updated':
    case 'grant_revoked':
      return { ...base, kind, grant: decodeRow(PAYLOADS[kind], json, where).grant };
  }
}
