/**
 * Which cloud servers a command talks to: --servers, else a client config's
 * server_addresses, else $CLOUDP2P_SERVERS, else the local cloud that `cloudp2p start` runs.
 */
import { loadClientConfig, readServerAddresses, ServerAddresses } from '../client/config.js';
import { readConfig, Table } from '../util/config-schema.js';
import type { Endpoint } from '../transport/endpoint.js';

export const DEFAULT_SERVERS = '127.0.0.1:8001,127.0.0.1:8002,127.0.0.1:8003';

/** Server addresses from --servers, else --config, else CLOUDP2P_SERVERS, else the local cloud. */
export function resolveServers(options: { servers?: string; config?: string }): {
  servers: Endpoint[];
  clusterId: number;
} {
  if (options.servers !== undefined)
    return { servers: parseServerList(options.servers, '--servers'), clusterId: 1 };
  if (options.config !== undefined) {
    const config = loadClientConfig(options.config);
    return { servers: config.servers, clusterId: config.cluster_id };
  }
  const fromEnv = process.env.CLOUDP2P_SERVERS;
  return {
    servers: parseServerList(
      fromEnv ?? DEFAULT_SERVERS,
      fromEnv ? 'CLOUDP2P_SERVERS' : 'default servers',
    ),
    clusterId: 1,
  };
}

function parseServerList(text: string, where: string): Endpoint[] {
  const items = text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  // The same limits as the key in a config file (how many, how long).
  const { server_addresses } = readConfig(
    { source: where, values: { server_addresses: items } },
    Table({ server_addresses: ServerAddresses }),
  );
  return readServerAddresses(server_addresses, `${where}: server_addresses`);
}

/** The servers a `peer` command was told to use instead of those saved at register, if any. */
export function serversOverride(options: { servers?: string }): Endpoint[] | undefined {
  if (options.servers !== undefined || process.env.CLOUDP2P_SERVERS)
    return resolveServers(options.servers === undefined ? {} : { servers: options.servers })
      .servers;
  return undefined;
}
