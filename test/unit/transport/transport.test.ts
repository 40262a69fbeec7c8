import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageCodec, type MessageSpec } from '../../../src/protocol/codec.js';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';
import { MessageLink, type MessageLinkHandlers } from '../../../src/transport/message-link.js';
import {
  DEFAULT_BUDGETS,
  MessageServer,
  type Connection,
} from '../../../src/transport/message-server.js';
import { INSECURE_PLAINTEXT } from '../../../src/transport/tls.js';
import { Signal } from '../../helpers/signal.js';

/** These tests are about framing; TLS and budgets have their own (tls.test.ts, budgets.test.ts). */
const PLAIN = { kind: INSECURE_PLAINTEXT } as const;

type TestMessage =
  | { type: 'Ping'; n: number }
  | { type: 'Blob'; size_bytes: number }
  | { type: 'Error'; code: string; message: string };

const specs: MessageSpec[] = [
  { code: 1, type: 'Ping', binary: { kind: 'none' } },
  { code: 2, type: 'Blob', binary: { kind: 'sized', lengthField: 'size_bytes' } },
  { code: 255, type: 'Error', binary: { kind: 'none' } },
];
const codec = new MessageCodec<TestMessage>(specs, (value) => {
  const v = value as { type?: unknown };
  return typeof v === 'object' && v !== null && typeof v.type === 'string'
    ? { ok: true, message: v as TestMessage }
    : { ok: false, error: 'not a message' };
});
const limits = { maxBodyBytes: 1024 * 1024, maxMetaBytes: 4096 };

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function startEchoServer(): Promise<{ port: number; refused: string[] }> {
  const refused: string[] = [];
  const server = new MessageServer<TestMessage>(
    {
      codec,
      clusterId: 1,
      limits,
      security: PLAIN,
      budgets: DEFAULT_BUDGETS,
      makeError: (code, message) => ({ type: 'Error', code, message }),
    },
    {
      onMessage(connection: Connection<TestMessage>, decoded) {
        if (decoded.message.type === 'Ping')
          connection.send(
            { type: 'Ping', n: decoded.message.n + 1 },
            { requestId: decoded.requestId },
          );
        if (decoded.message.type === 'Blob')
          connection.send(decoded.message, {
            requestId: decoded.requestId,
            binary: decoded.binary,
          });
      },
      onRefused: (_connection, reason) => refused.push(reason),
    },
  );
  const { port } = await server.listen('127.0.0.1', 0);
  cleanup.push(() => server.close());
  return { port, refused };
}

function link(
  port: number,
  handlers: Partial<MessageLinkHandlers<TestMessage>> = {},
): MessageLink<TestMessage> {
  const l = new MessageLink<TestMessage>(
    {
      host: '127.0.0.1',
      port,
      codec,
      clusterId: 1,
      limits,
      security: PLAIN,
      connectTimeout_ms: 1000,
    },
    { onMessage: () => undefined, ...handlers },
  );
  cleanup.push(() => l.close());
  return l;
}

/**
 * Sends raw bytes on a fresh socket and collects what comes back until the server closes, or
 * (with `replies`) until that many replies came with the connection still open. The 20 s cap
 * is a deadline for failure: it ends with `closed: false` and what came so far.
 */
function rawExchange(
  port: number,
  bytes: Uint8Array,
  until: { replies: number } | 'close' = 'close',
): Promise<{ replies: TestMessage[]; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const decoder = new FrameDecoder();
    const replies: TestMessage[] = [];
    const end = (closed: boolean): void => {
      clearTimeout(cap);
      socket.destroy();
      resolve({ replies, closed });
    };
    socket.on('data', (chunk) => {
      for (const frame of decoder.push(chunk))
        replies.push(JSON.parse(new TextDecoder().decode(frame.meta)) as TestMessage);
      if (until !== 'close' && replies.length >= until.replies) end(false);
    });
    socket.on('close', () => end(true));
    socket.write(bytes);
    const cap = setTimeout(() => end(false), 20_000);
  });
}

