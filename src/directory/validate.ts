/**
 * The store's checks of its arguments, as schemas. The store is a contract with every caller
 * (the server's handlers, tests, tools), not only with the server that already checked a
 * request against the op table, so it refuses bad input itself with `invalid_argument`, naming
 * the field, what it got and what is allowed.
 *
 * One rule per value: ids come from src/protocol/ids.ts and the numbers, roles and previews from
 * the op table (src/protocol/directory-ops.ts). Only what the store checks more closely than a
 * request is defined here: titles (counted in code points, no line separators or lone
 * surrogates, which not every backend stores the same way), addresses (a real IP address or
 * host name, never a wildcard) and public keys (raw bytes, not hex). The rules are the same for
 * every backend, so SQLite (which does not enforce column widths) behaves like PostgreSQL and
 * MySQL, and MySQL's case-insensitive collations never matter: ids, usernames and nonces are
 * lowercase by rule.
 */
import { isIP } from 'node:net';
import { invalidArgument } from './errors.js';
import { FIELD_LIMITS } from './limits.js';
import {
  ExpectedVersion,
  GrantRole,
  PageLimit,
  Port,
  Preview,
  Quota,
  RequestDecision,
  RequestRole,
  RequestStatus,
  UpdateIds,
  Views,
} from '../protocol/directory-ops.js';
import { ImageId, Nonce, RequestId, UserId, Username, ViewId } from '../protocol/ids.js';
import {
  Bool,
  Tolerant,
  Optional,
  describeIssue,
  parseFirst,
  v,
  type Infer,
  type Schema,
} from '../protocol/schema.js';

export { ImageId, Nonce, RequestId, UserId, Username, ViewId };

export const PUBLIC_KEY_BYTES = 32;

export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `${JSON.stringify(shown)} (${value.length} characters)`;
  }
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** `value` as `schema` allows it, else `invalid_argument`: "<field>: expected …; got …". */
export function check<S extends Schema>(schema: S, value: unknown, field: string): Infer<S> {
  const result = parseFirst(schema, value);
  if (result.ok) return result.value;
  throw invalidArgument(
    `${describeIssue(result.issue, field)}; got ${describeValue(result.issue.input)}`,
  );
}

// ---- What the store checks more closely than a request ----------------------------------------

/** Control characters and lone UTF-16 surrogates: not storable the same way everywhere. */
const UNSAFE_TEXT = /[\p{Cc}\p{Cs}\u2028\u2029]/u;
const TITLE_RULE = `1–${FIELD_LIMITS.title_max_chars} characters without control characters, line separators or lone surrogates`;

/** Counted in code points (a code point is at most two UTF-16 units: huge strings are refused
 * before they are split). */
export const Title = v.pipe(
  v.string(`expected ${TITLE_RULE}`),
  v.check(
    (text) =>
      text.length <= 2 * FIELD_LIMITS.title_max_chars &&
      [...text].length >= 1 &&
      [...text].length <= FIELD_LIMITS.title_max_chars &&
      !UNSAFE_TEXT.test(text),
    `expected ${TITLE_RULE}`,
  ),
);

const HOSTNAME_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
const UNSPECIFIED_ADDRESSES = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0']);
const ADDRESS_RULE = `an IP address or a host name (at most ${FIELD_LIMITS.address_max_chars} characters)`;

function isAddress(text: string): boolean {
  if (text.length === 0 || text.length > FIELD_LIMITS.address_max_chars) return false;
  return isIP(text) !== 0 || text.split('.').every((label) => HOSTNAME_LABEL.test(label));
}

/** An IPv4/IPv6 literal or a DNS name: where a peer agent listens, as peers will dial it. */
export const Address = v.pipe(
  v.string(`expected ${ADDRESS_RULE}`),
  v.check(
    (text) => !UNSPECIFIED_ADDRESSES.has(text),
    "a wildcard, not an address peers can connect to; publish the agent's reachable address",
  ),
  v.check(isAddress, `expected ${ADDRESS_RULE}`),
);

const PUBLIC_KEY_RULE = `a raw Ed25519 public key of ${PUBLIC_KEY_BYTES} bytes`;
export const PublicKeyBytes = v.pipe(
  v.instance(Uint8Array, `expected ${PUBLIC_KEY_RULE}`),
  v.check((bytes) => bytes.length === PUBLIC_KEY_BYTES, `expected ${PUBLIC_KEY_RULE}`),
);

// ---- The store's arguments ------------------------------------------------------------------

/** Cursors are decoded on their own (src/directory/cursor.ts says what is wrong with one). */
const PageFields = { limit: Optional(PageLimit), cursor: v.optional(v.unknown()) } as const;
const ImageKeyFields = { owner_id: UserId, image_id: ImageId } as const;
const GrantKeyFields = { ...ImageKeyFields, viewer_id: UserId } as const;

export const Registration = Tolerant({ username: Username, public_key: PublicKeyBytes });
export const PresenceInput = Tolerant({ user_id: UserId, address: Address, port: Port });
export const PageInput = Tolerant(PageFields);
export const ImageKeyInput = Tolerant(ImageKeyFields);
export const ImageOffer = Tolerant({ ...ImageKeyFields, title: Title, preview: Tolerant(Preview) });
export const ImageQuery = Tolerant({
  owner_id: Optional(UserId),
  online_only: Optional(Bool()),
  ...PageFields,
});
export const NewRequest = Tolerant({
  ...ImageKeyFields,
  requester_id: UserId,
  views: Views,
  request_id: Optional(RequestId),
});
export const RequestAnswer = Tolerant({ request_id: RequestId, decision: RequestDecision });
export const RequestQuery = Tolerant({
  role: RequestRole,
  status: Optional(RequestStatus),
  ...PageFields,
});
export const GrantKeyInput = Tolerant(GrantKeyFields);
export const GrantChange = Tolerant({
  ...GrantKeyFields,
  quota: Quota,
  expected_version: Optional(ExpectedVersion),
});
export const GrantRevocation = Tolerant({
  ...GrantKeyFields,
  expected_version: Optional(ExpectedVersion),
});
export const ViewReport = Tolerant({ ...GrantKeyFields, consumed: Quota });
export const ViewUse = Tolerant({ ...GrantKeyFields, view_id: ViewId });
export const GrantQuery = Tolerant({ role: GrantRole, ...PageFields });
export { UpdateIds };

/** A page's size: the default when the caller gave none. */
export function pageLimit(limit: number | undefined): number {
  return limit ?? FIELD_LIMITS.page_size_default;
}
