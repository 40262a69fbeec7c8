/**
 * Checks on what the directory answers. The agent trusts the directory for who is who (it is
 * the cloud's), but a damaged or hostile answer must end in a clear error, never in a crash or
 * in a wrong value stored in the agent's database. Each function returns the value typed, or
 * throws `bad_directory_answer` naming the field.
 */
import {
  PEER_IMAGE_ID_PATTERN,
  PEER_USERNAME_PATTERN,
  USER_ID_PATTERN,
} from '../protocol/peer-protocol.js';
import { fromHex } from '../protocol/directory-protocol.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import type {
  HeartbeatReply,
  WireGrant,
  WireImage,
  WireOnlineUser,
  WireRequest,
  WireUpdate,
  WireUser,
} from './directory-client.js';

type Fields = Record<string, unknown>;

export class BadDirectoryAnswer extends CloudP2PError {
  constructor(what: string, problem: string) {
    super(
      'bad_directory_answer',
      `the directory answered ${what} with ${problem}; refusing it`,
      ExitCode.failure,
    );
  }
}

function object(value: unknown, what: string): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new BadDirectoryAnswer(what, 'something that is not an object');
  return value as Fields;
}

function field<T>(
  v: Fields,
  what: string,
  key: string,
  check: (x: unknown) => boolean,
  rule: string,
): T {
  if (!check(v[key])) throw new BadDirectoryAnswer(what, `an invalid ${key} (expected ${rule})`);
  return v[key] as T;
}

const isUserId = (x: unknown): boolean => typeof x === 'string' && USER_ID_PATTERN.test(x);
const isUsername = (x: unknown): boolean => typeof x === 'string' && PEER_USERNAME_PATTERN.test(x);
const isImageId = (x: unknown): boolean => typeof x === 'string' && PEER_IMAGE_ID_PATTERN.test(x);
const isCount = (max: number) => (x: unknown) =>
  typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 && x <= max;
const isTime = isCount(Number.MAX_SAFE_INTEGER);
const isKeyHex = (x: unknown): boolean => fromHex(x, 32) !== null;
const isTitle = (x: unknown): boolean =>
  typeof x === 'string' && x.length >= 1 && x.length <= 200 && !/\p{Cc}/u.test(x);
const isBool = (x: unknown): boolean => typeof x === 'boolean';
const UUID = 'a lowercase UUID';

export function checkUser(value: unknown, what = 'a user lookup'): WireUser {
  const v = object(value, what);
  return {
    user_id: field(v, what, 'user_id', isUserId, UUID),
    username: field(v, what, 'username', isUsername, 'a username'),
    public_key: field(v, what, 'public_key', isKeyHex, '64 hex characters'),
    created_at_ms: field(v, what, 'created_at_ms', isTime, 'a time'),
  };
}

export function checkOnlineUser(value: unknown, what = 'the online list'): WireOnlineUser {
  const v = object(value, what);
  return {
    user_id: field(v, what, 'user_id', isUserId, UUID),
    username: field(v, what, 'username', isUsername, 'a username'),
    public_key: field(v, what, 'public_key', isKeyHex, '64 hex characters'),
    address: field(
      v,
      what,
      'address',
      (x) => typeof x === 'string' && /^[A-Za-z0-9.:[\]-]{1,253}$/.test(x),
      'an IP address or host name',
    ),
    port: field(
      v,
      what,
      'port',
      (x) => isCount(65_535)(x) && (x as number) >= 1,
      'a port 1..65535',
    ),
    last_seen_at_ms: field(v, what, 'last_seen_at_ms', isTime, 'a time'),
  };
}

export function checkImage(value: unknown, what = 'the image list'): WireImage {
  const v = object(value, what);
  const p = object(v.preview, `${what} (preview)`);
  const dim = (x: unknown): boolean => isCount(65_535)(x) && (x as number) >= 1;
  return {
    owner_id: field(v, what, 'owner_id', isUserId, UUID),
    owner_username: field(v, what, 'owner_username', isUsername, 'a username'),
    image_id: field(v, what, 'image_id', isImageId, 'an image id'),
    title: field(v, what, 'title', isTitle, '1..200 characters'),
    preview: {
      width: field(p, what, 'width', dim, '1..65535'),
      height: field(p, what, 'height', dim, '1..65535'),
      media_type: field(
        p,
        what,
        'media_type',
        (x) => typeof x === 'string' && /^image\/[a-z0-9.+-]{1,90}$/.test(x),
        'image/<type>',
      ),
      size_bytes: field(p, what, 'size_bytes', isCount(1024 ** 3), 'a size'),
    },
    created_at_ms: field(v, what, 'created_at_ms', isTime, 'a time'),
    updated_at_ms: field(v, what, 'updated_at_ms', isTime, 'a time'),
  };
}

