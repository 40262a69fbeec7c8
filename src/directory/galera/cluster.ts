/**
 * A whole Galera cluster on one machine, for tests and benchmarks: N nodes on one address with
 * free ports (loopback by default), the first initialised and bootstrapped, the others joining
 * it by a full rsync state transfer, all Synced before this resolves. `cloudp2p lab` builds its
 * own nodes (one per network namespace) from GaleraNode directly.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { LIGHT_SETTINGS, type GaleraAccount, type GaleraPorts } from './config.js';
import { GaleraNode } from './node.js';
import type { WsrepState } from './status.js';

export interface LocalGaleraOptions {
  /** Folder for the nodes' folders (created; must be reachable by the `mysql` user when root). */
  dir: string;
  /** Number of nodes, 1–9; default 3. */
  size?: number;
  /** Address all nodes bind; default 127.0.0.1. */
  host?: string;
  cluster_name?: string;
  account: GaleraAccount;
  /** Galera provider options for every node (e.g. shorter failure detection in tests). */
  provider_options?: Readonly<Record<string, string | number>>;
  /** Waiting for all nodes to be Synced; default 240000. */
  timeout_ms?: number;
}

export class LocalGaleraCluster {
  constructor(
    readonly nodes: readonly GaleraNode[],
    private readonly account: GaleraAccount,
    private readonly dir: string,
  ) {}

  /** A directory URL naming every node (the first one preferred), for database `database`. */
  url(database: string, order: readonly GaleraNode[] = this.nodes): string {
    const { user, password } = this.account;
    const hosts = order.map((node) => node.sqlAddress).join(',');
    return `mysql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${hosts}/${database}`;
  }

  /** The state of every running node. */
  states(): Promise<Array<WsrepState | undefined>> {
    return Promise.all(
      this.nodes.map((node) => (node.running() ? node.state().catch(() => undefined) : undefined)),
    );
  }

  /** Stops every node; with `remove`, deletes their folders. */
  async stop({ remove = false }: { remove?: boolean } = {}): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop(30_000)));
    if (remove) rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startLocalGaleraCluster(
  options: LocalGaleraOptions,
): Promise<LocalGaleraCluster> {
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1 || size > 9) {
    throw new RangeError(`a local Galera cluster has 1-9 nodes; got ${String(size)}`);
  }
  const host = options.host ?? '127.0.0.1';
  mkdirSync(options.dir, { recursive: true, mode: 0o755 });
  const ports: GaleraPorts[] = [];
  for (let i = 0; i < size; i++) ports.push(await freePorts(host));
  const peers = ports.map((p) => `${host}:${p.galera}`);
  const nodes = ports.map(
    (nodePorts, i) =>
      new GaleraNode({
        name: `node${i + 1}`,
        dir: join(options.dir, `node${i + 1}`),
        host,
        ports: nodePorts,
        cluster_name: options.cluster_name ?? 'cloudp2p_test',
        peers,
        account: options.account,
        settings: LIGHT_SETTINGS,
        ...(options.provider_options ? { provider_options: options.provider_options } : {}),
      }),
  );
  const cluster = new LocalGaleraCluster(nodes, options.account, options.dir);
  const timeout_ms = options.timeout_ms ?? 240_000;
  try {
    const [first, ...joiners] = nodes as [GaleraNode, ...GaleraNode[]];
    await first.initialize();
    await first.start({ bootstrap: true });
    await first.waitSynced({ timeout_ms });
    for (const joiner of joiners) await joiner.start();
    await Promise.all(joiners.map((joiner) => joiner.waitSynced({ timeout_ms })));
    return cluster;
  } catch (err) {
    await cluster.stop().catch(() => undefined);
    throw err;
  }
}

/** Four distinct free TCP ports on `host` (free when asked; the OS may reuse them later). */
async function freePorts(host: string): Promise<GaleraPorts> {
  const servers = await Promise.all(
    [0, 1, 2, 3].map(
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, host, () => resolve(server));
        }),
    ),
  );
  const [sql, galera, ist, sst] = servers.map((server) => {
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }) as [number, number, number, number];
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return { sql, galera, ist, sst };
}
