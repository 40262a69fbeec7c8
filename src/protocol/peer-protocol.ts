/**
 * The peer-to-peer protocol between two users' agents: its own message table on the same
 * frames as the cloud (src/protocol/frame.ts), with cluster id 0. Pure (no I/O); the sessions
 * that speak it are in src/peer/p2p-session.ts; docs/SHARING.md explains the flows.
 *
 * Connections are TLS 1.3 (src/peer/p2p-tls.ts): each agent presents a certificate of its own
 * Ed25519 identity key, and each side checks that key against the directory's key for the user
 * it talks to. On top of that, a two-message handshake names the users:
 *
 *   dialer -> listener  PeerHello   { user_id, username }   (request)
 *   listener -> dialer  PeerWelcome { user_id, username }   (reply)
 *
 * The listener refuses a PeerHello whose user's registered key is not the TLS certificate's key;
 * the dialer checked the listener's certificate before saying anything and refuses a Welcome
 * naming another user. (Protocol 2: protocol 1 ran in clear TCP and proved keys by signing
 * nonces in PeerHello/PeerWelcome/PeerAuth; code 3 stays unused.) Nothing else is accepted
 * before this completes.
 *
 * After that both sides may send requests over the connection (request id: odd from the
 * dialer, even from the listener; a reply echoes the id). Codes:
 *
 *   1..15    handshake          16..31  previews        32..47  requests, copies, rights
 *   48       Ack                255     PeerError
 */
import { MessageCodec, type MessageSpec } from './codec.js';
import { ErrorCode, ImageId, RequestId, Sha256Hex, SignatureHex, UserId, Username } from './ids.js';
import {
  AnyText,
  Bool,
  Int,
  List,
  Literal,
  Optional,
  Strict,
  Text,
  describeIssue,
  parseFirst,
  v,
  type Infer,
  type Schema,
} from './schema.js';

export const P2P_CLUSTER_ID = 0;

/** Limits that are part of the protocol (both sides enforce them). */
export const PEER_LIMITS = {
  /** Largest frame body: one copy chunk plus its metadata. */
  max_frame_body_bytes: 4 * 1024 * 1024 + 64 * 1024,
  max_meta_bytes: 64 * 1024,
  /** Largest chunk of a copy in one CopyPart. */
  max_chunk_bytes: 4 * 1024 * 1024,
  /** Largest copy (a stego PNG); the stego engine refuses bigger files anyway. */
  max_copy_bytes: 64 * 1024 * 1024,
  /** Largest preview (a small JPEG). */
  max_preview_bytes: 64 * 1024,
  /** Longest side of a preview in pixels. */
  max_preview_side: 160,
  /** Images in one PreviewList. */
  max_preview_list: 200,
  max_title_chars: 200,
  max_error_chars: 1000,
} as const;

const MAX_VERSION = 0xffff_ffff;
const MAX_QUOTA = 1_000_000;

/** A peer message: `type` and exactly these fields; an unknown field is refused. */
function peer<const T extends string, const E extends v.ObjectEntries>(type: T, fields: E) {
  return Strict({ type: Literal(type), ...fields });
}

const Version = Int(1, MAX_VERSION);
/** Pixel sizes of a full image. */
const Side = Int(1, 65_535);
const PreviewSide = Int(1, PEER_LIMITS.max_preview_side);
const PreviewBytes = Int(1, PEER_LIMITS.max_preview_bytes);
const CopyOffset = Int(0, PEER_LIMITS.max_copy_bytes);

// ---- Handshake ------------------------------------------------------------------------------

export const PeerHello = peer('PeerHello', { user_id: UserId, username: Username });
export const PeerWelcome = peer('PeerWelcome', { user_id: UserId, username: Username });

// ---- Previews -------------------------------------------------------------------------------

