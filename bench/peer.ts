/**
 * `npm run bench:peer`: peer-to-peer sharing figures for docs/RESULTS.md, on this machine.
 *
 * A cloud of three real server processes sharing one SQLite directory, and the agents of alice
 * and bob (this process, real TCP on loopback). Measured:
 *
 *   1. accept -> viewer holds the image: alice accepts bob's request (directory answer, copy
 *      sealed and signed, hidden by the cloud, CopyAvailable, bob pulls, checks and stores
 *      it); timed from the accept call to bob's image-received event. BENCH_RUNS requests
 *      (default 20) for a 108 KB JPEG, and 3 for a 5 MB PNG.
 *   2. P2P transfer rate of the 5 MB image's copy on loopback: bob's authenticated session
 *      pulls the whole copy from alice's listener with CopyFetch, chunk sizes side by side
 *      (BENCH_TRANSFERS pulls each, default 10), raw transfer only (no checks, no disk write).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { PeerAgent } from '../src/peer/agent.js';
import type { AgentEvent } from '../src/peer/api-types.js';
import { DataDir } from '../src/peer/data-dir.js';
import { PeerRefusal, PeerSession } from '../src/peer/p2p-session.js';
import { p2pTransport } from '../src/peer/p2p-tls.js';
import { LocalCluster } from '../src/server/local-cluster.js';
import { createLogger } from '../src/util/log.js';
import { packagePath } from '../src/util/package-info.js';
import { quantileSorted } from '../src/util/stats.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 10);
const CHUNKS_MIB = [1, 2, 4];

function waitFor(
  agent: PeerAgent,
  match: (event: AgentEvent) => boolean,
  timeout_ms = 120_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`${agent.username}: event not seen within ${timeout_ms} ms`));
    }, timeout_ms);
    const off = agent.events.on((event) => {
      if (!match(event)) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (x: number | undefined) => (x ?? NaN).toFixed(1);
  return `median ${f(quantileSorted(sorted, 0.5))} ms, p90 ${f(quantileSorted(sorted, 0.9))} ms, min ${f(sorted[0])} ms, max ${f(sorted[sorted.length - 1])} ms (n=${values.length})`;
}

/** An incompressible PNG of about `bytes` bytes (random RGB noise). */
async function noisePng(bytes: number): Promise<Uint8Array> {
  const side = Math.round(Math.sqrt(bytes / 3));
  const png = await sharp(randomBytes(side * side * 3), {
    raw: { width: side, height: side, channels: 3 },
  })
    .png({ compressionLevel: 1 })
    .toBuffer();
  return new Uint8Array(png);
}

