/**
 * Connection floods against real server processes with small budgets: idle connections that
 * never handshake, connections from many source addresses (127.0.0.x), slow senders and
 * half-sent big frames. Connections and memory for unfinished frames must stay within their
 * budgets, and a new client must be served while the flood goes on.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { newClientCredentials } from '../../src/client/cloud-trust.js';
import { FRAME_HEADER_SIZE_BYTES } from '../../src/protocol/frame.js';
import type { RuntimeStatus } from '../../src/server/runtime.js';
import {
  TEST_TIMEOUT_MS,
  DEADLINE,
  SAMPLE_PAYLOAD,
  connectClient,
  eventually,
  startTestCluster,
  type TestCluster,
} from './helpers/cluster-fixture.js';

const MAX_CONNECTIONS = 48;
const PER_ADDRESS = 12;
const MAX_BUFFERED_MB = 16;
const LIMITS = [
  `max_connections = ${MAX_CONNECTIONS}`,
  `max_connections_per_address = ${PER_ADDRESS}`,
  'handshake_timeout_secs = 2',
  'idle_timeout_secs = 4',
  'frame_read_timeout_secs = 3',
  `max_buffered_mb = ${MAX_BUFFERED_MB}`,
].join('\n');

let tc: TestCluster;
const sockets: Socket[] = [];

beforeAll(async () => {
  tc = await startTestCluster({ size: 3, limitsToml: LIMITS });
  await tc.cluster.waitForLeader(DEADLINE.start_ms);
}, TEST_TIMEOUT_MS);

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
});

afterAll(async () => tc?.cleanup());

function target(): { host: string; port: number } {
  const [host, port] = tc.cluster.member(1).address.split(':') as [string, string];
  return { host, port: Number(port) };
}

/** Opens a raw TCP connection from `localAddress`; resolves once connected (or refused). */
function rawConnection(localAddress: string): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ ...target(), localAddress });
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve(socket));
    socket.once('close', () => resolve(socket));
  });
}

/** A TLS connection with a fresh client key that then does what the test says. */
async function tlsConnection(): Promise<TLSSocket> {
  const credentials = await newClientCredentials('flooder');
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      ...target(),
      cert: credentials.certPem,
      key: credentials.keyPem,
      rejectUnauthorized: false,
    });
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.once('secureConnect', () => resolve(socket));
    socket.once('close', () => reject(new Error('closed before the handshake')));
  });
}

/** A frame header announcing `bodyBytes` (a TaskRequest), for half-sent frames. */
function header(bodyBytes: number): Buffer {
  const bytes = Buffer.alloc(FRAME_HEADER_SIZE_BYTES);
  bytes.write('CP', 0, 'latin1');
  bytes[2] = 1;
  bytes[3] = 33;
  bytes.writeUInt32BE(bodyBytes, 4);
  bytes.writeUInt32BE(1, 8);
  bytes.writeUInt32BE(64, 24);
  return bytes;
}

async function status(): Promise<RuntimeStatus> {
  const s = await tc.cluster.status(1, 5000);
  if (!s) throw new Error('server 1 did not answer /status');
  return s;
}

/** Watches server 1's /status while `during` runs; returns the largest values seen. */
async function watch(
  during: () => Promise<void>,
): Promise<{ connections: number; buffered: number }> {
  let stop = false;
  const seen = { connections: 0, buffered: 0 };
  const watcher = (async () => {
    while (!stop) {
      const s = await tc.cluster.status(1, 5000);
      if (s) {
        seen.connections = Math.max(seen.connections, s.connections);
        seen.buffered = Math.max(seen.buffered, s.buffered_bytes);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  try {
    await during();
  } finally {
    stop = true;
    await watcher;
  }
  return seen;
}

/** A new client is served: one image through the cloud while the flood holds. */
async function newClientServed(): Promise<void> {
  const client = await connectClient(tc.cluster, 'newcomer');
  try {
    const result = await client.encrypt(`t-${Date.now()}`, SAMPLE_PAYLOAD);
    expect(result.png.length).toBeGreaterThan(0);
  } finally {
    client.close();
  }
}

describe('connection floods', () => {
  it('idle connections from many addresses: capped per address and in all, newcomers still served', async () => {
    const seen = await watch(async () => {
      // 8 addresses × 20 connections that never say anything (not even a TLS hello).
      const opened = await Promise.all(
        Array.from({ length: 160 }, (_, i) => rawConnection(`127.0.0.${2 + (i % 8)}`)),
      );
      expect(opened).toHaveLength(160);
      await newClientServed();
    });
    expect(seen.connections).toBeLessThanOrEqual(MAX_CONNECTIONS);
    // Handshake deadline: the silent ones are gone soon after.
    expect(await eventually(async () => (await status()).connections < 12, 20_000)).toBe(true);
  });

  it('one address cannot take more than its share', async () => {
    const before = (await status()).connections;
    const seen = await watch(async () => {
      await Promise.all(Array.from({ length: 30 }, () => rawConnection('127.0.0.20')));
      // Those over the share are closed at once, long before the handshake deadline.
      const refused = await eventually(
        () => sockets.filter((s) => s.destroyed || s.readableEnded).length >= 30 - PER_ADDRESS,
        1500,
        20,
      );
      expect(refused).toBe(true);
    });
    expect(seen.connections).toBeLessThanOrEqual(before + PER_ADDRESS);
  });

  it('slow senders (a byte at a time) are cut off by the frame-read deadline', async () => {
    const slow = await Promise.all(Array.from({ length: 5 }, () => tlsConnection()));
    const bytes = header(1024);
    let offset = 0;
    const drip = setInterval(() => {
      for (const socket of slow)
        if (!socket.destroyed) socket.write(bytes.subarray(offset, offset + 1));
      offset = Math.min(offset + 1, bytes.length - 1);
    }, 200);
    try {
      const cut = await eventually(() => slow.every((s) => s.destroyed || s.readableEnded), 20_000);
      expect(cut).toBe(true);
    } finally {
      clearInterval(drip);
    }
  });

  it('half-sent big frames stay within the memory budget, and newcomers are served', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const seen = await watch(async () => {
      const senders = await Promise.all(Array.from({ length: 10 }, () => tlsConnection()));
      // Each announces a 40 MiB frame and sends 6 MiB of it: 60 MiB wanted, 16 MiB allowed.
      for (const socket of senders) {
        socket.write(header(40 * 1024 * 1024));
        for (let n = 0; n < 6; n++) socket.write(chunk);
      }
      await eventually(
        async () => ((await tc.cluster.status(1, 5000))?.buffered_bytes ?? 0) > 0,
        10_000,
      );
      await newClientServed();
    });
    const budget = MAX_BUFFERED_MB * 1024 * 1024;
    // Held bytes may overshoot by one TLS record (16 KiB) before the largest holder is dropped.
    expect(seen.buffered).toBeLessThanOrEqual(budget + 64 * 1024);
    expect(
      await eventually(
        async () => (await tc.cluster.status(1, 5000))?.buffered_bytes === 0,
        30_000,
      ),
    ).toBe(true);
  });
});
