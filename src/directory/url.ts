/**
 * Parses the `[directory] url` setting into a backend choice. Allowed forms:
 *
 *   sqlite:<path>                 file path, relative to the config's folder (or cwd)
 *   sqlite:///absolute/path.db    the same, URL style
 *   sqlite::memory:               a private in-memory database (tests; one process only)
 *   postgres://user:pass@host:port/database[?options=-c%20search_path%3Dschema]  (postgresql:// too)
 *   mysql://user:pass@host:port/database     (mariadb:// too)
 *
 * Passwords never appear in error messages or in `description`.
 */
import { isAbsolute, resolve } from 'node:path';
import { DirectoryError } from './errors.js';
import type { DirectoryBackend } from './store.js';

export type DirectoryTarget =
  | { backend: 'sqlite'; path: string; description: string }
  | { backend: 'postgres'; url: string; description: string }
  | { backend: 'mysql'; url: string; description: string };

export const SQLITE_MEMORY = ':memory:';
const MAX_URL_CHARS = 2048;
const ALLOWED_FORMS =
  'sqlite:<path>, sqlite::memory:, postgres://user:password@host:port/database or mysql://user:password@host:port/database';

export function parseDirectoryUrl(url: unknown, baseDir: string = process.cwd()): DirectoryTarget {
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_URL_CHARS) {
    throw badUrl(`directory url must be a non-empty string of at most ${MAX_URL_CHARS} characters`);
  }
  if (/\p{Cc}/u.test(url)) throw badUrl('directory url must not contain control characters');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'sqlite':
      return parseSqlite(url.slice('sqlite:'.length), baseDir);
    case 'postgres':
    case 'postgresql':
      return parseNetworkUrl('postgres', url, 5432);
    case 'mysql':
    case 'mariadb':
      return parseNetworkUrl('mysql', url.replace(/^mariadb:/i, 'mysql:'), 3306);
    default:
      throw badUrl(
        `directory url ${JSON.stringify(redactUrl(url))} is not supported; use ${ALLOWED_FORMS}`,
      );
  }
}

function parseSqlite(rest: string, baseDir: string): DirectoryTarget {
  if (rest === SQLITE_MEMORY) {
    return { backend: 'sqlite', path: SQLITE_MEMORY, description: 'sqlite::memory:' };
  }
  let path = rest;
  if (rest.startsWith('//')) {
    if (!rest.startsWith('///')) {
      throw badUrl(
        `sqlite url "sqlite:${rest}" names a host; SQLite is a local file: use sqlite:<path> or sqlite:///absolute/path`,
      );
    }
    path = rest.slice(2);
  }
  if (path.length === 0)
    throw badUrl('sqlite url has no file path; use sqlite:<path> or sqlite::memory:');
  const absolute = isAbsolute(path) ? path : resolve(baseDir, path);
  return { backend: 'sqlite', path: absolute, description: `sqlite:${absolute}` };
}

function parseNetworkUrl(
  backend: Exclude<DirectoryBackend, 'sqlite'>,
  url: string,
  defaultPort: number,
): DirectoryTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badUrl(
      `directory url ${JSON.stringify(redactUrl(url))} is not a valid URL; use ${ALLOWED_FORMS}`,
    );
  }
  const description = redactUrl(url);
  if (parsed.hostname === '') throw badUrl(`directory url ${description} has no host`);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) {
    throw badUrl(`directory url ${description} must name one database in its path (…/database)`);
  }
  if (parsed.port !== '' && Number(parsed.port) === 0) {
    throw badUrl(
      `directory url ${description} has port 0; use the server's port (default ${defaultPort})`,
    );
  }
  return { backend, url, description };
}

/** The URL with any password replaced by `***`, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') {
      parsed.password = '***';
      return parsed.toString();
    }
    return url;
  } catch {
    // Not parseable: drop anything that looks like user:password@ to be safe.
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

function badUrl(message: string): DirectoryError {
  return new DirectoryError('directory_bad_url', message);
}
