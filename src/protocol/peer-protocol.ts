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
import { MessageCodec, type MessageSpec, type Validator } from './codec.js';
import {
  ERROR_CODE_PATTERN,
  ERROR_CODE_RULE,
  HEX_32_BYTES_PATTERN,
  HEX_32_BYTES_RULE,
  HEX_64_BYTES_PATTERN,
  HEX_64_BYTES_RULE,
  IMAGE_ID_PATTERN,
  IMAGE_ID_RULE,
  USERNAME_PATTERN,
  USERNAME_RULE,
  UUID_PATTERN,
  UUID_RULE,
} from './ids.js';

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

export interface PeerHello {
  type: 'PeerHello';
  user_id: string;
  username: string;
}
export interface PeerWelcome {
  type: 'PeerWelcome';
  user_id: string;
  username: string;
}
export interface PreviewListRequest {
  type: 'PreviewListRequest';
}
export interface PreviewEntry {
  image_id: string;
  title: string;
  /** Size of the full image. */
  width: number;
  height: number;
  preview_size_bytes: number;
}
export interface PreviewList {
  type: 'PreviewList';
  images: PreviewEntry[];
}
export interface PreviewRequest {
  type: 'PreviewRequest';
  image_id: string;
}
/** Binary: the preview JPEG, `size_bytes` long. */
export interface Preview {
  type: 'Preview';
  image_id: string;
  media_type: 'image/jpeg';
  width: number;
  height: number;
  size_bytes: number;
}
/** "A request for you is in the directory": the owner takes its queued updates now. */
export interface RequestNotice {
  type: 'RequestNotice';
  request_id: string;
}
/** Owner -> viewer: "your copy of image_id is ready"; the viewer pulls it with CopyFetch. */
export interface CopyAvailable {
  type: 'CopyAvailable';
  image_id: string;
  version: number;
}
/** Viewer -> owner: bytes [offset, offset + length) of my copy of image_id. */
export interface CopyFetch {
  type: 'CopyFetch';
  image_id: string;
  offset: number;
  length: number;
}
/** Binary: `size_bytes` bytes of the copy starting at `offset`. */
export interface CopyPart {
  type: 'CopyPart';
  image_id: string;
  /** Rights version signed inside this copy. */
  version: number;
  total_bytes: number;
  /** SHA-256 of the whole copy, hex. */
  sha256: string;
  offset: number;
  size_bytes: number;
}
/**
 * Owner -> viewer: new rights for the viewer's copy. `signature` is the owner's Ed25519
 * signature over rightsSignedBytesFromDigest({owner, image_id, viewers: [{viewer, quota'}]},
 * version, digest of the copy's image section), where quota' = revoked ? 0 : quota.
 */
export interface RightsUpdate {
  type: 'RightsUpdate';
  image_id: string;
  quota: number;
  version: number;
  revoked: boolean;
  signature: string;
}
export interface Ack {
  type: 'Ack';
  /** Optional note for logs ("already had it", "stale version"). */
  detail?: string;
}
export interface PeerError {
  type: 'PeerError';
  code: string;
  message: string;
}

export type PeerMessage =
  | PeerHello
  | PeerWelcome
  | PreviewListRequest
  | PreviewList
  | PreviewRequest
  | Preview
  | RequestNotice
  | CopyAvailable
  | CopyFetch
  | CopyPart
  | RightsUpdate
  | Ack
  | PeerError;
export type PeerMessageType = PeerMessage['type'];

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

type Result = ReturnType<Validator>;
type Fields = Record<string, unknown>;

class Invalid extends Error {}

function fail(message: string): never {
  throw new Invalid(message);
}

function onlyKeys(type: string, value: Fields, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (key !== 'type' && !allowed.includes(key))
      fail(`${type}: unknown field "${key}"; allowed: ${allowed.join(', ') || 'none'}`);
  }
}

function str(type: string, value: Fields, key: string, pattern: RegExp, rule: string): string {
  const v = value[key];
  if (typeof v !== 'string' || !pattern.test(v)) fail(`${type}.${key}: expected ${rule}`);
  return v;
}

