/**
 * Serving the peer page (src/peer/ui-routes.ts, ui-host.ts, and api-server.ts with `page`):
 * one-time link codes, the token the page trades them for, the Host check, the page files,
 * the session routes of `cloudp2p peer ui` before registration, and what a `peer start`
 * agent's page may do. No cloud: the servers named are unreachable, as failures must read well.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../../src/identity/keys.js';
import { PeerAgent } from '../../../src/peer/agent.js';
import { PeerApiServer } from '../../../src/peer/api-server.js';
import { DataDir } from '../../../src/peer/data-dir.js';
import { PeerUiHost, readUiHostInfo, requestSignInUrl } from '../../../src/peer/ui-host.js';
import { UiTickets, linkCommand } from '../../../src/peer/ui-routes.js';
import type { UiSession } from '../../../src/peer/ui-types.js';
import { createLogger } from '../../../src/util/log.js';
import { Signal } from '../../helpers/signal.js';

// The cloud these tests talk to is unreachable on purpose; they need a cloud CA to be named
// (any: nothing answers) so that what they see is the unreachable cloud, not a missing CA.
process.env.CLOUDP2P_CLOUD_CA ??= 'ab'.repeat(32);

const logger = createLogger('ui-test', { level: 'error' });
/** Woken when a quit or shutdown callback ran. */
const callbacks = new Signal();
/** Port 9 (discard) on loopback: nothing listens, so cloud calls fail at once. */
const NOWHERE = [{ host: '127.0.0.1', port: 9 }];

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  json<T = Record<string, unknown>>(): T;
}

function call(
  port: number,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; host?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { host: options.host ?? `127.0.0.1:${port}` };
  if (options.token) headers['x-cloudp2p-token'] = options.token;
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  if (body !== undefined) headers['content-type'] = 'application/json';
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          body: text,
          headers: res.headers,
          json: <T>() => JSON.parse(text) as T,
        });
      });
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** A built page as Vite writes it (manifest, HTML, one script and one style sheet). */
function fakeBuild(dir: string): void {
  mkdirSync(join(dir, '.vite'), { recursive: true });
  mkdirSync(join(dir, 'peer'), { recursive: true });
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(
    join(dir, '.vite', 'manifest.json'),
    JSON.stringify({
      'peer/index.html': { file: 'assets/peer-abc.js', css: ['assets/peer-abc.css'] },
    }),
  );
  writeFileSync(join(dir, 'peer', 'index.html'), '<!doctype html><title>peer</title>');
  writeFileSync(join(dir, 'assets', 'peer-abc.js'), 'console.log(1)');
  writeFileSync(join(dir, 'assets', 'peer-abc.css'), 'body{}');
}

describe('one-time link codes', () => {
  it('work once, within their time, and only in their exact form', () => {
    const tickets = new UiTickets(1000);
    const { ticket, expires_in_ms } = tickets.mint(0);
    expect(ticket).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(expires_in_ms).toBe(1000);
    expect(tickets.redeem(ticket, 500)).toBe(true);
    expect(tickets.redeem(ticket, 501)).toBe(false);
    const late = tickets.mint(0).ticket;
    expect(tickets.redeem(late, 1001)).toBe(false);
    expect(tickets.redeem('not a ticket', 0)).toBe(false);
    expect(tickets.redeem('', 0)).toBe(false);
  });

  it('keep at most 16 open: minting more forgets the oldest', () => {
    const tickets = new UiTickets();
    const first = tickets.mint().ticket;
    for (let i = 0; i < 16; i++) tickets.mint();
    expect(tickets.redeem(first)).toBe(false);
  });
});

describe('the command that prints a new link', () => {
  it('is spelled as the user chose the data directory, quoted for a shell when needed', () => {
    expect(linkCommand({})).toBe('cloudp2p peer ui');
    expect(linkCommand({ user: 'bob' })).toBe('cloudp2p peer -u bob ui');
    expect(linkCommand({ dataDir: '~/alice', user: 'bob' })).toBe('cloudp2p peer -d ~/alice ui');
    expect(linkCommand({ dataDir: '/tmp/my photos' })).toBe("cloudp2p peer -d '/tmp/my photos' ui");
    expect(linkCommand({ dataDir: "it's" })).toBe("cloudp2p peer -d 'it'\\''s' ui");
  });
});

