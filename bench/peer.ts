/**
 * `npm run bench:peer`: peer-to-peer sharing figures for docs/RESULTS.md, on this machine.
 *
 * A cloud of three real server processes sharing one SQLite directory, and two pairs of agents
 * in this process (real TCP on loopback): alice and bob talk TLS 1.3 as every agent does;
 * carol and dave use the `plaintext-benchmark-only` P2P transport (an agent option no config,
 * environment variable or CLI flag reaches), so the cost of encryption shows side by side in
 * one run, the two pairs taking turns. Measured:
 *
 *   1. accept -> viewer holds the image: the owner accepts the viewer's request (directory
 *      answer, copy sealed and signed, hidden by the cloud, CopyAvailable, the viewer pulls,
 *      checks and stores it); timed from the accept call to the viewer's image-received event.
 *      BENCH_RUNS requests per pair (default 20) for a 108 KB JPEG, and 3 for a 5 MB PNG.
 *   2. P2P transfer rate of the 5 MB image's copy on loopback: the viewer's authenticated
 *      session pulls the whole copy from the owner's listener with CopyFetch, chunk sizes side
 *      by side (BENCH_TRANSFERS pulls each, default 10), raw transfer only (no checks, no disk
 *      write). Target: TLS keeps at least 90% of the plaintext MiB/s (issue 11).
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
import { p2pTransport, type P2PTransportKind } from '../src/peer/p2p-tls.js';
import { LocalCluster } from '../src/server/local-cluster.js';
import { INSECURE_PLAINTEXT } from '../src/transport/tls.js';
import { createLogger } from '../src/util/log.js';
import { packagePath } from '../src/util/package-info.js';
import { quantileSorted } from '../src/util/stats.js';
import { bareLinks, type BareLink } from './tls-ceiling.js';

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
    const created = await bob.request(alice.username, own.image_id, 3);
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

/** An owner and a viewer whose P2P links use `transport`. */
interface Pair {
  label: string;
  transport: P2PTransportKind;
  owner: PeerAgent;
  viewer: PeerAgent;
}

/** Runs `measure` for each item in turn, `runs` times, the first item alternating (drift hits both). */
async function alternate<P, T>(
  items: P[],
  runs: number,
  measure: (item: P) => Promise<T>,
): Promise<Map<P, T[]>> {
  const results = new Map<P, T[]>(items.map((p) => [p, []]));
  for (let i = 0; i < runs; i++) {
    for (const item of i % 2 === 0 ? items : [...items].reverse())
      results.get(item)?.push(await measure(item));
  }
  return results;
}

/** Pulls the viewer's largest copy from the owner in `chunk`-byte CopyFetch requests; ms. */
async function transferTimes(
  pairs: Pair[],
  chunk: number,
  transfers: number,
): Promise<{ times: Map<Pair, number[]>; bytes: number }> {
  let bytes = 0;
  const sessions = new Map<Pair, { session: PeerSession; image_id: string }>();
  for (const pair of pairs) {
    const { owner, viewer } = pair;
    const target = viewer.received().sort((a, b) => (b.size_bytes ?? 0) - (a.size_bytes ?? 0))[0];
    if (!target) throw new Error(`${viewer.username} holds no copy to transfer`);
    const me = {
      user_id: viewer.identity.user_id,
      username: viewer.username,
      keys: viewer.identity.keys,
    };
    const session = await PeerSession.dial({
      host: '127.0.0.1',
      port: owner.p2pAddress?.port as number,
      me,
      expected: {
        user_id: owner.identity.user_id,
        username: owner.username,
        public_key: owner.identity.keys.publicKey,
      },
      handler: async () => {
        throw new PeerRefusal('unsupported', 'bench');
      },
      transport: await p2pTransport(pair.transport, me),
    });
    sessions.set(pair, { session, image_id: target.image_id });
  }
  try {
    const times = await alternate(pairs, transfers, async (pair) => {
      const { session, image_id } = sessions.get(pair) as {
        session: PeerSession;
        image_id: string;
      };
      const started = performance.now();
      let offset = 0;
      let total = 0;
      do {
        const reply = await session.request(
          { type: 'CopyFetch', image_id, offset, length: chunk },
          { timeout_ms: 60_000 },
        );
        if (reply.message.type !== 'CopyPart') throw new Error('unexpected reply');
        total = reply.message.total_bytes;
        offset += reply.binary.length;
      } while (offset < total);
      bytes = total;
      return performance.now() - started;
    });
    return { times, bytes };
  } finally {
    for (const { session } of sessions.values()) session.close('bench done');
  }
}

