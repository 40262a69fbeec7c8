/**
 * The agent's local HTTP API with hostile and broken requests: it needs the token and a
 * loopback Host, checks every path parameter and body, bounds sizes and rates, and answers
 * errors as JSON with the CLI's exit code. Uses a real agent whose cloud is unreachable, so
 * nothing here needs servers.
 */
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../../src/identity/keys.js';
import { PeerAgent } from '../../../src/peer/agent.js';
import { ApiAgentClient } from '../../../src/peer/api-client.js';
import { PeerApiServer } from '../../../src/peer/api-server.js';
import { DataDir } from '../../../src/peer/data-dir.js';
import { createLogger } from '../../../src/util/log.js';
import { Signal } from '../../helpers/signal.js';

// The cloud these tests talk to is unreachable on purpose; they need a cloud CA to be named
// (any: nothing answers) so that what they see is the unreachable cloud, not a missing CA.
process.env.CLOUDP2P_CLOUD_CA ??= 'ab'.repeat(32);

let root: string;
let agent: PeerAgent;
let api: PeerApiServer;
let port: number;
let token: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'peer-api-'));
  const dataDir = new DataDir(root);
  dataDir.writeIdentity({
    username: 'alice',
    user_id: '11111111-2222-4333-8444-555555555555',
    keys: generateIdentity(),
  });
  // Port 9 (discard) on loopback: nothing listens, so directory calls fail fast.
  dataDir.writeSettings({ servers: [{ host: '127.0.0.1', port: 9 }], cluster_id: 1 });
  const logger = createLogger('api-test', { level: 'error' });
  agent = PeerAgent.open({ dataDir, mode: 'one-shot', logger, directoryTimeout_ms: 300 });
  api = new PeerApiServer({ agent, logger, requestsPerSecond: 50 });
  ({ port, token } = await api.listen());
});

afterAll(async () => {
  await api.close();
  await agent.stop();
  rmSync(root, { recursive: true, force: true });
});

interface Answer {
  status: number;
  body: string;
  json: () => { error?: { code: string; message: string; exit_code: number } } & Record<
    string,
    unknown
  >;
  headers: Record<string, string | string[] | undefined>;
}

function call(
  method: string,
  path: string,
  options: {
    headers?: Record<string, string>;
    body?: string | Buffer;
    token?: string | null;
    port?: number;
  } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== null) headers['x-cloudp2p-token'] = options.token ?? token;
  const to = options.port ?? port;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: to, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          body,
          json: () => JSON.parse(body),
          headers: res.headers,
        });
      });
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

