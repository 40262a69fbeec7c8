import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODE_PATTERN } from '../../../src/protocol/ids.js';
import {
  ERROR_CODES,
  exitCodeOf,
  httpStatusOf,
  isRegisteredErrorCode,
  toErrorCode,
} from '../../../src/util/error-codes.js';
import { CloudP2PError, ExitCode } from '../../../src/util/errors.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

describe('the error code registry', () => {
  const codes = Object.keys(ERROR_CODES);

  it('spells every code one way: snake_case that fits the wire rule', () => {
    for (const code of codes) expect(code).toMatch(ERROR_CODE_PATTERN);
  });

  it('maps every code to a documented exit code and an HTTP error status', () => {
    const exits = new Set<number>(Object.values(ExitCode));
    for (const code of codes) {
      expect(exits.has(exitCodeOf(code)), code).toBe(true);
      expect(exitCodeOf(code), code).not.toBe(ExitCode.ok);
      expect(httpStatusOf(code), code).toBeGreaterThanOrEqual(400);
      expect(httpStatusOf(code), code).toBeLessThan(600);
    }
  });

  it('gives errors the exit code of their code', () => {
    expect(new CloudP2PError('no_payload', 'x').exitCode).toBe(ExitCode.noPayload);
    expect(new CloudP2PError('denied', 'x').exitCode).toBe(ExitCode.denied);
    expect(new CloudP2PError('directory_unreachable', 'x').exitCode).toBe(ExitCode.unavailable);
  });

  it('maps a remote peer’s refusal by rule, and an unknown code from the wire to a fallback', () => {
    expect(exitCodeOf('peer_denied')).toBe(ExitCode.denied);
    expect(exitCodeOf('peer_whatever')).toBe(ExitCode.failure);
    expect(toErrorCode('conflict', 'internal')).toBe('conflict');
    expect(toErrorCode('made-up', 'internal')).toBe('internal');
    expect(isRegisteredErrorCode('made_up')).toBe(false);
  });

  it('has no kebab-case code left in the source', () => {
    const kebab = /(?:Error|CloudP2PError|code:)\(?\s*'([a-z]+(?:-[a-z]+)+)'/g;
    const found: string[] = [];
    for (const file of sourceFiles('src')) {
      for (const match of readFileSync(file, 'utf8').matchAll(kebab))
        found.push(`${file}: ${match[1]}`);
    }
    expect(found).toEqual([]);
  });
});
