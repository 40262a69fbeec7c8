/**
 * Connection floods against real server processes with small budgets: idle connections that
 * never handshake, connections from many source addresses (127.0.0.x), slow senders and
 * half-sent big frames. Connections and memory for unfinished frames must stay within their
 * budgets, and a new client must be served while the flood goes on. The worst moment is read
 * from the server's own high-water marks (/status `peaks`, since start), so each flood that
 * checks them targets a server no earlier flood touched.
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
  clusterChanges,
  eventually,
  socketEvents,
  startTestCluster,
  type TestCluster,
} from './helpers/cluster-fixture.js';

const MAX_CONNECTIONS = 48;
const PER_ADDRESS = 12;
const MAX_BUFFERED_MB = 16;
const LIMITS = [
  `max_connections = ${MAX_CONNECTIONS}`,
  `max_connections_per_address = ${PER_ADDRESS}`,
  // Long enough that a starved machine finishes the tests' own TLS handshakes and connects
  // within it; the silent connections still go after it.
  'handshake_timeout_secs = 10',
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

function target(server: number): { host: string; port: number } {
  const [host, port] = tc.cluster.member(server).address.split(':') as [string, string];
  return { host, port: Number(port) };
}

/** Opens a raw TCP connection from `localAddress`; resolves once connected (or refused). */
function rawConnection(server: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ ...target(server), localAddress });
    sockets.push(socket);
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve(socket));
    socket.once('close', () => resolve(socket));
  });
}

/** A TLS connection with a fresh client key that then does what the test says. */
async function tlsConnection(server: number): Promise<TLSSocket> {
  const credentials = await newClientCredentials('flooder');
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      ...target(server),
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

async function status(server: number): Promise<RuntimeStatus> {
  const s = await tc.cluster.status(server, DEADLINE.progress_ms);
  if (!s) throw new Error(`server ${server} did not answer /status`);
  return s;
}

/** How many connections `server` refused for `reason` so far (its /metrics counter). */
async function refusals(server: number, reason: string): Promise<number> {
  const response = await fetch(`${tc.cluster.member(server).httpUrl}/metrics`);
  const text = await response.text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`cloudp2p_rejected_connections_total{reason="${reason}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
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

describe('connection floods', { timeout: TEST_TIMEOUT_MS }, () => {
  it('idle connections from many addresses: capped per address and in all, newcomers still served', async () => {
    // 8 addresses × 20 connections to server 1 that never say anything (not even a TLS hello).
    const opened = await Promise.all(
      Array.from({ length: 160 }, (_, i) => rawConnection(1, `127.0.0.${2 + (i % 8)}`)),
    );
    expect(opened).toHaveLength(160);
    await newClientServed();
    expect((await status(1)).peaks.connections).toBeLessThanOrEqual(MAX_CONNECTIONS);
    // Handshake deadline: the silent ones are gone after it.
    expect(
      await eventually(async () => (await status(1)).connections < 12, DEADLINE.progress_ms, [
        socketEvents(opened),
        ...clusterChanges(tc),
      ]),
    ).toBe(true);
  });

  it('one address cannot take more than its share', async () => {
    // Server 2: no flood reached it before, so its peak so far is its peers and a newcomer.
    const before = await status(2);
    const refusedBefore = await refusals(2, 'address_limit');
    const flood = await Promise.all(
      Array.from({ length: 30 }, () => rawConnection(2, '127.0.0.20')),
    );
    // Those over the share are refused for it (not cut later by the handshake deadline).
    expect(
      await eventually(
        async () => (await refusals(2, 'address_limit')) - refusedBefore >= 30 - PER_ADDRESS,
        DEADLINE.progress_ms,
        [socketEvents(flood), ...clusterChanges(tc)],
      ),
    ).toBe(true);
    expect((await refusals(2, 'address_limit')) - refusedBefore).toBe(30 - PER_ADDRESS);
    const after = await status(2);
    expect(after.peaks.connections).toBeLessThanOrEqual(
      Math.max(before.peaks.connections, before.connections + PER_ADDRESS),
    );
  });

  it('slow senders (a byte at a time) are cut off by the frame-read deadline', async () => {
    const slow = await Promise.all(Array.from({ length: 5 }, () => tlsConnection(1)));
    const bytes = header(1024);
    let offset = 0;
    const drip = setInterval(() => {
      for (const socket of slow)
        if (!socket.destroyed) socket.write(bytes.subarray(offset, offset + 1));
      offset = Math.min(offset + 1, bytes.length - 1);
    }, 200);
    try {
      const cut = await eventually(
        () => slow.every((s) => s.destroyed || s.readableEnded),
        DEADLINE.progress_ms,
        [socketEvents(slow)],
      );
      expect(cut).toBe(true);
    } finally {
      clearInterval(drip);
    }
  });

  it('half-sent big frames stay within the memory budget, and newcomers are served', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    // Server 3: the first to receive unfinished frames, so its peak is this flood's.
    const senders = await Promise.all(Array.from({ length: 10 }, () => tlsConnection(3)));
    // Each announces a 40 MiB frame and sends 6 MiB of it: 60 MiB wanted, 16 MiB allowed.
    const written = senders.map(
      (socket) =>
        new Promise<void>((resolve) => {
          socket.write(header(40 * 1024 * 1024));
          for (let n = 0; n < 5; n++) socket.write(chunk);
          socket.write(chunk, () => resolve());
          socket.once('close', () => resolve());
        }),
    );
    // Every sender's bytes have left (or its connection was dropped: budget or read deadline).
    await Promise.all(written);
    await newClientServed();
    const budget = MAX_BUFFERED_MB * 1024 * 1024;
    // Held bytes may overshoot by one TLS record (16 KiB) before the largest holder is dropped.
    expect((await status(3)).peaks.buffered_bytes).toBeLessThanOrEqual(budget + 64 * 1024);
    expect((await status(3)).peaks.buffered_bytes).toBeGreaterThan(0);
    expect(
      await eventually(async () => (await status(3)).buffered_bytes === 0, DEADLINE.progress_ms, [
        socketEvents(senders),
        ...clusterChanges(tc),
      ]),
    ).toBe(true);
  });
});
