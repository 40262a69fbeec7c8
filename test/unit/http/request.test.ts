/**
 * requestBytes: the CLI's bounded HTTP client (node:http, one request per connection).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpRequestError, requestBytes } from '../../../src/http/request.js';

let server: Server;
let base = '';
const seenConnections: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seenConnections.push(String(req.headers.connection));
    if (req.url === '/echo') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, body: Buffer.concat(chunks).toString() }));
      });
    } else if (req.url === '/big') {
      res.setHeader('content-length', '5000');
      res.end(Buffer.alloc(5000, 1));
    } else if (req.url === '/big-chunked') {
      res.write(Buffer.alloc(3000, 1));
      res.end(Buffer.alloc(3000, 2));
    } else if (req.url === '/silent') {
      // never answers: the client's deadline ends it
    } else {
      res.statusCode = 404;
      res.end('{"error":{"code":"not_found"}}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const options = { method: 'GET', timeout_ms: 5000, maxBytes: 4096 };

describe('requestBytes', () => {
  it('sends a body and returns the whole answer, closing the connection after it', async () => {
    const answer = await requestBytes(`${base}/echo`, {
      ...options,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"x":1}',
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(Buffer.from(answer.body).toString())).toEqual({
      method: 'POST',
      body: '{"x":1}',
    });
    expect(seenConnections.at(-1)).toBe('close');
  });

  it('returns error statuses with their body', async () => {
    const answer = await requestBytes(`${base}/missing`, options);
    expect(answer.status).toBe(404);
    expect(Buffer.from(answer.body).toString()).toContain('not_found');
  });

  it('refuses an answer over the limit, declared or streamed', async () => {
    await expect(requestBytes(`${base}/big`, options)).rejects.toMatchObject({
      kind: 'too_large',
      message: 'the answer is 5000 bytes (limit 4096)',
    });
    await expect(requestBytes(`${base}/big-chunked`, options)).rejects.toMatchObject({
      kind: 'too_large',
      message: 'the answer is over 4096 bytes',
    });
  });

  it('gives up at the deadline, and says when nothing listens', async () => {
    await expect(
      requestBytes(`${base}/silent`, { ...options, timeout_ms: 200 }),
    ).rejects.toMatchObject({ kind: 'timeout', message: 'no answer within 200 ms' });
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const refused = requestBytes(`http://127.0.0.1:${port}/`, options);
    await expect(refused).rejects.toBeInstanceOf(HttpRequestError);
    await expect(refused).rejects.toMatchObject({ kind: 'unreachable' });
  });
});
