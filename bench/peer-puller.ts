/**
 * The viewer side of `bench:peer`'s transfer phase in a process of its own, as a viewer on
 * another host would be: the owners' agents stay in the benchmark process, so the sender
 * encrypts while this process decrypts (on one host, in one process, one thread does both).
 *
 *   node --import ./scripts/register-ts.mjs bench/peer-puller.ts '<PullerJob JSON>'
 *
 * Prints one JSON line (PullerResult) on stdout; anything else goes to stderr.
 */
import { DataDir } from '../src/peer/data-dir.js';
import { fromHex } from '../src/protocol/directory-protocol.js';
import {
  alternate,
  median,
  transferTimes,
  type PullerResult,
  type PullerJob,
  type PullTarget,
} from './peer-transfer.js';
import { bareClients, type BareLabel } from './tls-ceiling.js';

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '') as PullerJob;
  const targets: PullTarget[] = job.targets.map((t) => {
    const public_key = fromHex(t.owner.public_key_hex, 32);
    if (!public_key) throw new Error(`${t.label}: owner public key is not 32 bytes of hex`);
    return {
      label: t.label,
      transport: t.transport,
      viewer: new DataDir(t.viewer_dir).readIdentity(),
      owner: { ...t.owner, host: job.host, public_key },
      image_id: t.image_id,
    };
  });
  const links = await bareClients(job.bare_ports, job.host);
  const result: PullerResult = { per_chunk: [] };
  try {
    // Warm-up, untimed: this process's JIT and each link's first transfer.
    const first = job.chunks_bytes[0] ?? 1024 * 1024;
    const { bytes: copy_bytes } = await transferTimes(targets, first, 2);
    await alternate(links, 2, (link) => link.transfer(copy_bytes, first));
    for (const chunk of job.chunks_bytes) {
      const { times, bytes } = await transferTimes(targets, chunk, job.transfers);
      const bare = await alternate(links, job.transfers, (link) => link.transfer(bytes, chunk));
      result.per_chunk.push({
        chunk_bytes: chunk,
        copy_bytes: bytes,
        median_ms: Object.fromEntries(targets.map((t) => [t.label, median(times.get(t) ?? [])])),
        bare_median_ms: Object.fromEntries(
          links.map((link) => [link.label, median(bare.get(link) ?? [])]),
        ) as Record<BareLabel, number>,
      });
    }
  } finally {
    for (const link of links) link.close();
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