const median = (values: number[]): number =>
  quantileSorted(
    [...values].sort((a, b) => a - b),
    0.5,
  ) ?? NaN;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cloudp2p-bench-peer-'));
  const cluster = await LocalCluster.generate({
    dir,
    size: 3,
    directoryUrl: 'sqlite:directory.sqlite',
    thread_pool_size: 1,
  });
  const agents: PeerAgent[] = [];
  let links: BareLink[] = [];
  try {
    await cluster.startAll();
    await cluster.waitForLeader(30_000);
    const servers = cluster.addresses.map((a) => {
      const [host, port] = a.split(':');
      return { host: host as string, port: Number(port) };
    });
    const logger = (name: string) => createLogger(name, { level: 'error' });
    // The cloud itself always speaks TLS here: only the P2P links differ between the pairs.
    const cloudTrust = cluster.clientTrust;
    if (cloudTrust === INSECURE_PLAINTEXT) throw new Error('the benchmark cloud has no CA');
    const open = async (name: string, transport: P2PTransportKind): Promise<PeerAgent> => {
      const dataDir = new DataDir(join(dir, name));
      await PeerAgent.register({ dataDir, username: name, servers, cloudTrust });
      const agent = PeerAgent.open({
        dataDir,
        mode: 'running',
        logger: logger(name),
        p2pTransport: transport,
      });
      await agent.start();
      agents.push(agent);
      return agent;
    };
    const pairs: Pair[] = [
      {
        label: 'TLS',
        transport: 'tls',
        owner: await open('alice', 'tls'),
        viewer: await open('bob', 'tls'),
      },
      {
        label: 'plaintext',
        transport: 'plaintext-benchmark-only',
        owner: await open('carol', 'plaintext-benchmark-only'),
        viewer: await open('dave', 'plaintext-benchmark-only'),
      },
    ];
    const [tls, plain] = pairs as [Pair, Pair];
    console.log(
      `node ${process.version}, ${RUNS} runs per pair; cloud: 3 servers, SQLite directory; TLS pair alice->bob, plaintext pair carol->dave, taking turns`,
    );
    const side = (results: Map<Pair, number[]>, text: (values: number[]) => string): string =>
      pairs
        .map((pair) => `    ${pair.label.padEnd(9)} ${text(results.get(pair) ?? [])}`)
        .join('\n');
    const ratio = (results: Map<Pair, number[]>): string =>
      `TLS / plaintext (medians): ${(median(results.get(tls) ?? []) / median(results.get(plain) ?? [])).toFixed(2)}`;

    const photo = new Uint8Array(readFileSync(packagePath('assets', 'samples', 'photo.jpg')));
    const held = async (image: Uint8Array, runs: number) => {
      const copyBytes = new Map<Pair, number>();
      const cloud = new Map<Pair, number[]>(pairs.map((p) => [p, []]));
      const times = await alternate(pairs, runs, async (pair) => {
        const one = await acceptToHeld(pair.owner, pair.viewer, image, 1);
        copyBytes.set(pair, one.copyBytes);
        cloud.get(pair)?.push(...one.cloud_ms);
        return one.times[0] as number;
      });
      return { times, cloud, copyBytes: copyBytes.get(tls) ?? 0 };
    };
    await held(photo, 2); // warm-up: cloud connections, covers, JIT
    const small = await held(photo, RUNS);
    console.log(`accept -> held, ${photo.length} B JPEG (copy ${small.copyBytes} B):`);
    console.log(side(small.times, summary));
    console.log(`    ${ratio(small.times)}`);
    console.log(`  cloud round trip for the same container (owner's own copy):`);
    console.log(side(small.cloud, summary));

    const big = await noisePng(4_740_000); // about 5.0 MB: noise PNGs do not compress
    const large = await held(big, 3);
    console.log(`accept -> held, ${big.length} B PNG (copy ${large.copyBytes} B):`);
    console.log(side(large.times, summary));
    console.log(`    ${ratio(large.times)}`);

    // Raw transfer of the 5 MB copies: each viewer's own authenticated session to its owner.
    console.log(
      `P2P transfer of the 5 MB image's copy on loopback (median of ${TRANSFERS} pulls):`,
    );
    links = await bareLinks(Math.max(...CHUNKS_MIB) * 1024 * 1024);
    for (const mib of CHUNKS_MIB) {
      const { times, bytes } = await transferTimes(pairs, mib * 1024 * 1024, TRANSFERS);
      const rate = (pair: Pair): number =>
        bytes / 1024 / 1024 / (median(times.get(pair) ?? []) / 1000);
      console.log(
        `  ${mib} MiB chunks: ${pairs.map((p) => `${p.label} ${rate(p).toFixed(0)} MiB/s (${median(times.get(p) ?? []).toFixed(1)} ms)`).join(', ')}; TLS / plaintext ${(rate(tls) / rate(plain)).toFixed(2)} (target >= 0.9)`,
      );
      // The same exchange on bare sockets in the same run: what node:tls alone allows.
      const bare = await alternate(links, TRANSFERS, (link) =>
        link.transfer(bytes, mib * 1024 * 1024),
      );
      const bareRate = (link: BareLink): number =>
        bytes / 1024 / 1024 / (median(bare.get(link) ?? []) / 1000);
      const [bareTls, barePlain] = links as [BareLink, BareLink];
      console.log(
        `    bare sockets, same exchange: ${links.map((l) => `${l.label} ${bareRate(l).toFixed(0)} MiB/s`).join(', ')}; TLS / plaintext ${(bareRate(bareTls) / bareRate(barePlain)).toFixed(2)} (node:tls's own ceiling)`,
      );
    }
  } finally {
    for (const link of links) link.close();
    await Promise.allSettled(agents.map((a) => a.stop('bench over')));
    await cluster.stopAll(5000);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