async function acceptToHeld(
  alice: PeerAgent,
  bob: PeerAgent,
  image: Uint8Array,
  runs: number,
): Promise<{ times: number[]; copyBytes: number; cloud_ms: number[] }> {
  const times: number[] = [];
  const cloud_ms: number[] = [];
  let copyBytes = 0;
  for (let i = 0; i < runs; i++) {
    const { image: own, latency_ms } = await alice.encrypt(image, `bench ${i}`);
    cloud_ms.push(latency_ms);
    // Listen before asking: alice's agent may see the request before bob's call returns.
    const seen = waitFor(
      alice,
      (e) => e.type === 'request-received' && e.request.image_id === own.image_id,
    );
    const created = await bob.request('alice', own.image_id, 3);
    await seen;
    const held = waitFor(bob, (e) => e.type === 'image-received' && e.image_id === own.image_id);
    const started = performance.now();
    await alice.answer(created.request.request_id, 'accepted');
    await held;
    times.push(performance.now() - started);
    copyBytes = bob.received().find((r) => r.image_id === own.image_id)?.size_bytes ?? 0;
  }
  return { times, copyBytes, cloud_ms };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-bench-peer-'));
  const cluster = await LocalCluster.generate({
    dir,
    size: 3,
    directoryUrl: 'sqlite:directory.sqlite',
    thread_pool_size: 1,
  });
  const agents: PeerAgent[] = [];
  try {
    await cluster.startAll();
    await cluster.waitForLeader(30_000);
    const servers = cluster.addresses.map((a) => {
      const [host, port] = a.split(':');
      return { host: host as string, port: Number(port) };
    });
    const logger = (name: string) => createLogger(name, { level: 'error' });
    for (const name of ['alice', 'bob']) {
      const dataDir = new DataDir(join(dir, name));
      await PeerAgent.register({ dataDir, username: name, servers });
      const agent = PeerAgent.open({ dataDir, mode: 'running', logger: logger(name) });
      await agent.start();
      agents.push(agent);
    }
    const [alice, bob] = agents as [PeerAgent, PeerAgent];
    console.log(`node ${process.version}, ${RUNS} runs; cloud: 3 servers, SQLite directory`);

    const photo = new Uint8Array(readFileSync(packagePath('assets', 'samples', 'photo.jpg')));
    await acceptToHeld(alice, bob, photo, 2); // warm-up: cloud connections, covers, JIT
    const small = await acceptToHeld(alice, bob, photo, RUNS);
    console.log(
      `accept -> held, ${photo.length} B JPEG (copy ${small.copyBytes} B): ${summary(small.times)}`,
    );
    console.log(
      `  cloud round trip for the same container (owner's own copy): ${summary(small.cloud_ms)}`,
    );

    const big = await noisePng(4_740_000); // about 5.0 MB: noise PNGs do not compress
    const large = await acceptToHeld(alice, bob, big, 3);
    console.log(
      `accept -> held, ${big.length} B PNG (copy ${large.copyBytes} B): ${summary(large.times)}`,
    );
    console.log(
      `  cloud round trip for the same container (owner's own copy): ${summary(large.cloud_ms)}`,
    );

    // Raw transfer of the last 5 MB copy: bob's own authenticated session to alice's listener.
    const target = bob.received().sort((a, b) => (b.size_bytes ?? 0) - (a.size_bytes ?? 0))[0];
    if (!target) throw new Error('no copy to transfer');
    const me = { user_id: bob.identity.user_id, username: 'bob', keys: bob.identity.keys };
    const session = await PeerSession.dial({
      host: '127.0.0.1',
      port: alice.p2pAddress?.port as number,
      me,
      expected: {
        user_id: alice.identity.user_id,
        username: 'alice',
        public_key: alice.identity.keys.publicKey,
      },
      handler: async () => {
        throw new PeerRefusal('unsupported', 'bench');
      },
      transport: await p2pTransport('tls', me),
    });
    const rates: string[] = [];
    for (const mib of CHUNKS_MIB) {
      const chunk = mib * 1024 * 1024;
      const times: number[] = [];
      let total = 0;
      for (let i = 0; i < TRANSFERS; i++) {
        const started = performance.now();
        let offset = 0;
        do {
          const reply = await session.request(
            { type: 'CopyFetch', image_id: target.image_id, offset, length: chunk },
            { timeout_ms: 60_000 },
          );
          if (reply.message.type !== 'CopyPart') throw new Error('unexpected reply');
          total = reply.message.total_bytes;
          offset += reply.binary.length;
        } while (offset < total);
        times.push(performance.now() - started);
      }
      const median = quantileSorted(
        [...times].sort((a, b) => a - b),
        0.5,
      );
      rates.push(
        `${mib} MiB chunks: ${(total / 1024 / 1024 / (median / 1000)).toFixed(0)} MiB/s (median ${median.toFixed(1)} ms for ${total} B, n=${TRANSFERS})`,
      );
    }
    session.close('bench done');
    console.log(`P2P transfer of the 5 MB image's copy on loopback:\n  ${rates.join('\n  ')}`);
  } finally {
    await Promise.allSettled(agents.map((a) => a.stop('bench over')));
    await cluster.stopAll(5000);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
