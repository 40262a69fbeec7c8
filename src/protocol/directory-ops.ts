/**
 * THE table of directory operations: for each op, who may call it, the schema of its
 * arguments and the schema of its answer. The server (src/server/directory-service.ts) checks
 * a request's arguments with it once, before its handler (src/server/directory-handlers.ts)
 * runs; the agent's `DirectoryClient.call<Op>` takes `OpArgs<Op>` and checks the answer with
 * it, returning `OpAnswer<Op>`. Both types are derived from the schemas, never written twice.
 *
 * A new op = one entry here, one handler, one store method. Answers travel as JSON with
 * binary values (public keys) as lowercase hex; answer schemas ignore fields they do not know
 * (a newer server may add some), argument schemas refuse them. Pure and browser-safe.
 */
import { FIELD_LIMITS, MEDIA_TYPE_PATTERN, MEDIA_TYPE_RULE } from './directory-limits.js';
import {
  ImageId,
  Nonce,
  PublicKeyHex,
  RequestId,
  SignatureHex,
  UserId,
  Username,
  ViewId,
} from './ids.js';
import {
  AnyText,
  Bool,
  Int,
  List,
  Literal,
  Nullable,
  OneOf,
  Optional,
  Pattern,
  Strict,
  Text,
  Variant,
  v,
  type Infer,
  type Schema,
} from './schema.js';

// ---- Shared pieces ----------------------------------------------------------------------------

// Exported where the directory store checks the same value (src/directory/validate.ts).
const L = FIELD_LIMITS;
export const Time = Int(0, Number.MAX_SAFE_INTEGER, 'a time in ms since 1970');
export const Port = Int(1, 65_535, 'a port from 1 to 65535');
export const Views = Int(1, L.views_per_request_max);
export const Quota = Int(0, L.quota_max);
export const GrantVersion = Int(1, 0xffff_ffff);
export const UpdateId = Int(1, Number.MAX_SAFE_INTEGER);
export const ExpectedVersion = Int(0, Number.MAX_SAFE_INTEGER);
export const PageLimit = Int(1, L.page_size_max);
export const UpdateIds = List(UpdateId, L.ack_ids_max);
export const GrantRole = OneOf(['owner', 'viewer']);
export const RequestRole = OneOf(['owner', 'requester']);
export const RequestStatus = OneOf(['pending', 'accepted', 'rejected']);
export const RequestDecision = OneOf(['accepted', 'rejected']);
export const RequestKind = OneOf(['access', 'more_views']);
const Cursor = AnyText(L.cursor_max_chars);
/** The store counts titles in code points (and says what is allowed); a code point is at most
 * two UTF-16 units, so a schema's length check allows twice the limit. */
const TitleArg = AnyText(2 * L.title_max_chars);
const Title = Text(2 * L.title_max_chars);
const PageArgs = { limit: Optional(PageLimit), cursor: Optional(Cursor) } as const;
const Dimension = Int(1, L.image_dimension_max);
export const Preview = {
  width: Dimension,
  height: Dimension,
  media_type: Pattern(MEDIA_TYPE_PATTERN, MEDIA_TYPE_RULE),
  size_bytes: Int(0, L.image_size_max_bytes),
} as const;
/** Where an agent listens, as the store accepted it (it checks the address properly). */
const ADDRESS_CHARS = new RegExp(`^[A-Za-z0-9.:[\\]-]{1,${L.address_max_chars}}$`);
const Done = v.object({ ok: Literal(true) });

function PageOf<S extends Schema>(item: S) {
  return v.object({ items: List(item, L.page_size_max), next_cursor: Nullable(Cursor) });
}

// ---- Answers (wire records; src/directory/store.ts documents each field) --------------------

