/**
 * Parses the `[directory] url` setting into a backend choice. Allowed forms:
 *
 *   sqlite:<path>                 file path, relative to the config's folder (or cwd)
 *   sqlite:///absolute/path.db    the same, URL style
 *   sqlite::memory:               a private in-memory database (tests; one process only)
 *   postgres://user:pass@host:port/database[?options=-c%20search_path%3Dschema]  (postgresql:// too)
 *   mysql://user:pass@host:port/database     (mariadb:// too)
 *   mysql://user:pass@host1:port,host2:port,host3:port/database   a Galera cluster: the nodes in order
 *                                 of preference (the local node first); every server lists the same
 *                                 nodes. IPv6 literals in brackets: [fd00::1]:3306.
 *
 * Passwords never appear in error messages or in `description`.
 */
import { isAbsolute, resolve } from 'node:path';
import { DirectoryError } from './errors.js';
import type { DirectoryBackend } from './store.js';

export type DirectoryTarget =
  | { backend: 'sqlite'; path: string; description: string }
  | { backend: 'postgres'; url: string; description: string }
  | { backend: 'mysql'; url: string; nodes: MysqlNode[]; description: string };

/** One MySQL/MariaDB server (a Galera node when the URL names several). */
export interface MysqlNode {
  host: string;
  port: number;
  /** A single-host URL for this node: the same user, password, database and options. */
  url: string;
  /** host:port, for messages. */
  label: string;
}

export const SQLITE_MEMORY = ':memory:';
const MAX_URL_CHARS = 2048;
/** A Galera cluster has a handful of nodes; more in one URL is a mistake. */
export const MAX_MYSQL_NODES = 16;
const ALLOWED_FORMS =
  'sqlite:<path>, sqlite::memory:, postgres://user:password@host:port/database, mysql://user:password@host:port/database or, for a Galera cluster, mysql://user:password@host1:port,host2:port,host3:port/database';

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
      if (hostList(url)?.includes(',')) {
        throw badUrl(
          `directory url ${JSON.stringify(redactUrl(url))} names several hosts; PostgreSQL URLs name one host (the pg driver has no multi-host URLs). Use one PostgreSQL server, or a virtual IP or proxy in front of a replicated one (docs/DIRECTORY.md), or a MariaDB Galera cluster: mysql://user:password@host1:port,host2:port,host3:port/database`,
        );
      }
      return { ...parseNetworkUrl('postgres', url, 5432), backend: 'postgres' };
    case 'mysql':
    case 'mariadb':
      return parseMysqlUrl(url.replace(/^mariadb:/i, 'mysql:'));
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

/** The text between `//` (and any user@) and the path, or undefined when there is none. */
function hostList(url: string): string | undefined {
  return /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?([^/?#]*)/i.exec(url)?.[1];
}

/**
 * mysql://user:password@host[:port][,host[:port]…]/database[?options]: each node is checked as a
 * single-host URL with the same user, password, database and options.
 */
function parseMysqlUrl(url: string): DirectoryTarget {
  const description = redactUrl(url);
  const match = /^mysql:\/\/((?:[^@/?#]*@)?)([^/?#]*)(.*)$/i.exec(url);
  if (!match) {
    throw badUrl(
      `directory url ${JSON.stringify(description)} is not a valid URL; use ${ALLOWED_FORMS}`,
    );
  }
  const [, userinfo = '', hosts = '', rest = ''] = match;
  const database = /^\/([^/?#]*)(?:[?#]|$)/.exec(rest)?.[1] ?? '';
  if (database === '') {
    throw badUrl(`directory url ${description} must name one database in its path (…/database)`);
  }
  const entries = hosts.split(',');
  if (entries.length > MAX_MYSQL_NODES) {
    throw badUrl(
      `directory url ${description} names ${entries.length} nodes; at most ${MAX_MYSQL_NODES} are allowed`,
    );
  }
  const nodes: MysqlNode[] = [];
  entries.forEach((entry, index) => {
    const where =
      entries.length > 1
        ? `node ${index + 1} of directory url ${description}`
        : `directory url ${description}`;
    if (entry === '') {
      throw badUrl(
        entries.length > 1
          ? `${where} is empty: list nodes as host:port separated by single commas, e.g. mysql://user:password@10.0.0.1:3306,10.0.0.2:3306/cloudp2p`
          : `directory url ${description} has no host`,
      );
    }
    const parts = /^(\[[0-9a-f:.]+\]|[a-z0-9._-]+)(?::(\d{1,5}))?$/i.exec(entry);
    const port = parts?.[2] === undefined ? 3306 : Number(parts[2]);
    if (!parts || port < 1 || port > 65535) {
      throw badUrl(
        `${where} is ${JSON.stringify(entry)}; a node is host:port (a name, an IPv4 address or an [IPv6] address, and a port 1-65535)`,
      );
    }
    const single = parseNetworkUrl('mysql', `mysql://${userinfo}${entry}${rest}`, 3306);
    const parsed = new URL(single.url);
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    const label = `${parsed.hostname}:${port}`;
    if (nodes.some((node) => node.label === label)) {
      throw badUrl(`directory url ${description} names node ${label} twice`);
    }
    nodes.push({ host, port, url: single.url, label });
  });
  return { backend: 'mysql', url, nodes, description };
}

function parseNetworkUrl(
  backend: Exclude<DirectoryBackend, 'sqlite'>,
  url: string,
  defaultPort: number,
): { backend: Exclude<DirectoryBackend, 'sqlite'>; url: string; description: string } {
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
    // Not parseable (e.g. several hosts): hide the password, keep the user when it is clear.
    return url
      .replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@')
      .replace(/\/\/[^@/]*:(?!\*\*\*@)[^@/]*@/, '//***@');
  }
}

function badUrl(message: string): DirectoryError {
  return new DirectoryError('directory_bad_url', message);
}
