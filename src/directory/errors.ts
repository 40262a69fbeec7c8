/**
 * Errors raised by the directory. Every one is a `CloudP2PError` with a stable `code` the
 * server can put on the wire as is, and the CLI exit code that matches it.
 */
import { CloudP2PError, ExitCode, type ExitCodeValue } from '../util/errors.js';

export const DIRECTORY_ERROR_EXIT_CODES = {
  /** The directory URL is malformed or uses a scheme we do not support. */
  directory_bad_url: ExitCode.usage,
  /** The database cannot be reached (refused, timed out, wrong credentials, DB missing). */
  directory_unavailable: ExitCode.unavailable,
  /** A row read from the database breaks the schema's rules (hand-edited or corrupted DB). */
  directory_bad_row: ExitCode.corrupted,
  /** Schema migrations could not be applied, or the DB schema is newer than this build. */
  directory_migration_failed: ExitCode.failure,
  /** The store was closed; no more calls are accepted. */
  directory_closed: ExitCode.failure,
  /** The database reported an error we do not classify (bug or admin action). */
  directory_failure: ExitCode.failure,
  /** An argument breaks a documented rule (type, charset, length, range). */
  invalid_argument: ExitCode.badInput,
  /** The acting user may not do this (not the owner, not a party, bad or replayed challenge). */
  denied: ExitCode.denied,
  /** The user, image, request, grant or challenge named does not exist. */
  not_found: ExitCode.failure,
  /** The change contradicts the current state (username taken, request already answered, stale version). */
  conflict: ExitCode.failure,
  /** A documented limit would be exceeded (queue full, too many images, quota too large). */
  limit_exceeded: ExitCode.capacity,
} as const satisfies Record<string, ExitCodeValue>;

export type DirectoryErrorCode = keyof typeof DIRECTORY_ERROR_EXIT_CODES;

export class DirectoryError extends CloudP2PError {
  declare readonly code: DirectoryErrorCode;

  constructor(code: DirectoryErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, DIRECTORY_ERROR_EXIT_CODES[code], options);
    this.name = 'DirectoryError';
  }
}

export function isDirectoryError(err: unknown, code?: DirectoryErrorCode): err is DirectoryError {
  return err instanceof DirectoryError && (code === undefined || err.code === code);
}

export function invalidArgument(message: string): DirectoryError {
  return new DirectoryError('invalid_argument', message);
}

export function denied(message: string): DirectoryError {
  return new DirectoryError('denied', message);
}

export function notFound(message: string): DirectoryError {
  return new DirectoryError('not_found', message);
}

export function conflict(message: string): DirectoryError {
  return new DirectoryError('conflict', message);
}

export function limitExceeded(message: string): DirectoryError {
  return new DirectoryError('limit_exceeded', message);
}

/** A driver error in one line: its message and, when the message lacks it, its code. */
export function describeError(err: unknown): string {
  const { code, message } = (typeof err === 'object' && err !== null ? err : {}) as {
    code?: unknown;
    message?: unknown;
  };
  const text = typeof message === 'string' && message !== '' ? message : String(err);
  return typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text;
}