export const WireUser = v.object({
  user_id: UserId,
  username: Username,
  public_key: PublicKeyHex,
  created_at_ms: Time,
});
export const WireOnlineUser = v.object({
  user_id: UserId,
  username: Username,
  public_key: PublicKeyHex,
  address: Pattern(ADDRESS_CHARS, 'an IP address or host name'),
  port: Port,
  last_seen_at_ms: Time,
});
export const WireImage = v.object({
  owner_id: UserId,
  owner_username: Username,
  image_id: ImageId,
  title: Title,
  preview: v.object(Preview),
  created_at_ms: Time,
  updated_at_ms: Time,
});
export const WireRequest = v.object({
  request_id: RequestId,
  owner_id: UserId,
  image_id: ImageId,
  requester_id: UserId,
  requester_username: Username,
  owner_username: Username,
  views: Views,
  kind: RequestKind,
  status: RequestStatus,
  created_at_ms: Time,
  answered_at_ms: Nullable(Time),
});
export const WireGrant = v.object({
  owner_id: UserId,
  image_id: ImageId,
  viewer_id: UserId,
  owner_username: Username,
  viewer_username: Username,
  quota: Quota,
  /** Views the viewer reported using (record_views); absent in updates queued before it existed. */
  views_used: v.optional(Quota),
  version: GrantVersion,
  revoked: Bool(),
  created_at_ms: Time,
  updated_at_ms: Time,
});
const UpdateBase = {
  update_id: UpdateId,
  recipient_id: UserId,
  created_at_ms: Time,
} as const;
export const WireUpdate = Variant('kind', [
  v.object({ ...UpdateBase, kind: Literal('request_created'), request: WireRequest }),
  v.object({
    ...UpdateBase,
    kind: Literal('request_answered'),
    request: WireRequest,
    grant: Optional(WireGrant),
  }),
  v.object({ ...UpdateBase, kind: Literal('grant_updated'), grant: WireGrant }),
  v.object({ ...UpdateBase, kind: Literal('grant_revoked'), grant: WireGrant }),
]);
export const WirePresence = v.object({
  user_id: UserId,
  username: Username,
  online: Bool(),
  address: Nullable(AnyText(L.address_max_chars)),
  port: Nullable(Int(0, 65_535)),
  last_seen_at_ms: Nullable(Time),
});
export const HeartbeatReply = v.object({
  presence: WirePresence,
  pending_updates: Int(0, 1_000_000),
});
export const WireChallenge = v.object({
  user_id: UserId,
  nonce: Nonce,
  issued_at_ms: Time,
  expires_at_ms: Time,
});

export type WireUser = Infer<typeof WireUser>;
export type WireOnlineUser = Infer<typeof WireOnlineUser>;
export type WireImage = Infer<typeof WireImage>;
export type WireRequest = Infer<typeof WireRequest>;
export type WireGrant = Infer<typeof WireGrant>;
export type WireUpdate = Infer<typeof WireUpdate>;
export type WirePresence = Infer<typeof WirePresence>;
export type HeartbeatReply = Infer<typeof HeartbeatReply>;
export type Page<T> = { items: T[]; next_cursor: string | null };

// ---- The table ------------------------------------------------------------------------------

/** Who may call an op: anyone (it proves what it needs itself), or a user who signs it. */
type Caller = 'anyone' | 'user';

interface OpSpec {
  readonly caller: Caller;
  readonly args: Schema;
  readonly answer: Schema;
}

/** An op anyone may call: it proves what it needs itself (a key, a challenge's answer). */
function anyone<const A extends v.ObjectEntries, R extends Schema>(args: A, answer: R) {
  return { caller: 'anyone', args: Strict(args), answer } as const satisfies OpSpec;
}

/** An op a user signs: it acts for that user, whom the signature proves. */
function user<const A extends v.ObjectEntries, R extends Schema>(args: A, answer: R) {
  return { caller: 'user', args: Strict(args), answer } as const satisfies OpSpec;
}

