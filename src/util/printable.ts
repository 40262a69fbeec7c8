/**
 * Text from outside (file contents, messages, names, server answers) made safe to print on a
 * terminal: control characters could move the cursor, rewrite earlier lines or change the
 * terminal's settings (ESC sequences), so they are shown as escapes instead.
 *
 * Escaped: every Unicode control character (C0 U+0000-U+001F, DEL U+007F, C1 U+0080-U+009F)
 * and the bidirectional controls (U+061C, U+200E-U+200F, U+202A-U+202E, U+2066-U+2069), which
 * can make a line read differently from what it holds, and the line/paragraph separators.
 * Tab and newline are escaped too unless `keepLines` is set (for multi-line texts).
 */

/* eslint-disable no-control-regex -- matching control characters is the point */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const UNSAFE_KEEP_LINES =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

const NAMED: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

function escapeOne(char: string): string {
  return NAMED[char] ?? `\\u{${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}}`;
}

/** `text` with control characters shown as `\n`, `\t`, `\r` or `\u{001b}`. */
export function printable(text: string, options: { keepLines?: boolean } = {}): string {
  return text.replace(options.keepLines ? UNSAFE_KEEP_LINES : UNSAFE, escapeOne);
}

/** True when `text` would print differently from what it holds. */
export function hasUnprintable(text: string): boolean {
  UNSAFE.lastIndex = 0;
  const found = UNSAFE.test(text);
  UNSAFE.lastIndex = 0;
  return found;
}