describe('MessageServer and MessageLink over loopback TCP', () => {
  it('correlates a request with its reply by request id', async () => {
    const { port } = await startEchoServer();
    const l = link(port);
    const replies = await Promise.all([1, 2, 3].map((n) => l.request({ type: 'Ping', n }, 2000)));
    expect(replies.map((r) => r.message)).toEqual([
      { type: 'Ping', n: 2 },
      { type: 'Ping', n: 3 },
      { type: 'Ping', n: 4 },
    ]);
  });

  it('carries binary payloads byte for byte', async () => {
    const { port } = await startEchoServer();
    const blob = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
    const reply = await link(port).request({ type: 'Blob', size_bytes: blob.length }, 2000, {
      binary: blob,
    });
    expect(Buffer.compare(Buffer.from(reply.binary), Buffer.from(blob))).toBe(0);
  });

  it('answers garbage with an Error and closes that connection, while others keep working', async () => {
    const { port, refused } = await startEchoServer();
    const good = link(port);
    await good.request({ type: 'Ping', n: 0 }, 2000);
    const garbage = await rawExchange(
      port,
      new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
    );
    expect(garbage.closed).toBe(true);
    expect(garbage.replies[0]).toMatchObject({ type: 'Error', code: 'bad_magic' });
    expect(refused).toContain('bad_magic');
    expect((await good.request({ type: 'Ping', n: 10 }, 2000)).message).toEqual({
      type: 'Ping',
      n: 11,
    });
  });

  it('refuses an oversize frame from its header and closes', async () => {
    const { port } = await startEchoServer();
    const header = codec
      .encode(
        { type: 'Blob', size_bytes: 2 * 1024 * 1024 },
        { clusterId: 1, binary: new Uint8Array(2 * 1024 * 1024) },
      )
      .subarray(0, 28);
    const result = await rawExchange(port, header);
    expect(result.closed).toBe(true);
    expect(result.replies[0]).toMatchObject({ type: 'Error', code: 'oversize_frame' });
  });

  it('answers an unknown type or wrong cluster with an Error but keeps the connection', async () => {
    const { port, refused } = await startEchoServer();
    const wrongCluster = codec.encode({ type: 'Ping', n: 1 }, { clusterId: 2, requestId: 5 });
    const ping = codec.encode({ type: 'Ping', n: 41 }, { clusterId: 1, requestId: 6 });
    // The Ping's answer comes after the Error on the same connection: it was kept.
    const result = await rawExchange(port, new Uint8Array([...wrongCluster, ...ping]), {
      replies: 2,
    });
    expect(result.closed).toBe(false);
    expect(result.replies).toEqual([
      {
        type: 'Error',
        code: 'wrong_cluster',
        message: expect.stringMatching(/cluster 2 reached cluster 1/),
      },
      { type: 'Ping', n: 42 },
    ]);
    expect(refused).toEqual(['wrong_cluster']);
  });

  it('queues while the server is down and delivers once it is up, reconnecting by itself', async () => {
    const probe = await startEchoServer();
    const port = probe.port;
    await cleanup.pop()?.(); // stop it: the port is now free
    let failedAttempts = 0;
    const attempts = new Signal();
    const l = link(port, {
      onDisconnect: (reason) => {
        if (reason.kind === 'connect_failed') failedAttempts++;
        attempts.changed();
      },
    });
    // The timeout is a deadline for failure; the reply comes as soon as the server is up.
    const reply = l.request({ type: 'Ping', n: 99 }, 30_000);
    await attempts.until(() => failedAttempts >= 2, 'two failed connection attempts');
    const server = new MessageServer<TestMessage>(
      {
        codec,
        clusterId: 1,
        limits,
        security: PLAIN,
        budgets: DEFAULT_BUDGETS,
        makeError: (code, message) => ({ type: 'Error', code, message }),
      },
      {
        onMessage: (c, d) =>
          c.send(
            { type: 'Ping', n: (d.message as { n: number }).n + 1 },
            { requestId: d.requestId },
          ),
      },
    );
    await server.listen('127.0.0.1', port);
    cleanup.push(() => server.close());
    expect((await reply).message).toEqual({ type: 'Ping', n: 100 });
  });

  it('times a request out with a clear message', async () => {
    const server = new MessageServer<TestMessage>(
      {
        codec,
        clusterId: 1,
        limits,
        security: PLAIN,
        budgets: DEFAULT_BUDGETS,
        makeError: (code, message) => ({ type: 'Error', code, message }),
      },
      { onMessage: () => undefined },
    );
    const { port } = await server.listen('127.0.0.1', 0);
    cleanup.push(() => server.close());
    await expect(link(port).request({ type: 'Ping', n: 1 }, 100)).rejects.toThrow(
      /no reply from 127\.0\.0\.1:\d+ to Ping within 100 ms/,
    );
  });
});