export const PreviewListRequest = peer('PreviewListRequest', {});
export const PreviewEntry = Strict({
  image_id: ImageId,
  title: Text(PEER_LIMITS.max_title_chars),
  /** Size of the full image. */
  width: Side,
  height: Side,
  preview_size_bytes: PreviewBytes,
});
export const PreviewList = peer('PreviewList', {
  images: List(PreviewEntry, PEER_LIMITS.max_preview_list),
});
export const PreviewRequest = peer('PreviewRequest', { image_id: ImageId });
/** Binary: the preview JPEG, `size_bytes` long. */
export const Preview = peer('Preview', {
  image_id: ImageId,
  media_type: Literal('image/jpeg'),
  width: PreviewSide,
  height: PreviewSide,
  size_bytes: PreviewBytes,
});

// ---- Requests, copies, rights ----------------------------------------------------------------

/** "A request for you is in the directory": the owner takes its queued updates now. */
export const RequestNotice = peer('RequestNotice', { request_id: RequestId });
/** Owner -> viewer: "your copy of image_id is ready"; the viewer pulls it with CopyFetch. */
export const CopyAvailable = peer('CopyAvailable', { image_id: ImageId, version: Version });
/** Viewer -> owner: bytes [offset, offset + length) of my copy of image_id. */
export const CopyFetch = peer('CopyFetch', {
  image_id: ImageId,
  offset: CopyOffset,
  length: Int(1, PEER_LIMITS.max_chunk_bytes),
});
/** Binary: `size_bytes` bytes of the copy starting at `offset`. */
export const CopyPart = v.pipe(
  peer('CopyPart', {
    image_id: ImageId,
    /** Rights version signed inside this copy. */
    version: Version,
    total_bytes: Int(1, PEER_LIMITS.max_copy_bytes),
    /** SHA-256 of the whole copy, hex. */
    sha256: Sha256Hex,
    offset: CopyOffset,
    size_bytes: Int(0, PEER_LIMITS.max_chunk_bytes),
  }),
  v.check(
    (part) => part.offset + part.size_bytes <= part.total_bytes,
    'offset + size_bytes runs past total_bytes',
  ),
);
/**
 * Owner -> viewer: new rights for the viewer's copy. `signature` is the owner's Ed25519
 * signature over rightsSignedBytesFromDigest({owner, image_id, viewers: [{viewer, quota'}]},
 * version, digest of the copy's image section), where quota' = revoked ? 0 : quota.
 */
export const RightsUpdate = peer('RightsUpdate', {
  image_id: ImageId,
  quota: Int(0, MAX_QUOTA),
  version: Version,
  revoked: Bool(),
  signature: SignatureHex,
});

// ---- Replies to anything ----------------------------------------------------------------------

export const Ack = peer('Ack', {
  /** Optional note for logs ("already had it", "stale version"). */
  detail: Optional(Text(200)),
});
export const PeerError = peer('PeerError', {
  code: ErrorCode,
  message: AnyText(PEER_LIMITS.max_error_chars),
});

/** THE peer message table: type -> schema. */
export const PEER_MESSAGE_SCHEMAS = {
  PeerHello,
  PeerWelcome,
  PreviewListRequest,
  PreviewList,
  PreviewRequest,
  Preview,
  RequestNotice,
  CopyAvailable,
  CopyFetch,
  CopyPart,
  RightsUpdate,
  Ack,
  PeerError,
} as const satisfies Record<string, Schema>;

type Table = typeof PEER_MESSAGE_SCHEMAS;
export type PeerMessageType = keyof Table;
export type PeerMessage = Infer<Table[PeerMessageType]>;