describe('agent API', () => {
  it('answers the status of the agent to its user', async () => {
    const answer = await call('GET', '/api/status');
    expect(answer.status).toBe(200);
    expect(answer.json()).toMatchObject({ username: 'alice', mode: 'one-shot', api_version: 1 });
    const viaClient = new ApiAgentClient({ api: { host: '127.0.0.1', port }, token });
    expect((await viaClient.received()).length).toBe(0);
  });

  it('refuses requests without the right token in a header; a token in the URL is refused', async () => {
    expect((await call('GET', '/api/status', { token: null })).status).toBe(401);
    const wrong = await call('GET', '/api/status', { token: 'a'.repeat(64) });
    expect(wrong.status).toBe(401);
    expect(wrong.json().error).toMatchObject({ code: 'unauthorized', exit_code: 7 });
    // URLs end up in history, logs and Referer headers: the token never travels in one.
    for (const path of ['/api/status', '/api/events', '/api/received'])
      expect((await call('GET', `${path}?token=${token}`, { token: null })).status).toBe(401);
    expect((await call('POST', `/api/sync?token=${token}`, { token: null })).status).toBe(401);
    const bearer = await call('GET', '/api/status', {
      token: null,
      headers: { authorization: `Bearer ${token}` },
    });
    expect(bearer.status).toBe(200);
  });

  it('refuses a Host that is not loopback (DNS rebinding)', async () => {
    const answer = await call('GET', '/api/status', { headers: { host: 'evil.example:80' } });
    expect(answer.status).toBe(421);
    expect(answer.json().error?.code).toBe('bad_host');
  });

  it('checks routes, methods and path parameters', async () => {
    expect((await call('GET', '/api/nothing')).status).toBe(404);
    expect((await call('DELETE', '/api/status')).status).toBe(405);
    const badUser = await call('GET', '/api/peers/..%2F..%2Fetc/previews');
    expect(badUser.status).toBe(400);
    expect(badUser.json().error?.message).toMatch(/username/);
    expect((await call('POST', '/api/requests/not-a-uuid/accept')).status).toBe(400);
    expect((await call('GET', '/api/peers/%E0%A4%A/previews')).status).toBe(400);
    expect((await call('GET', `/api/${'x'.repeat(600)}`)).status).toBe(414);
  });

  it('checks JSON bodies: type, syntax, fields, ranges and size', async () => {
    const json = { 'content-type': 'application/json' };
    expect((await call('POST', '/api/requests', { headers: json, body: '{oops' })).status).toBe(
      400,
    );
    expect(
      (
        await call('POST', '/api/requests', {
          headers: { 'content-type': 'text/plain' },
          body: '{}',
        })
      ).status,
    ).toBe(415);
    const extra = await call('POST', '/api/requests', {
      headers: json,
      body: JSON.stringify({ owner: 'bob', image_id: 'i1', views: 1, admin: true }),
    });
    expect(extra.json().error?.message).toMatch(/unknown field "admin"/);
    const range = await call('POST', '/api/requests', {
      headers: json,
      body: JSON.stringify({ owner: 'bob', image_id: 'i1', views: 0 }),
    });
    expect(range.json().error?.message).toMatch(/views: expected an integer from 1 to 10000/);
    const quota = await call('PUT', '/api/grants/i1/bob', {
      headers: json,
      body: JSON.stringify({ quota: 1.5 }),
    });
    expect(quota.status).toBe(400);
    const big = await call('POST', '/api/requests', { headers: json, body: 'x'.repeat(70 * 1024) });
    expect(big.status).toBe(413);
  });

  it('refuses bad parameters, queries and bodies by the route table, naming the field and what is allowed', async () => {
    const json = { 'content-type': 'application/json' };
    const refusal = async (method: string, path: string, body?: unknown): Promise<string> => {
      const text = body === undefined ? '' : JSON.stringify(body);
      // A length, since Node's client sends a DELETE's body unframed otherwise.
      const headers = { ...json, 'content-length': String(Buffer.byteLength(text)) };
      const answer = await call(method, path, { headers, body: text });
      expect(answer.status, `${method} ${path}`).toBe(400);
      expect(answer.json().error?.code).toBe('invalid_argument');
      return answer.json().error?.message ?? '';
    };
    expect(await refusal('POST', '/api/requests/not-a-uuid/accept')).toBe(
      'request_id "not-a-uuid": expected a lowercase UUID like 0b8e1c1e-7f5a-4c3e-9d2a-1b2c3d4e5f60',
    );
    expect(await refusal('GET', `/api/views/${'x'.repeat(32)}/image`)).toMatch(
      /^view_id "x+": expected 32 hex characters$/,
    );
    expect(await refusal('GET', '/api/requests?role=boss')).toBe(
      'role: expected one of "owner", "requester"',
    );
    expect(await refusal('GET', '/api/requests?role=owner&role=requester')).toBe('give role once');
    expect(await refusal('POST', '/api/requests', { image_id: 'i1', views: 1 })).toMatch(
      /^owner: missing; expected 3–32 characters/,
    );
    expect(await refusal('PUT', '/api/grants/i1/bob', { quota: -1 })).toBe(
      'quota: expected an integer from 0 to 1000000',
    );
    const id = '0b8e1c1e-7f5a-4c3e-9d2a-1b2c3d4e5f60';
    expect(await refusal('POST', `/api/requests/${id}/accept`, { offline_views: 11 })).toBe(
      'offline_views: expected an integer from 0 to 10',
    );
    expect(await refusal('POST', `/api/requests/${id}/accept?operation=a%20b`, {})).toBe(
      'operation: expected 1-64 of A-Z a-z 0-9 _ -',
    );
    expect(await refusal('DELETE', '/api/images/i1', { revoke_grants: 'yes' })).toBe(
      'revoke_grants: expected true or false',
    );
    expect(await refusal('POST', '/api/sync', { now: true })).toBe(
      'unknown field "now"; allowed: none',
    );
  });

  it('checks uploaded images before any work', async () => {
    const notImage = await call('POST', '/api/images?title=Hello', {
      headers: { 'content-type': 'image/png' },
      body: Buffer.from('this is not a png'),
    });
    expect(notImage.status).toBe(400);
    expect(notImage.json().error).toMatchObject({ exit_code: 3 });
    expect(notImage.json().error?.message).toMatch(/not a PNG or JPEG/);
    const noTitle = await call('POST', '/api/images', {
      headers: { 'content-type': 'image/png' },
      body: 'x',
    });
    expect(noTitle.json().error?.message).toMatch(/title/);
    const badTitle = await call('POST', '/api/images?title=%07bell', {
      headers: { 'content-type': 'image/png' },
      body: Buffer.from([0x89, 0x50]),
    });
    expect(badTitle.json().error?.message).toMatch(/control characters/);
    const wrongType = await call('POST', '/api/views', {
      headers: { 'content-type': 'text/html' },
      body: 'x',
    });
    expect(wrongType.status).toBe(415);
  });

  it('says clearly when the directory cannot be reached', async () => {
    const answer = await call('GET', '/api/peers');
    expect(answer.status).toBe(503);
    expect(answer.json().error).toMatchObject({ code: 'directory_unreachable', exit_code: 8 });
  });

  it('serves each held view image once', async () => {
    expect((await call('GET', `/api/views/${'0'.repeat(32)}/image`)).status).toBe(404);
    const unknown = await call('POST', '/api/received/bob/i1/views');
    expect(unknown.status).toBeGreaterThanOrEqual(400); // bob is unknown: the directory is down
  });

  it('streams events with the current status first', async () => {
    const client = new ApiAgentClient({ api: { host: '127.0.0.1', port }, token });
    const events: string[] = [];
    const arrived = new Signal();
    const stream = await client.events((event) => {
      events.push(event.type);
      arrived.changed();
    });
    await arrived.until(() => events.length > 0, 'the first event');
    stream.close();
    expect(events[0]).toBe('status');
  });

  it('limits the request rate: a burst of twice the rate, then a refill by the clock', async () => {
    // Its own server, on a clock that moves only when told: the limit does not depend on how
    // fast this machine sends requests.
    let now_ms = 1_000_000;
    const logger = createLogger('api-rate-test', { level: 'error' });
    const limited = new PeerApiServer({
      agent,
      logger,
      requestsPerSecond: 5,
      now_ms: () => now_ms,
    });
    const bound = await limited.listen();
    const status = () => call('GET', '/api/status', { port: bound.port, token: bound.token });
    try {
      for (let i = 0; i < 10; i++) expect((await status()).status).toBe(200);
      const refused = await status();
      expect(refused.status).toBe(429);
      expect(refused.json().error?.code).toBe('rate_limited');
      now_ms += 200; // one request's worth at 5 per second
      expect((await status()).status).toBe(200);
      expect((await status()).status).toBe(429);
    } finally {
      await limited.close();
    }
  });
});
