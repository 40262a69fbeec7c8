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
 *   2. P2P transfer rate of the 5 MB image's copy: the viewer's authenticated session pulls
 *      the whole copy from the owner's listener with CopyFetch, chunk sizes side by side
 *      (BENCH_TRANSFERS pulls each, default 10), raw transfer only (no checks, no disk write).
 *      Three setups, each beside the same exchange on bare sockets (bench/tls-ceiling.ts):
 *      both ends in this process on loopback; the viewer in a process of its own on loopback
 *      (bench/peer-puller.ts); the viewer on a second host, a network namespace behind an
 *      emulated BENCH_LINK_MBIT link (default 1000 Mbit/s; root only, else skipped; see
 *      bench/emulated-link.ts). Target: TLS keeps at least 90% of the plaintext MiB/s (issue 11).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { PeerAgent } from '../src/peer/agent.js';
import type { AgentEvent } from '../src/peer/api-types.js';
import { DataDir } from '../src/peer/data-dir.js';
import type { P2PTransportKind } from '../src/peer/p2p-tls.js';
import { toHex } from '../src/protocol/directory-protocol.js';
import { LocalCluster } from '../src/server/local-cluster.js';
import { INSECURE_PLAINTEXT } from '../src/transport/tls.js';
import { createLogger } from '../src/util/log.js';
import { packagePath } from '../src/util/package-info.js';
import { quantileSorted } from '../src/util/stats.js';
import {
  alternate,
  median,
  transferTimes,
  type PullerJob,
  type PullerResult,
  type PullTarget,
} from './peer-transfer.js';
import { emulatedLink } from './emulated-link.js';
import { bareLinks, bareServers, type BareLink } from './tls-ceiling.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const TRANSFERS = Number(process.env.BENCH_TRANSFERS ?? 10);
const CHUNKS_MIB = [1, 2, 4];
const execFileAsync = promisify(execFile);
/** Speed of the emulated link between owner and viewer hosts (BENCH_LINK_MBIT). */
const LINK_MBIT = Number(process.env.BENCH_LINK_MBIT ?? 1000);

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

/** The viewer's largest copy, to be pulled from its owner over the pair's transport. */
function pullTarget(pair: Pair): PullTarget {
  const { owner, viewer } = pair;
  const copy = viewer.received().sort((a, b) => (b.size_bytes ?? 0) - (a.size_bytes ?? 0))[0];
  if (!copy) throw new Error(`${viewer.username} holds no copy to transfer`);
  const port = owner.p2pAddress?.port;
  if (port === undefined) throw new Error(`${owner.username} has no P2P listener`);
  return {
    label: pair.label,
    transport: pair.transport,
    viewer: {
      user_id: viewer.identity.user_id,
      username: viewer.username,
      keys: viewer.identity.keys,
    },
    owner: {
      user_id: owner.identity.user_id,
      username: owner.username,
      public_key: owner.identity.keys.publicKey,
      host: '127.0.0.1',
      port,
    },
    image_id: copy.image_id,
  };
}

const mibPerSecond = (bytes: number, ms: number): number => bytes / 1024 / 1024 / (ms / 1000);

/** `labels[0]` is TLS, `labels[1]` plaintext. */
function transferLine(mib: number, bytes: number, labels: string[], ms: number[]): string {
  const rates = ms.map((m) => mibPerSecond(bytes, m));
  const parts = labels.map(
    (l, i) => `${l} ${rates[i]!.toFixed(0)} MiB/s (${ms[i]!.toFixed(1)} ms)`,
  );
  return `    ${mib} MiB chunks: ${parts.join(', ')}; TLS / plaintext ${(rates[0]! / rates[1]!).toFixed(2)} (target >= 0.9)`;
}

/** The same exchange on bare sockets: what node:tls alone allows in the same setup. */
function bareLine(bytes: number, tls_ms: number, plain_ms: number): string {
  const tls = mibPerSecond(bytes, tls_ms);
  const plain = mibPerSecond(bytes, plain_ms);
  return `      bare sockets, same exchange: TLS ${tls.toFixed(0)} MiB/s, plaintext ${plain.toFixed(0)} MiB/s; TLS / plaintext ${(tls / plain).toFixed(2)} (node:tls's own ceiling)`;
}