describe('cloudp2p peer ui before anyone registered', () => {
  let root: string;
  let host: PeerUiHost;
  let port: number;
  let quitCalled = false;
  const dataDir = (): DataDir => new DataDir(join(root, 'alice'));

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'peer-ui-'));
    fakeBuild(join(root, 'pages'));
    host = new PeerUiHost({
      dataDir: dataDir(),
      baseDir: root,
      registration: { servers: NOWHERE, clusterId: 1 },
      listenHost: '127.0.0.1',
      logger,
      pagesDir: join(root, 'pages'),
      agentOptions: { directoryTimeout_ms: 300 },
      onQuit: () => {
        quitCalled = true;
        callbacks.changed();
      },
    });
    ({ port } = await host.listen());
  });

  afterAll(async () => {
    await host.quit('test over');
    rmSync(root, { recursive: true, force: true });
  });

  it('serves the page files to anyone on loopback, with its security policy', async () => {
    const page = await call(port, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>peer</title>');
    expect(String(page.headers['content-security-policy'])).toContain("default-src 'self'");
    expect((await call(port, 'GET', '/assets/peer-abc.js')).status).toBe(200);
    expect((await call(port, 'GET', '/assets/../peer/index.html')).status).toBe(404);
    expect((await call(port, 'GET', '/assets/other.js')).status).toBe(404);
    expect((await call(port, 'POST', '/')).status).toBe(405);
  });

  it('answers only for its own loopback name (no DNS rebinding)', async () => {
    const answer = await call(port, 'GET', '/', { host: `evil.example:${port}` });
    expect(answer.status).toBe(421);
    expect(answer.json<{ error: { code: string } }>().error.code).toBe('bad_host');
  });

  it('trades a link code for the token once; everything else needs that token', async () => {
    const { url, ticket } = host.signInUrl();
    expect(url).toBe(`http://127.0.0.1:${port}/#ticket=${ticket}`);
    const traded = await call(port, 'POST', '/ui/ticket', { json: { ticket } });
    expect(traded.status).toBe(200);
    const { token } = traded.json<{ token: string }>();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const again = await call(port, 'POST', '/ui/ticket', { json: { ticket } });
    expect(again.status).toBe(401);
    expect(again.json<{ error: { code: string; message: string } }>().error).toMatchObject({
      code: 'link_used',
      // The command for a new link names this program's data directory.
      message: expect.stringContaining(`run \`cloudp2p peer -d ${dataDir().root} ui\``),
    });
    expect((await call(port, 'POST', '/ui/ticket', { json: { ticket: 5 } })).status).toBe(401);
    expect((await call(port, 'POST', '/ui/ticket', { json: { other: 1 } })).status).toBe(400);
    expect((await call(port, 'GET', '/ui/session')).status).toBe(401);
    expect((await call(port, 'GET', '/api/status')).status).toBe(401);

    const session = await call(port, 'GET', '/ui/session', { token });
    expect(session.json<UiSession>()).toMatchObject({
      state: 'unregistered',
      host: 'ui',
      username: null,
      servers: ['127.0.0.1:9'],
    });
    // Signed out: the agent's API is not there yet, and says why.
    const api = await call(port, 'GET', '/api/status', { token });
    expect(api.status).toBe(409);
    expect(api.json<{ error: { code: string } }>().error.code).toBe('signed_out');
    const signIn = await call(port, 'POST', '/ui/sign-in', { token });
    expect(signIn.status).toBe(409);
    expect(signIn.json<{ error: { message: string } }>().error.message).toContain(
      'nobody is registered here yet',
    );
  });

  it('checks the username, and says so in words when the cloud cannot be reached', async () => {
    const token = await tradeToken(port, host);
    const bad = await call(port, 'POST', '/ui/register', { token, json: { username: 'No!' } });
    expect(bad.status).toBe(400);
    expect(bad.json<{ error: { message: string } }>().error.message).toMatch(/3 to 32/);
    const down = await call(port, 'POST', '/ui/register', { token, json: { username: 'alice' } });
    expect(down.status).toBeGreaterThanOrEqual(500);
    expect(down.json<{ error: { message: string } }>().error.message.length).toBeGreaterThan(10);
    // Nothing half-done: still unregistered, a new attempt is possible.
    const session = await call(port, 'GET', '/ui/session', { token });
    expect(session.json<UiSession>().state).toBe('unregistered');
  });

  it('is found by a second `peer ui` (ui.json) for a fresh link, and quits from the page', async () => {
    const info = readUiHostInfo(dataDir());
    expect(info).toMatchObject({ pid: process.pid, port });
    const link = await requestSignInUrl({ port, token: info?.token ?? '' });
    expect(link?.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/#ticket=`));
    expect(await requestSignInUrl({ port, token: '0'.repeat(64) })).toBeNull();

    const token = await tradeToken(port, host);
    const quit = await call(port, 'POST', '/ui/quit', { token });
    expect(quit.status).toBe(202);
    await callbacks.until(() => quitCalled, 'the quit callback');
    expect(existsSync(dataDir().path('ui.json'))).toBe(false);
  });
});