export function checkRequest(value: unknown, what = 'a request'): WireRequest {
  const v = object(value, what);
  return {
    request_id: field(v, what, 'request_id', isUserId, UUID),
    owner_id: field(v, what, 'owner_id', isUserId, UUID),
    image_id: field(v, what, 'image_id', isImageId, 'an image id'),
    requester_id: field(v, what, 'requester_id', isUserId, UUID),
    requester_username: field(v, what, 'requester_username', isUsername, 'a username'),
    owner_username: field(v, what, 'owner_username', isUsername, 'a username'),
    views: field(v, what, 'views', (x) => isCount(10_000)(x) && (x as number) >= 1, '1..10000'),
    kind: field(
      v,
      what,
      'kind',
      (x) => x === 'access' || x === 'more_views',
      '"access" or "more_views"',
    ),
    status: field(
      v,
      what,
      'status',
      (x) => x === 'pending' || x === 'accepted' || x === 'rejected',
      'pending, accepted or rejected',
    ),
    created_at_ms: field(v, what, 'created_at_ms', isTime, 'a time'),
    answered_at_ms: field(
      v,
      what,
      'answered_at_ms',
      (x) => x === null || isTime(x),
      'null or a time',
    ),
  };
}

export function checkGrant(value: unknown, what = 'a grant'): WireGrant {
  const v = object(value, what);
  return {
    owner_id: field(v, what, 'owner_id', isUserId, UUID),
    image_id: field(v, what, 'image_id', isImageId, 'an image id'),
    viewer_id: field(v, what, 'viewer_id', isUserId, UUID),
    owner_username: field(v, what, 'owner_username', isUsername, 'a username'),
    viewer_username: field(v, what, 'viewer_username', isUsername, 'a username'),
    quota: field(v, what, 'quota', isCount(1_000_000), '0..1000000'),
    version: field(
      v,
      what,
      'version',
      (x) => isCount(0xffff_ffff)(x) && (x as number) >= 1,
      '1..2^32-1',
    ),
    revoked: field(v, what, 'revoked', isBool, 'true or false'),
    created_at_ms: field(v, what, 'created_at_ms', isTime, 'a time'),
    updated_at_ms: field(v, what, 'updated_at_ms', isTime, 'a time'),
  };
}

export function checkUpdate(value: unknown): WireUpdate {
  const what = 'a queued update';
  const v = object(value, what);
  const base = {
    update_id: field<number>(
      v,
      what,
      'update_id',
      (x) => isTime(x) && (x as number) >= 1,
      'a positive integer',
    ),
    recipient_id: field<string>(v, what, 'recipient_id', isUserId, UUID),
    created_at_ms: field<number>(v, what, 'created_at_ms', isTime, 'a time'),
  };
  switch (v.kind) {
    case 'request_created':
      return { ...base, kind: 'request_created', request: checkRequest(v.request, what) };
    case 'request_answered':
      return {
        ...base,
        kind: 'request_answered',
        request: checkRequest(v.request, what),
        ...(v.grant === undefined || v.grant === null ? {} : { grant: checkGrant(v.grant, what) }),
      };
    case 'grant_updated':
    case 'grant_revoked':
      return { ...base, kind: v.kind, grant: checkGrant(v.grant, what) };
    default:
      throw new BadDirectoryAnswer(what, `an unknown kind ${JSON.stringify(v.kind)}`);
  }
}

export function checkHeartbeat(value: unknown, what = 'a heartbeat'): HeartbeatReply {
  const v = object(value, what);
  const p = object(v.presence, what);
  return {
    presence: {
      user_id: field(p, what, 'user_id', isUserId, UUID),
      username: field(p, what, 'username', isUsername, 'a username'),
      online: field(p, what, 'online', isBool, 'true or false'),
      address: field(
        p,
        what,
        'address',
        (x) => x === null || typeof x === 'string',
        'null or text',
      ),
      port: field(p, what, 'port', (x) => x === null || isCount(65_535)(x), 'null or a port'),
      last_seen_at_ms: field(
        p,
        what,
        'last_seen_at_ms',
        (x) => x === null || isTime(x),
        'null or a time',
      ),
    },
    pending_updates: field(v, what, 'pending_updates', isCount(1_000_000), 'a count'),
  };
}

/** Checks a page of items; at most 500 per page, as the directory promises. */
export function checkPage<T>(
  value: unknown,
  item: (x: unknown) => T,
  what: string,
): { items: T[]; next_cursor: string | null } {
  const v = object(value, what);
  if (!Array.isArray(v.items) || v.items.length > 500)
    throw new BadDirectoryAnswer(what, 'a page that is not a list of at most 500 items');
  const cursor = v.next_cursor;
  if (cursor !== null && (typeof cursor !== 'string' || cursor.length > 512))
    throw new BadDirectoryAnswer(what, 'an invalid next_cursor');
  return { items: v.items.map(item), next_cursor: cursor };
}
