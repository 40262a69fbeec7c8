/**
 * The P2P transfer measurement of `bench:peer`, shared by the benchmark process (viewer and
 * owner in one process) and `peer-puller.ts` (the viewer in a process of its own, as on two
 * hosts): a viewer's authenticated session pulls a whole copy from the owner's listener in
 * `chunk`-byte CopyFetch requests, one in flight, raw transfer only (no checks, no disk write).
 */
import { PeerRefusal, PeerSession } from '../src/peer/p2p-session.js';
import { p2pTransport, type P2PTransportKind } from '../src/peer/p2p-tls.js';
import type { Identity } from '../src/identity/keys.js';
import { quantileSorted } from '../src/util/stats.js';
import type { BareLabel } from './tls-ceiling.js';

/** One viewer pulling one copy from one owner. */
export interface PullTarget {
  label: string;
  transport: P2PTransportKind;
  viewer: { user_id: string; username: string; keys: Identity };
  owner: { user_id: string; username: string; public_key: Uint8Array; host: string; port: number };
  image_id: string;
}

/** Runs `measure` for each item in turn, `runs` times, the first item alternating (drift hits both). */
export async function alternate<P, T>(
  items: readonly P[],
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

export const median = (values: readonly number[]): number =>
  quantileSorted(
    [...values].sort((a, b) => a - b),
    0.5,
  ) ?? NaN;

/** Pulls each target's copy `transfers` times in `chunk`-byte requests, targets alternating; ms. */
export async function transferTimes(
  targets: readonly PullTarget[],
  chunk: number,
  transfers: number,
): Promise<{ times: Map<PullTarget, number[]>; bytes: number }> {
  let bytes = 0;
  const sessions = new Map<PullTarget, PeerSession>();
  try {
    for (const target of targets) {
      const { viewer, owner } = target;
      const session = await PeerSession.dial({
        host: owner.host,
        port: owner.port,
        me: viewer,
        expected: {
          user_id: owner.user_id,
          username: owner.username,
          public_key: owner.public_key,
        },
        handler: async () => {
          throw new PeerRefusal('unsupported', 'bench');
        },
        transport: await p2pTransport(target.transport, viewer),
      });
      sessions.set(target, session);
    }
    const times = await alternate(targets, transfers, async (target) => {
      const session = sessions.get(target);
      if (!session) throw new Error(`no session for ${target.label}`);
      const started = performance.now();
      let offset = 0;
      let total = 0;
      do {
        const reply = await session.request(
          { type: 'CopyFetch', image_id: target.image_id, offset, length: chunk },
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
    for (const session of sessions.values()) session.close('bench done');
  }
}

/** What `bench:peer` asks of `peer-puller.ts` (argv[2], JSON). */
export interface PullerJob {
  chunks_bytes: number[];
  transfers: number;
  /** Where the owners' listeners and the bare listeners are. */
  host: string;
  targets: {
    label: string;
    transport: P2PTransportKind;
    viewer_dir: string;
    owner: { user_id: string; username: string; public_key_hex: string; port: number };
    image_id: string;
  }[];
  bare_ports: Record<BareLabel, number>;
}

/** What `peer-puller.ts` prints (one JSON line). */
export interface PullerResult {
  per_chunk: {
    chunk_bytes: number;
    copy_bytes: number;
    median_ms: Record<string, number>;
    bare_median_ms: Record<BareLabel, number>;
  }[];
}