export type PeerHello = Infer<typeof PeerHello>;
export type PeerWelcome = Infer<typeof PeerWelcome>;
export type PreviewListRequest = Infer<typeof PreviewListRequest>;
export type PreviewEntry = Infer<typeof PreviewEntry>;
export type PreviewList = Infer<typeof PreviewList>;
export type PreviewRequest = Infer<typeof PreviewRequest>;
export type Preview = Infer<typeof Preview>;
export type RequestNotice = Infer<typeof RequestNotice>;
export type CopyAvailable = Infer<typeof CopyAvailable>;
export type CopyFetch = Infer<typeof CopyFetch>;
export type CopyPart = Infer<typeof CopyPart>;
export type RightsUpdate = Infer<typeof RightsUpdate>;
export type Ack = Infer<typeof Ack>;
export type PeerError = Infer<typeof PeerError>;

/** Table keys that are not their schema's `type`. */
type MisKeyed = {
  [K in PeerMessageType]: Infer<Table[K]>['type'] extends K ? never : K;
}[PeerMessageType];
/** Fails to compile, naming the key, when a table key is not its schema's `type`. */
export const PEER_TABLE_KEYS_ARE_TYPES: [MisKeyed] extends [never] ? true : MisKeyed = true;

const none = { kind: 'none' } as const;

export const PEER_MESSAGE_SPECS: readonly MessageSpec[] = [
  { code: 1, type: 'PeerHello', binary: none },
  { code: 2, type: 'PeerWelcome', binary: none },
  { code: 16, type: 'PreviewListRequest', binary: none },
  { code: 17, type: 'PreviewList', binary: none },
  { code: 18, type: 'PreviewRequest', binary: none },
  { code: 19, type: 'Preview', binary: { kind: 'sized', lengthField: 'size_bytes' } },
  { code: 32, type: 'RequestNotice', binary: none },
  { code: 33, type: 'CopyAvailable', binary: none },
  { code: 34, type: 'CopyFetch', binary: none },
  { code: 35, type: 'CopyPart', binary: { kind: 'sized', lengthField: 'size_bytes' } },
  { code: 36, type: 'RightsUpdate', binary: none },
  { code: 48, type: 'Ack', binary: none },
  { code: 255, type: 'PeerError', binary: none },
];

/** Messages that answer a request (everything else is a request). */
export const PEER_REPLY_TYPES: ReadonlySet<PeerMessageType> = new Set<PeerMessageType>([
  'PeerWelcome',
  'PreviewList',
  'Preview',
  'CopyPart',
  'Ack',
  'PeerError',
]);

// ---- Validation ------------------------------------------------------------------------------

export type PeerValidationResult =
  { ok: true; message: PeerMessage } | { ok: false; error: string };

const KNOWN_TYPES = Object.keys(PEER_MESSAGE_SCHEMAS).join(', ');

function isPeerMessageType(type: unknown): type is PeerMessageType {
  return typeof type === 'string' && Object.hasOwn(PEER_MESSAGE_SCHEMAS, type);
}

/**
 * Checks a peer message's metadata against its type's schema: the codec runs it on every
 * decoded frame. Errors name the type and the field ("CopyFetch.offset: expected …"). Never
 * throws.
 */
export function validatePeerMessage(value: unknown): PeerValidationResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, error: 'a peer message must be a JSON object' };
  const type = 'type' in value ? value.type : undefined;
  if (!isPeerMessageType(type))
    return {
      ok: false,
      error: `unknown peer message type ${JSON.stringify(type)}; known: ${KNOWN_TYPES}`,
    };
  const result = parseFirst(PEER_MESSAGE_SCHEMAS[type], value);
  return result.ok
    ? { ok: true, message: result.value }
    : { ok: false, error: describeIssue(result.issue, type) };
}

export function createPeerCodec(): MessageCodec<PeerMessage> {
  return new MessageCodec<PeerMessage>(PEER_MESSAGE_SPECS, validatePeerMessage);
}

/** Cuts a text to what PeerError.message allows. */
export function peerErrorText(message: string): string {
  return message.length <= PEER_LIMITS.max_error_chars
    ? message
    : `${message.slice(0, PEER_LIMITS.max_error_chars - 1)}…`;
}
