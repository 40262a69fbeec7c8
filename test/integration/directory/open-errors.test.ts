/**
 * openDirectory fails fast and clearly: bad URLs and options, databases that refuse or never
 * answer (bounded by the connect timeout, never a hang), files that are not databases.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDirectoryError, type DirectoryErrorCode } from '../../../src/directory/errors.js';
import { openDirectory, type OpenDirectoryOptions } from '../../../src/directory/open.js';

async function openError(url: string, options: OpenDirectoryOptions = {}) {
  const started = performance.now();
  const err = await openDirectory(url, options).then(
    async (store) => {
      await store.close();
      return new Error('expected openDirectory to fail');
    },
    (e: unknown) => e,
  );
  return { err, elapsed_ms: performance.now() - started };
}

function expectCode(err: unknown, code: DirectoryErrorCode): void {
  expect(isDirectoryError(err) ? err.code : String(err)).toBe(code);
}

describe('openDirectory failures', () => {
  // A server that accepts TCP connections and never says a word: the worst case for a client.
  let silent: Server;
  let silentPort = 0;
  const sockets = new Set<Socket>();
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cloudp2p-dir-open-'));
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['postgres', 'mysql'])('gives up on a %s server that never answers', async (scheme) => {
    const { err, elapsed_ms } = await openError(`${scheme}://u:secret@127.0.0.1:${silentPort}/db`, {
      connect_timeout_ms: 400,
    });
    expectCode(err, 'directory_unavailable');
    expect(String(err)).not.toContain('secret');
    expect(elapsed_ms).toBeLessThan(5000);
  });

  it.each(['postgres', 'mysql'])('reports a refused %s connection', async (scheme) => {
    // Port 1 on loopback: nothing listens there.
    const { err } = await openError(`${scheme}://u:secret@127.0.0.1:1/db`, {
      connect_timeout_ms: 2000,
    });
    expectCode(err, 'directory_unavailable');
    expect(String(err)).toMatch(/ECONNREFUSED/);
    expect(String(err)).not.toContain('secret');
  });

  it('names every node of an unreachable node list, without the password', async () => {
    const { err } = await openError('mysql://u:secret@127.0.0.1:1,127.0.0.1:2/db', {
      connect_timeout_ms: 2000,
    });
    expectCode(err, 'directory_unavailable');
    expect(String(err)).toMatch(/no node of the directory's Galera cluster serves/);
    expect(String(err)).toMatch(/127\.0\.0\.1:1: cannot connect \(.*ECONNREFUSED/);
    expect(String(err)).toMatch(/127\.0\.0\.1:2: cannot connect \(.*ECONNREFUSED/);
    expect(String(err)).not.toContain('secret');
  });

  it('refuses a file that is not a SQLite database', async () => {
    const path = join(dir, 'not-a-db.db');
    writeFileSync(path, 'hello, I am a text file, not a database'.repeat(100));
    const { err } = await openError(`sqlite:${path}`);
    expectCode(err, 'directory_unavailable');
    expect(String(err)).toMatch(/not a database/);
  });

  it('refuses a SQLite path whose folder cannot exist', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, 'x');
    const { err } = await openError(`sqlite:${join(file, 'sub', 'd.db')}`);
    expectCode(err, 'directory_unavailable');
    expect(String(err)).toContain(file);
  });

  it('refuses bad URLs and options before connecting', async () => {
    expectCode((await openError('ftp://x/y')).err, 'directory_bad_url');
    expectCode(
      (await openError('sqlite::memory:', { operation_timeout_ms: -1 })).err,
      'invalid_argument',
    );
    expectCode((await openError('sqlite::memory:', { pool_size: 1.5 })).err, 'invalid_argument');
    const unknown = await openError('sqlite::memory:', { limits: { max_things: 3 } as never });
    expectCode(unknown.err, 'invalid_argument');
    expect(String(unknown.err)).toMatch(
      /unknown directory limit "max_things"; known: max_images_per_user/,
    );
    expectCode(
      (await openError('sqlite::memory:', { limits: { presence_ttl_ms: 10 } })).err,
      'invalid_argument',
    );
  });

  const pgUrl = process.env.CLOUDP2P_TEST_POSTGRES_URL;
  it.runIf(pgUrl !== undefined)(
    'reports wrong PostgreSQL credentials without the password',
    async () => {
      const url = new URL(pgUrl ?? '');
      url.password = 'definitely-wrong-password';
      const { err } = await openError(url.toString());
      expectCode(err, 'directory_unavailable');
      expect(String(err)).toMatch(/password authentication failed/);
      expect(String(err)).not.toContain('definitely-wrong-password');
    },
  );

  const mysqlUrl = process.env.CLOUDP2P_TEST_MYSQL_URL;
  it.runIf(mysqlUrl !== undefined)(
    'refuses a plain MariaDB in a URL that names several nodes (only Galera nodes may be listed)',
    async () => {
      const url = new URL(mysqlUrl ?? '');
      const port = url.port || '3306';
      // The same plain server twice, under two names: neither is a Galera node.
      const twoNodes = `mysql://${url.username}:${url.password}@127.0.0.1:${port},localhost:${port}${url.pathname}`;
      const { err } = await openError(twoNodes);
      expectCode(err, 'directory_bad_url');
      expect(String(err)).toMatch(
        /node 127\.0\.0\.1:\d+: it is not a Galera node \(wsrep_on=OFF\)/,
      );
    },
  );

  it.runIf(mysqlUrl !== undefined)(
    'reports wrong MySQL credentials without the password',
    async () => {
      const url = new URL(mysqlUrl ?? '');
      url.password = 'definitely-wrong-password';
      const { err } = await openError(url.toString());
      expectCode(err, 'directory_unavailable');
      expect(String(err)).toMatch(/Access denied/);
      expect(String(err)).not.toContain('definitely-wrong-password');
    },
  );
});
