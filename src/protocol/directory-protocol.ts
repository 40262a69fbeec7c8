/**
 * Directory requests over the cloud protocol: one request message, one response message, and
 * the exact bytes a user signs. Pure (no I/O); the server side is src/server/directory-service.ts
 * and the client side src/peer/directory-client.ts.
 *
 *   DirectoryRequest  { op, args, auth }          (frame code 64, request id set by the caller)
 *   DirectoryResponse { ok, result | error }      (frame code 65, echoes the request id)
 *
 * `auth` is null for `register` and `challenge` (they prove key possession themselves) and for
 * `login` (it answers a challenge); every other op is signed by the acting user: Ed25519 over
 * `signedRequestBytes(...)`, with a timestamp and a random nonce that the directory records, so
 * a captured request cannot be replayed at any server. Nothing secret travels.
 * Binary values (keys, signatures) travel as lowercase hex inside the JSON.
 */
import { DIRECTORY_OPS, isDirectoryOp, isSignedOp, type DirectoryOp } from './directory-ops.js';
import { ErrorCode, Nonce, SignatureHex, UserId } from './ids.js';
import { AnyText, Int, Strict, checker, type Infer } from './schema.js';

export { DIRECTORY_OPS, isSignedOp, type DirectoryOp };

/** How far a signed request's timestamp may be from the server's clock. */
export const REQUEST_CLOCK_WINDOW_MS = 120_000;

const RequestAuth = Strict({
  user_id: UserId,
  timestamp_ms: Int(0, Number.MAX_SAFE_INTEGER, 'milliseconds since 1970'),
  /** 32 random bytes, never reused. */
  nonce: Nonce,
  /** Ed25519 over signedRequestBytes. */
  signature: SignatureHex,
});
export type RequestAuth = Infer<typeof RequestAuth>;
const checkAuth = checker(RequestAuth);

const ResponseError = Strict({ code: ErrorCode, message: AnyText(2000) });
const checkResponseError = checker(ResponseError);

export interface DirectoryRequestMessage {
  type: 'DirectoryRequest';
  op: DirectoryOp;
  args: Record<string, unknown>;
  auth: RequestAuth | null;
}

export type DirectoryResponseMessage =
  | { type: 'DirectoryResponse'; ok: true; result: unknown }
  | { type: 'DirectoryResponse'; ok: false; error: { code: string; message: string } };

const MAX_ARG_KEYS = 16;

/** Deterministic JSON: object keys sorted, no whitespace. Only JSON values are allowed. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string')
    return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonical JSON cannot hold NaN or Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
}

const encoder = new TextEncoder();

/** What a user signs for an authenticated directory request. */
export function signedRequestBytes(
  clusterId: number,
  op: DirectoryOp,
  args: Record<string, unknown>,
  auth: Omit<RequestAuth, 'signature'>,
): Uint8Array {
  return encoder.encode(
    [
      'cloudp2p directory request v1',
      String(clusterId),
      op,
      auth.user_id,
      String(auth.timestamp_ms),
      auth.nonce,
      canonicalJson(args),
    ].join('\n'),
  );
}

/** What a new user signs to prove they hold the key they register. */
export function registrationProofBytes(username: string, publicKeyHex: string): Uint8Array {
  return encoder.encode(`cloudp2p register v1\n${username}\n${publicKeyHex}`);
}

/** What a user signs to answer a sign-in challenge. */
export function loginProofBytes(clusterId: number, userId: string, nonce: string): Uint8Array {
  return encoder.encode(`cloudp2p login v1\n${clusterId}\n${userId}\n${nonce}`);
}

type Check =
  | { ok: true; message: DirectoryRequestMessage | DirectoryResponseMessage }
  | { ok: false; error: string };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The envelope of a DirectoryRequest: a known op, an args object, and `auth` exactly when the
 * op's table entry says a user signs it. The op's own arguments are checked once, by its schema
 * in the op table, before its handler runs (src/server/directory-service.ts): a bad argument is
 * then answered as a `DirectoryResponse` with `invalid_argument`, which the caller can tell
 * apart from a broken frame.
 */
export function validateDirectoryRequest(value: Record<string, unknown>): Check {
  const { op, args, auth } = value;
  if (!isDirectoryOp(op)) {
    return { ok: false, error: `DirectoryRequest.op: expected one of ${DIRECTORY_OPS.join(', ')}` };
  }
  if (!isPlainObject(args) || Object.keys(args).length > MAX_ARG_KEYS) {
    return {
      ok: false,
      error: `DirectoryRequest.args: expected an object with at most ${MAX_ARG_KEYS} keys`,
    };
  }
  if (!isSignedOp(op)) {
    if (auth !== null)
      return { ok: false, error: `DirectoryRequest.auth: ${op} takes no auth block (null)` };
    return { ok: true, message: { type: 'DirectoryRequest', op, args, auth: null } };
  }
  if (!isPlainObject(auth))
    return {
      ok: false,
      error:
        'DirectoryRequest.auth: this op must be signed: expected { user_id, timestamp_ms, nonce, signature }',
    };
  if (!checkAuth.is(auth))
    return { ok: false, error: checkAuth.problem(auth, 'DirectoryRequest.auth') ?? 'invalid' };
  return { ok: true, message: { type: 'DirectoryRequest', op, args, auth } };
}

export function validateDirectoryResponse(value: Record<string, unknown>): Check {
  if (value.ok === true) {
    if (!('result' in value)) return { ok: false, error: 'DirectoryResponse.result: missing' };
    return { ok: true, message: { type: 'DirectoryResponse', ok: true, result: value.result } };
  }
  if (value.ok === false) {
    const error = value.error;
    if (!checkResponseError.is(error))
      return {
        ok: false,
        error: checkResponseError.problem(error, 'DirectoryResponse.error') ?? 'invalid',
      };
    return {
      ok: true,
      message: {
        type: 'DirectoryResponse',
        ok: false,
        error: { code: error.code, message: error.message },
      },
    };
  }
  return { ok: false, error: 'DirectoryResponse.ok: expected true or false' };
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** Parses lowercase hex of an exact byte length; null when malformed. */
export function fromHex(text: unknown, bytes: number): Uint8Array | null {
  if (typeof text !== 'string' || text.length !== bytes * 2 || !/^[0-9a-f]*$/.test(text))
    return null;
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Converts store records for the wire: Uint8Array fields become hex strings. */
export function toWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return toHex(value);
  if (Array.isArray(value)) return value.map(toWire);
  if (isPlainObject(value))
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  return value;
}
