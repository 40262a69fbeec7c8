/**
 * Validation of arguments that reach the directory from outside (peer messages relayed by a
 * server). Each check names the field, what it got and what is allowed. The rules are the same
 * for every backend, so SQLite (which does not enforce column widths) behaves like PostgreSQL
 * and MySQL, and MySQL's case-insensitive collations never matter: ids, usernames and nonces are
 * lowercase by rule.
 */
import { isIP } from 'node:net';
import { invalidArgument } from './errors.js';
import {
  HEX_32_BYTES_PATTERN,
  HEX_32_BYTES_RULE,
  IMAGE_ID_PATTERN,
  IMAGE_ID_RULE,
  USERNAME_PATTERN,
  USERNAME_RULE,
  UUID_PATTERN,
  UUID_RULE,
} from '../util/ids.js';
import { MEDIA_TYPE_PATTERN, MEDIA_TYPE_RULE } from '../protocol/directory-limits.js';
import { FIELD_LIMITS } from './limits.js';

const HOSTNAME_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;
/** Control characters and lone UTF-16 surrogates: not storable the same way everywhere. */
const UNSAFE_TEXT = /[\p{Cc}\p{Cs}\u2028\u2029]/u;

export const PUBLIC_KEY_BYTES = 32;
const UNSPECIFIED_ADDRESSES = new Set(['0.0.0.0', '::', '0:0:0:0:0:0:0:0']);

export function describeValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `${JSON.stringify(shown)} (${value.length} characters)`;
  }
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function patterned(field: string, value: unknown, pattern: RegExp, allowed: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw invalidArgument(`${field} must be ${allowed}; got ${describeValue(value)}`);
  }
  return value;
}

export function userId(value: unknown, field = 'user_id'): string {
  return patterned(field, value, UUID_PATTERN, UUID_RULE);
}

export function requestId(value: unknown, field = 'request_id'): string {
  return patterned(field, value, UUID_PATTERN, UUID_RULE);
}

/** The id an agent chose for one view, so that asking again is not a second view. */
export function viewId(value: unknown, field = 'view_id'): string {
  return patterned(field, value, UUID_PATTERN, UUID_RULE);
}

export function username(value: unknown, field = 'username'): string {
  return patterned(field, value, USERNAME_PATTERN, USERNAME_RULE);
}

export function imageId(value: unknown, field = 'image_id'): string {
  return patterned(field, value, IMAGE_ID_PATTERN, IMAGE_ID_RULE);
}

export function nonce(value: unknown, field = 'nonce'): string {
  return patterned(field, value, HEX_32_BYTES_PATTERN, HEX_32_BYTES_RULE);
}

export function publicKey(value: unknown, field = 'public_key'): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== PUBLIC_KEY_BYTES) {
    throw invalidArgument(
      `${field} must be a raw Ed25519 public key of ${PUBLIC_KEY_BYTES} bytes; got ${describeValue(value)}`,
    );
  }
  return value;
}

export function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidArgument(
      `${field} must be an integer from ${min} to ${max}; got ${describeValue(value)}`,
    );
  }
  return value;
}

export function text(value: unknown, field: string, maxChars: number): string {
  if (typeof value !== 'string') {
    throw invalidArgument(`${field} must be a string; got ${describeValue(value)}`);
  }
  // A code point is at most two UTF-16 units: reject huge strings before splitting them.
  const chars = value.length > maxChars * 2 ? value.length : [...value].length;
  if (chars < 1 || chars > maxChars) {
    throw invalidArgument(`${field} must be 1–${maxChars} characters; got ${chars}`);
  }
  if (UNSAFE_TEXT.test(value)) {
    throw invalidArgument(
      `${field} must not contain control characters, line separators or lone surrogates`,
    );
  }
  return value;
}

export function mediaType(value: unknown, field = 'preview.media_type'): string {
  return patterned(field, value, MEDIA_TYPE_PATTERN, MEDIA_TYPE_RULE);
}

/** An IPv4/IPv6 literal or a DNS name: where a peer agent listens. */
export function address(value: unknown, field = 'address'): string {
  if (typeof value === 'string' && UNSPECIFIED_ADDRESSES.has(value)) {
    throw invalidArgument(
      `${field} ${value} is a wildcard, not an address peers can connect to; publish the agent's reachable address`,
    );
  }
  if (typeof value === 'string' && value.length <= FIELD_LIMITS.address_max_chars) {
    if (isIP(value) !== 0) return value;
    const labels = value.split('.');
    if (value.length > 0 && labels.every((label) => HOSTNAME_LABEL.test(label))) return value;
  }
  throw invalidArgument(
    `${field} must be an IP address or a host name (at most ${FIELD_LIMITS.address_max_chars} characters); got ${describeValue(value)}`,
  );
}

export function port(value: unknown, field = 'port'): number {
  return integer(value, field, 1, 65_535);
}

export function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalidArgument(
      `${field} must be one of ${allowed.join(', ')}; got ${describeValue(value)}`,
    );
  }
  return value as T;
}

export function plainObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`${field} must be an object; got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

export function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') {
    throw invalidArgument(`${field} must be true or false; got ${describeValue(value)}`);
  }
  return value;
}

export function pageLimit(value: unknown, field = 'limit'): number {
  if (value === undefined) return FIELD_LIMITS.page_size_default;
  return integer(value, field, 1, FIELD_LIMITS.page_size_max);
}

export function updateIds(value: unknown, field = 'update_ids'): number[] {
  if (!Array.isArray(value) || value.length > FIELD_LIMITS.ack_ids_max) {
    throw invalidArgument(
      `${field} must be an array of at most ${FIELD_LIMITS.ack_ids_max} ids; got ${describeValue(value)}`,
    );
  }
  return value.map((id, index) => integer(id, `${field}[${index}]`, 1, Number.MAX_SAFE_INTEGER));
}