/** Runs bench/peer-puller.ts in a child process and returns what it printed. */
async function runPuller(job: PullerJob, launchPrefix: string[] = []): Promise<PullerResult> {
  const [command, ...args] = [
    ...launchPrefix,
    process.execPath,
    '--import',
    './scripts/register-ts.mjs',
    'bench/peer-puller.ts',
    JSON.stringify(job),
  ];
  const { stdout } = await execFileAsync(command as string, args, {
    cwd: packagePath(),
    maxBuffer: 1024 * 1024,
    timeout: 10 * 60_000,
  });
  const last = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as PullerResult;
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
  let links: BareLink[] = [];
  let bareListeners: Awaited<ReturnType<typeof bareServers>> | null = null;
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
        // Every address, so a viewer on the emulated second host reaches it too.
        listenHost: '0.0.0.0',
        advertiseHost: '127.0.0.1',
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

    // Raw transfer of the 5 MB copies: each viewer's own authenticated session to its owner,
    // first with both ends in this process, then from a viewer process of its own.
    const targets: PullTarget[] = pairs.map((pair) => pullTarget(pair));
    const label = (target: PullTarget): string => target.label;
    const [tlsTarget, plainTarget] = targets as [PullTarget, PullTarget];
    const maxChunk = Math.max(...CHUNKS_MIB) * 1024 * 1024;
    console.log(
      `P2P transfer of the 5 MB image's copy on loopback (median of ${TRANSFERS} pulls), viewer and owner in this process:`,
    );
    links = await bareLinks(maxChunk);
    await alternate(links, 2, (link) => link.transfer(maxChunk * 2, maxChunk)); // warm-up
    for (const mib of CHUNKS_MIB) {
      const { times, bytes } = await transferTimes(targets, mib * 1024 * 1024, TRANSFERS);
      const ms = (target: PullTarget): number => median(times.get(target) ?? []);
      const bare = await alternate(links, TRANSFERS, (link) =>
        link.transfer(bytes, mib * 1024 * 1024),
      );
      const bareMs = (link: BareLink): number => median(bare.get(link) ?? []);
      console.log(transferLine(mib, bytes, targets.map(label), targets.map(ms)));
      console.log(bareLine(bytes, bareMs(links[0]!), bareMs(links[1]!)));
    }
    console.log(
      `  the viewer in a process of its own (as on another host: the owner encrypts while the viewer decrypts):`,
    );
    bareListeners = await bareServers(maxChunk, '0.0.0.0');
    const job: PullerJob = {
      chunks_bytes: CHUNKS_MIB.map((mib) => mib * 1024 * 1024),
      transfers: TRANSFERS,
      host: '127.0.0.1',
      targets: pairs.map((pair, i) => ({
        label: pair.label,
        transport: pair.transport,
        viewer_dir: join(dir, pair.viewer.username),
        owner: {
          user_id: pair.owner.identity.user_id,
          username: pair.owner.username,
          public_key_hex: toHex(pair.owner.identity.keys.publicKey),
          port: targets[i]!.owner.port,
        },
        image_id: targets[i]!.image_id,
      })),
      bare_ports: bareListeners.ports,
    };
    const printRows = (result: PullerResult): void => {
      for (const row of result.per_chunk) {
        const mib = row.chunk_bytes / 1024 / 1024;
        const ms = [tlsTarget, plainTarget].map((t) => row.median_ms[t.label] ?? NaN);
        console.log(transferLine(mib, row.copy_bytes, targets.map(label), ms));
        console.log(bareLine(row.copy_bytes, row.bare_median_ms.TLS, row.bare_median_ms.plaintext));
      }
    };
    printRows(await runPuller(job));
    // A viewer on another machine: the same pulls over a link of a real network's speed.
    const link = await emulatedLink(LINK_MBIT);
    if ('skipped' in link) {
      console.log(
        `  the viewer behind an emulated ${LINK_MBIT} Mbit/s link: skipped (${link.skipped})`,
      );
    } else {
      try {
        console.log(
          `  the viewer on a second host (network namespace) behind an emulated ${LINK_MBIT} Mbit/s link (tc tbf):`,
        );
        printRows(await runPuller({ ...job, host: link.rootAddress }, link.launchPrefix));
      } finally {
        link.close();
      }
    }
  } finally {
    for (const link of links) link.close();
    bareListeners?.close();
    await Promise.allSettled(agents.map((a) => a.stop('bench over')));
    await cluster.stopAll(5000);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
