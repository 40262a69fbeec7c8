/**
 * PeerLinks.refreshQuiet: a link we keep sending on but have not heard back from for a failure
 * timeout is dialled afresh, at most once per failure timeout; links we do not use, or whose
 * peer we heard from lately, are left alone. The clock is injected; the peer is a real TCP
 * listener that records which of its connections each frame arrived on, so "left alone" is
 * seen as "the next frame came on the same connection" and a re-dial as "it came on a new one".
 * Plaintext links: this is about when links are re-dialled, not about TLS (covered elsewhere).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Message } from '../../../src/core/messages.js';
import { createCloudCodec } from '../../../src/protocol/cloud-protocol.js';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';
import { loadServerConfig } from '../../../src/server/config.js';
import { PeerLinks } from '../../../src/server/peer-links.js';
import { INSECURE_PLAINTEXT } from '../../../src/transport/tls.js';
import { createLogger } from '../../../src/util/log.js';
import { Signal } from '../../helpers/signal.js';

const FAILURE_TIMEOUT_MS = 1000;
const LIMITS = { maxBodyBytes: 1 << 20, maxMetaBytes: 1 << 16 };

/** A peer that accepts connections and counts frames per connection. */
class RecordingPeer {
  readonly connections: { socket: Socket; frames: number; closed: boolean }[] = [];
  private readonly signal = new Signal();
  private readonly server: Server;

  constructor() {
    this.server = createServer((socket) => {
      const record = { socket, frames: 0, closed: false };
      const decoder = new FrameDecoder(LIMITS);
      this.connections.push(record);
      socket.on('data', (chunk: Buffer) => {
        record.frames += decoder.push(chunk).length;
        this.changed();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        record.closed = true;
        this.changed();
      });
      this.changed();
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Resolves once `condition` holds (checked on every connection, frame and close). */
  until(condition: () => boolean): Promise<void> {
    return this.signal.until(condition, 'the peer to see it');
  }

  /** Total frames received, over all connections. */
  frames(): number {
    return this.connections.reduce((n, c) => n + c.frames, 0);
  }

  close(): void {
    for (const { socket } of this.connections) socket.destroy();
    this.server.close();
  }

  private changed(): void {
    this.signal.changed();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-peer-links-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let peer: RecordingPeer;
let links: PeerLinks;
let now_ms = 0;

function alive(round: number): Message {
  return { type: 'Alive', from: 1, epoch: 0, max_term: 0, round, score: 0 };
}

beforeEach(async () => {
  peer = new RecordingPeer();
  const port = await peer.listen();
  const path = join(dir, 'server1.toml');
  writeFileSync(
    path,
    [
      '[server]',
      'id = 1',
      'address = "127.0.0.1:0"',
      '[peers]',
      `peers = [{ id = 2, address = "127.0.0.1:${port}" }]`,
      '[election]',
      `failure_timeout_secs = ${FAILURE_TIMEOUT_MS / 1000}`,
    ].join('\n'),
  );
  now_ms = 0;
  links = new PeerLinks({
    config: loadServerConfig(path),
    codec: createCloudCodec(),
    limits: LIMITS,
    security: { kind: INSECURE_PLAINTEXT },
    log: createLogger('peer-links-test', { level: 'error' }),
    now: () => now_ms,
  });
});

afterEach(() => {
  links.closeAll();
  peer.close();
});

let round = 0;
/** Sends one message at the current time; resolves with the index of the connection it came on. */
async function sendAndSeeWhere(): Promise<number> {
  const before = peer.connections.map((c) => c.frames);
  const total = peer.frames();
  links.send(2, alive(++round));
  await peer.until(() => peer.frames() > total);
  return peer.connections.findIndex((c, i) => c.frames > (before[i] ?? 0));
}

describe('PeerLinks.refreshQuiet', () => {
  it('re-dials a link we send on but have not heard from for a failure timeout, once per timeout', async () => {
    expect(await sendAndSeeWhere()).toBe(0); // t=0: first dial

    now_ms = 500; // heard from nobody yet, but started only 500 ms ago
    links.refreshQuiet();
    expect(await sendAndSeeWhere()).toBe(0);

    now_ms = 1200; // heard from the peer just now
    links.heardFrom(2);
    now_ms = 1700; // a failure timeout after start, but only 500 ms after hearing from it
    links.refreshQuiet();
    expect(await sendAndSeeWhere()).toBe(0);

    now_ms = 2300; // 1100 ms since we heard from it, and we sent 600 ms ago: re-dial
    links.refreshQuiet();
    await peer.until(() => peer.connections[0]?.closed === true);
    expect(await sendAndSeeWhere()).toBe(1);

    now_ms = 2900; // still quiet, but re-dialled only 600 ms ago: left alone
    links.refreshQuiet();
    expect(await sendAndSeeWhere()).toBe(1);

    now_ms = 3400; // a failure timeout since the last re-dial, still quiet: again
    links.refreshQuiet();
    await peer.until(() => peer.connections[1]?.closed === true);
    expect(await sendAndSeeWhere()).toBe(2);
    expect(peer.connections).toHaveLength(3);
  });

  it('leaves alone a link we have not sent on for a failure timeout (follower to follower)', async () => {
    expect(await sendAndSeeWhere()).toBe(0); // sent at t=0, never heard from
    now_ms = 1500; // quiet for 1500 ms, but we last sent 1500 ms ago too
    links.refreshQuiet();
    expect(await sendAndSeeWhere()).toBe(0);
    expect(peer.connections).toHaveLength(1);
    expect(peer.connections[0]?.closed).toBe(false);
  });
});