function int(type: string, value: Fields, key: string, min: number, max: number): number {
  const v = value[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    fail(`${type}.${key}: expected an integer from ${min} to ${max}`);
  return v;
}

function text(type: string, value: Fields, key: string, maxChars: number): string {
  const v = value[key];
  // No control characters: these strings end up in terminals and logs.
  if (typeof v !== 'string' || v.length === 0 || v.length > maxChars || /\p{Cc}/u.test(v))
    fail(`${type}.${key}: expected 1..${maxChars} characters without control characters`);
  return v;
}

const userId = (t: string, v: Fields): string => str(t, v, 'user_id', UUID_PATTERN, UUID_RULE);
const username = (t: string, v: Fields): string =>
  str(t, v, 'username', USERNAME_PATTERN, USERNAME_RULE);
const signature = (t: string, v: Fields): string =>
  str(t, v, 'signature', HEX_64_BYTES_PATTERN, HEX_64_BYTES_RULE);
const imageId = (t: string, v: Fields): string =>
  str(t, v, 'image_id', IMAGE_ID_PATTERN, IMAGE_ID_RULE);

const VALIDATORS: Record<PeerMessageType, (v: Fields) => PeerMessage> = {
  PeerHello: (v) => {
    onlyKeys('PeerHello', v, ['user_id', 'username']);
    return {
      type: 'PeerHello',
      user_id: userId('PeerHello', v),
      username: username('PeerHello', v),
    };
  },
  PeerWelcome: (v) => {
    onlyKeys('PeerWelcome', v, ['user_id', 'username']);
    return {
      type: 'PeerWelcome',
      user_id: userId('PeerWelcome', v),
      username: username('PeerWelcome', v),
    };
  },
  PreviewListRequest: (v) => {
    onlyKeys('PreviewListRequest', v, []);
    return { type: 'PreviewListRequest' };
  },
  PreviewList: (v) => {
    onlyKeys('PreviewList', v, ['images']);
    const images = v.images;
    if (!Array.isArray(images) || images.length > PEER_LIMITS.max_preview_list)
      fail(`PreviewList.images: expected a list of at most ${PEER_LIMITS.max_preview_list}`);
    return {
      type: 'PreviewList',
      images: images.map((entry, i) => {
        const where = `PreviewList.images[${i}]`;
        if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
          fail(`${where}: expected an object`);
        const e = entry as Fields;
        onlyKeys(where, e, ['image_id', 'title', 'width', 'height', 'preview_size_bytes']);
        return {
          image_id: imageId(where, e),
          title: text(where, e, 'title', PEER_LIMITS.max_title_chars),
          width: int(where, e, 'width', 1, 65_535),
          height: int(where, e, 'height', 1, 65_535),
          preview_size_bytes: int(where, e, 'preview_size_bytes', 1, PEER_LIMITS.max_preview_bytes),
        };
      }),
    };
  },
  PreviewRequest: (v) => {
    onlyKeys('PreviewRequest', v, ['image_id']);
    return { type: 'PreviewRequest', image_id: imageId('PreviewRequest', v) };
  },
  Preview: (v) => {
    onlyKeys('Preview', v, ['image_id', 'media_type', 'width', 'height', 'size_bytes']);
    if (v.media_type !== 'image/jpeg') fail('Preview.media_type: expected "image/jpeg"');
    return {
      type: 'Preview',
      image_id: imageId('Preview', v),
      media_type: 'image/jpeg',
      width: int('Preview', v, 'width', 1, PEER_LIMITS.max_preview_side),
      height: int('Preview', v, 'height', 1, PEER_LIMITS.max_preview_side),
      size_bytes: int('Preview', v, 'size_bytes', 1, PEER_LIMITS.max_preview_bytes),
    };
  },
  RequestNotice: (v) => {
    onlyKeys('RequestNotice', v, ['request_id']);
    return {
      type: 'RequestNotice',
      request_id: str('RequestNotice', v, 'request_id', UUID_PATTERN, UUID_RULE),
    };
  },
  CopyAvailable: (v) => {
    onlyKeys('CopyAvailable', v, ['image_id', 'version']);
    return {
      type: 'CopyAvailable',
      image_id: imageId('CopyAvailable', v),
      version: int('CopyAvailable', v, 'version', 1, MAX_VERSION),
    };
  },
  CopyFetch: (v) => {
    onlyKeys('CopyFetch', v, ['image_id', 'offset', 'length']);
    return {
      type: 'CopyFetch',
      image_id: imageId('CopyFetch', v),
      offset: int('CopyFetch', v, 'offset', 0, PEER_LIMITS.max_copy_bytes),
      length: int('CopyFetch', v, 'length', 1, PEER_LIMITS.max_chunk_bytes),
    };
  },
  CopyPart: (v) => {
    onlyKeys('CopyPart', v, [
      'image_id',
      'version',
      'total_bytes',
      'sha256',
      'offset',
      'size_bytes',
    ]);
    const part: CopyPart = {
      type: 'CopyPart',
      image_id: imageId('CopyPart', v),
      version: int('CopyPart', v, 'version', 1, MAX_VERSION),
      total_bytes: int('CopyPart', v, 'total_bytes', 1, PEER_LIMITS.max_copy_bytes),
      sha256: str('CopyPart', v, 'sha256', HEX_32_BYTES_PATTERN, HEX_32_BYTES_RULE),
      offset: int('CopyPart', v, 'offset', 0, PEER_LIMITS.max_copy_bytes),
      size_bytes: int('CopyPart', v, 'size_bytes', 0, PEER_LIMITS.max_chunk_bytes),
    };
    if (part.offset + part.size_bytes > part.total_bytes)
      fail('CopyPart: offset + size_bytes runs past total_bytes');
    return part;
  },
  RightsUpdate: (v) => {
    onlyKeys('RightsUpdate', v, ['image_id', 'quota', 'version', 'revoked', 'signature']);
    if (typeof v.revoked !== 'boolean') fail('RightsUpdate.revoked: expected true or false');
    return {
      type: 'RightsUpdate',
      image_id: imageId('RightsUpdate', v),
      quota: int('RightsUpdate', v, 'quota', 0, MAX_QUOTA),
      version: int('RightsUpdate', v, 'version', 1, MAX_VERSION),
      revoked: v.revoked,
      signature: signature('RightsUpdate', v),
    };
  },
  Ack: (v) => {
    onlyKeys('Ack', v, ['detail']);
    if (v.detail === undefined) return { type: 'Ack' };
    return { type: 'Ack', detail: text('Ack', v, 'detail', 200) };
  },
  PeerError: (v) => {
    onlyKeys('PeerError', v, ['code', 'message']);
    const code = str('PeerError', v, 'code', ERROR_CODE_PATTERN, ERROR_CODE_RULE);
    const message = v.message;
    if (typeof message !== 'string' || message.length > PEER_LIMITS.max_error_chars)
      fail(`PeerError.message: expected at most ${PEER_LIMITS.max_error_chars} characters`);
    return { type: 'PeerError', code, message };
  },
};

export const validatePeerMessage: Validator = (value): Result => {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, error: 'a peer message must be a JSON object' };
  const type = (value as Fields).type;
  const validator =
    typeof type === 'string' && Object.hasOwn(VALIDATORS, type)
      ? VALIDATORS[type as PeerMessageType]
      : undefined;
  if (!validator)
    return {
      ok: false,
      error: `unknown peer message type ${JSON.stringify(type)}; known: ${Object.keys(VALIDATORS).join(', ')}`,
    };
  try {
    return { ok: true, message: validator(value as Fields) };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, error: err.message };
    throw err;
  }
};

export function createPeerCodec(): MessageCodec<PeerMessage> {
  return new MessageCodec<PeerMessage>(PEER_MESSAGE_SPECS, validatePeerMessage);
}

/** Cuts a text to what PeerError.message allows. */
export function peerErrorText(message: string): string {
  return message.length <= PEER_LIMITS.max_error_chars
    ? message
    : `${message.slice(0, PEER_LIMITS.max_error_chars - 1)}…`;
}
