/**
 * Opaque page cursors: the sort key of the last row of a page, as base64url JSON. Keyset
 * pagination (WHERE key > last ORDER BY key) stays fast and stable while rows are added, unlike
 * OFFSET. A cursor is untrusted input: it is decoded against the shape the listing expects.
 */
import { invalidArgument } from './errors.js';
import { FIELD_LIMITS } from './limits.js';

export type CursorPart = 'string' | 'integer';
type PartValue<P extends CursorPart> = P extends 'string' ? string : number;
export type CursorValues<S extends readonly CursorPart[]> = { [K in keyof S]: PartValue<S[K]> };

const MAX_PART_CHARS = 200;

export function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

export function decodeCursor<const S extends readonly CursorPart[]>(
  cursor: unknown,
  shape: S,
): CursorValues<S> | undefined {
  if (cursor === undefined) return undefined;
  if (
    typeof cursor !== 'string' ||
    cursor.length === 0 ||
    cursor.length > FIELD_LIMITS.cursor_max_chars ||
    !/^[A-Za-z0-9_-]+$/.test(cursor)
  ) {
    throw badCursor();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== shape.length) throw badCursor();
  shape.forEach((part, index) => {
    const value: unknown = parsed[index];
    const ok =
      part === 'string'
        ? typeof value === 'string' && value.length <= MAX_PART_CHARS
        : typeof value === 'number' && Number.isSafeInteger(value);
    if (!ok) throw badCursor();
  });
  return parsed as CursorValues<S>;
}

function badCursor() {
  return invalidArgument(
    'cursor must be the next_cursor value returned by the previous page of the same listing',
  );
}