describe('the page of an agent started by `peer start`', () => {
  let root: string;
  let agent: PeerAgent;
  let api: PeerApiServer;
  let port: number;
  let token: string;
  let shutdowns = 0;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'peer-ui-agent-'));
    const dataDir = new DataDir(root);
    dataDir.writeIdentity({
      username: 'carol',
      user_id: '11111111-2222-4333-8444-555555555555',
      keys: generateIdentity(),
    });
    dataDir.writeSettings({ servers: NOWHERE, cluster_id: 1 });
    agent = PeerAgent.open({ dataDir, mode: 'one-shot', logger, directoryTimeout_ms: 300 });
    api = new PeerApiServer({
      agent,
      logger,
      page: true,
      onShutdown: () => {
        shutdowns++;
        callbacks.changed();
      },
    });
    ({ port, token } = await api.listen());
  });

  afterAll(async () => {
    await api.close();
    await agent.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('serves the page (or says to build it) and hands out links to it', async () => {
    const page = await call(port, 'GET', '/');
    expect([200, 503]).toContain(page.status);
    expect(String(page.headers['content-type'])).toContain('text/html');
    const link = await requestSignInUrl({ port, token });
    expect(link?.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/#ticket=`));
    const traded = await call(port, 'POST', '/ui/ticket', { json: { ticket: link?.ticket } });
    expect(traded.json<{ token: string }>().token).toBe(token);
  });

  it('is signed in as the agent; register and sign-in belong to `peer ui`; sign-out stops it', async () => {
    const session = await call(port, 'GET', '/ui/session', { token });
    expect(session.json<UiSession>()).toMatchObject({
      state: 'signed-in',
      host: 'agent',
      username: 'carol',
    });
    const register = await call(port, 'POST', '/ui/register', {
      token,
      json: { username: 'dave' },
    });
    expect(register.status).toBe(409);
    expect(register.json<{ error: { message: string } }>().error.message).toContain(
      'cloudp2p peer ui',
    );
    // The API itself is unchanged by the page.
    expect((await call(port, 'GET', '/api/status', { token })).status).toBe(200);
    expect((await call(port, 'GET', '/api/status')).status).toBe(401);
    const signOut = await call(port, 'POST', '/ui/sign-out', { token });
    expect(signOut.json<UiSession>().state).toBe('signing-out');
    await callbacks.until(() => shutdowns === 1, 'the shutdown callback');
  });
});

async function tradeToken(port: number, host: PeerUiHost): Promise<string> {
  const { ticket } = host.signInUrl();
  const answer = await call(port, 'POST', '/ui/ticket', { json: { ticket } });
  return answer.json<{ token: string }>().token;
}
