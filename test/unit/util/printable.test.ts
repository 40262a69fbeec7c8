import { describe, expect, it } from 'vitest';
import { hasUnprintable, printable } from '../../../src/util/printable.js';

describe('printable', () => {
  it('leaves ordinary text, accents and emoji alone', () => {
    expect(printable('Zoë’s photo 🌅 #2')).toBe('Zoë’s photo 🌅 #2');
    expect(hasUnprintable('Zoë’s photo 🌅 #2')).toBe(false);
  });

  it('escapes terminal escape sequences, NUL, DEL and C1 controls', () => {
    expect(printable('a\u001b[2Jb')).toBe('a\\u{001b}[2Jb');
    expect(printable('\u0000\u007f\u009b')).toBe('\\u{0000}\\u{007f}\\u{009b}');
    expect(hasUnprintable('x\u001by')).toBe(true);
  });

  it('escapes bidirectional overrides that make a line read differently', () => {
    expect(printable('abc\u202edcba')).toBe('abc\\u{202e}dcba');
  });

  it('escapes line breaks in one-line fields, keeps them in texts when asked', () => {
    expect(printable('one\ntwo\tthree\r')).toBe('one\\ntwo\\tthree\\r');
    expect(printable('one\ntwo\tthree\u001b', { keepLines: true })).toBe(
      'one\ntwo\tthree\\u{001b}',
    );
  });
});