export const DIRECTORY_OP_TABLE = {
  // Identity: register proves key possession, login answers a challenge; neither is signed.
  register: anyone({ username: Username, public_key: PublicKeyHex, proof: SignatureHex }, WireUser),
  challenge: anyone({ username: Username }, WireChallenge),
  login: anyone(
    {
      user_id: UserId,
      nonce: Nonce,
      signature: SignatureHex,
      address: AnyText(L.address_max_chars),
      port: Port,
    },
    HeartbeatReply,
  ),
  heartbeat: user({}, HeartbeatReply),
  logout: user({}, Done),
  /** Exactly one of the two keys (the handler says so when not). */
  get_user: user({ user_id: Optional(UserId), username: Optional(Username) }, WireUser),

  // Discovery
  list_online: user(PageArgs, PageOf(WireOnlineUser)),
  offer_image: user({ image_id: ImageId, title: TitleArg, preview: Strict(Preview) }, WireImage),
  withdraw_image: user({ image_id: ImageId }, Done),
  list_images: user(
    { owner_id: Optional(UserId), online_only: Optional(Bool()), ...PageArgs },
    PageOf(WireImage),
  ),

  // Requests and grants
  create_request: user(
    { owner_id: UserId, image_id: ImageId, views: Views, request_id: Optional(RequestId) },
    WireRequest,
  ),
  answer_request: user(
    { request_id: RequestId, decision: RequestDecision },
    v.object({ request: WireRequest, grant: Optional(WireGrant) }),
  ),
  list_requests: user(
    {
      role: RequestRole,
      status: Optional(RequestStatus),
      ...PageArgs,
    },
    PageOf(WireRequest),
  ),
  set_grant: user(
    {
      image_id: ImageId,
      viewer_id: UserId,
      quota: Quota,
      expected_version: Optional(ExpectedVersion),
    },
    WireGrant,
  ),
  revoke_grant: user(
    { image_id: ImageId, viewer_id: UserId, expected_version: Optional(ExpectedVersion) },
    WireGrant,
  ),
  /** One grant as it stands, for its owner or its viewer; null when there is none. Owners read
   * it before changing it, so the change can name the version it starts from. */
  get_grant: user(
    { owner_id: UserId, image_id: ImageId, viewer_id: UserId },
    v.object({ grant: Nullable(WireGrant) }),
  ),
  list_grants: user({ role: GrantRole, ...PageArgs }, PageOf(WireGrant)),
  record_views: user(
    { owner_id: UserId, image_id: ImageId, consumed: Quota },
    v.object({ consumed: Quota }),
  ),
  /** One view used before it is shown: granted only while not revoked and views are left. The
   * agent's view_id makes a retry of the same view (at any server) answer without a second use. */
  consume_view: user(
    { owner_id: UserId, image_id: ImageId, view_id: ViewId },
    v.object({
      granted: Bool(),
      consumed: Quota,
      quota: Quota,
      revoked: Bool(),
      version: GrantVersion,
    }),
  ),

  // Updates queued for offline users
  take_updates: user({ limit: Optional(PageLimit) }, List(WireUpdate, L.page_size_max)),
  ack_updates: user({ update_ids: UpdateIds }, v.object({ acknowledged: Int(0, L.ack_ids_max) })),
} as const;

type Table = typeof DIRECTORY_OP_TABLE;
export type DirectoryOp = keyof Table;
/** The arguments of an op, as its caller gives them and its handler receives them. */
export type OpArgs<Op extends DirectoryOp> = Infer<Table[Op]['args']>;
/** An op's answer as the client returns it, checked. */
export type OpAnswer<Op extends DirectoryOp> = Infer<Table[Op]['answer']>;
/** Ops a user must sign. */
export type SignedOp = {
  [Op in DirectoryOp]: Table[Op]['caller'] extends 'user' ? Op : never;
}[DirectoryOp];

export const DIRECTORY_OPS = Object.keys(DIRECTORY_OP_TABLE) as DirectoryOp[];

export function isDirectoryOp(value: unknown): value is DirectoryOp {
  return typeof value === 'string' && Object.hasOwn(DIRECTORY_OP_TABLE, value);
}

/** True when the op must carry a signed `auth` block. */
export function isSignedOp(op: DirectoryOp): op is SignedOp {
  return DIRECTORY_OP_TABLE[op].caller === 'user';
}
