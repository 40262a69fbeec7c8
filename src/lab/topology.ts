/**
 * The course topology as hosts on one machine: `cloud-1..3` (a server and a Galera node each)
 * and `users-1..3` (many user agents each), one network namespace per host on one bridge.
 * Pure: names, addresses and ports only, so the same numbers serve the lab, its tests and the
 * docs.
 *
 * Lab n (1..99) uses 198.19.n.0/24 (RFC 2544's benchmarking block, beside the stress tool's
 * 198.18.x.0/24): the bridge `cp2plab<n>br` is .1, cloud-i is .(10+i), users-i is .(20+i).
 * Namespaces are `cp2plab<n>-<host>`, root-side veths `cp2plab<n>c<i>` / `cp2plab<n>u<i>`,
 * and inside every host the link is `eth0`, as on a real machine.
 */
import { UsageError } from '../util/errors.js';
import type { NetnsHost } from '../netns/bridge-network.js';

export const MAX_LAB = 99;
export const CLOUD_HOSTS = 3;
export const USER_HOSTS = 3;
export const DEFAULT_AGENTS_PER_HOST = 20;
export const MAX_AGENTS_PER_HOST = 200;

/** Every port a host listens on, the same on each host (each has its own address). */
export const LAB_PORTS = {
  /** cloudp2p server (clients, peers, directory requests). */
  server: 7000,
  /** the server's dashboard, /status, /metrics. */
  http: 8000,
  /** MariaDB clients (the servers' directory connections). */
  mysql: 3306,
  /** Galera replication. */
  galera: 4567,
  /** Galera incremental state transfer (a node that comes back). */
  ist: 4568,
  /** Galera full state transfer (rsync). */
  sst: 4444,
} as const;

export type HostRole = 'cloud' | 'users';

export interface LabHost extends NetnsHost {
  /** `cloud-1` … `users-3`. */
  name: string;
  role: HostRole;
  /** 1-based index within its role; a cloud host's index is its server id. */
  index: number;
}

export interface LabTopology {
  lab: number;
  bridge: string;
  subnet: string;
  bridgeAddress: string;
  hosts: LabHost[];
}

export function parseLabNumber(text: string | number): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_LAB)
    throw new UsageError(`--lab must be a whole number 1..${MAX_LAB}, not ${JSON.stringify(text)}`);
  return n;
}

/** The lab's hosts: always three cloud hosts, and `userHosts` (1-3, default 3) user hosts. */
export function labTopology(lab: number, userHosts = USER_HOSTS): LabTopology {
  parseLabNumber(lab);
  if (!Number.isSafeInteger(userHosts) || userHosts < 1 || userHosts > USER_HOSTS)
    throw new UsageError(`--user-hosts must be 1..${USER_HOSTS}, not ${userHosts}`);
  const hosts: LabHost[] = [];
  for (const role of ['cloud', 'users'] as const) {
    const count = role === 'cloud' ? CLOUD_HOSTS : userHosts;
    for (let index = 1; index <= count; index++) {
      const name = `${role}-${index}`;
      hosts.push({
        name,
        role,
        index,
        namespace: `cp2plab${lab}-${name}`,
        address: `198.19.${lab}.${(role === 'cloud' ? 10 : 20) + index}`,
        hostLink: `cp2plab${lab}${role === 'cloud' ? 'c' : 'u'}${index}`,
        insideLink: 'eth0',
      });
    }
  }
  return {
    lab,
    bridge: `cp2plab${lab}br`,
    subnet: `198.19.${lab}.0/24`,
    bridgeAddress: `198.19.${lab}.1`,
    hosts,
  };
}

export function cloudHosts(topology: LabTopology): LabHost[] {
  return topology.hosts.filter((h) => h.role === 'cloud');
}

export function userHosts(topology: LabTopology): LabHost[] {
  return topology.hosts.filter((h) => h.role === 'users');
}

/** The host named `name`, or a usage error listing the hosts there are. */
export function hostNamed(topology: LabTopology, name: string): LabHost {
  const host = topology.hosts.find((h) => h.name === name);
  if (!host)
    throw new UsageError(
      `no host ${JSON.stringify(name)} in the lab; hosts: ${topology.hosts.map((h) => h.name).join(', ')}`,
    );
  return host;
}

/** `host:port` of the cloudp2p server on a cloud host. */
export function serverAddress(host: LabHost): string {
  return `${host.address}:${LAB_PORTS.server}`;
}

export function dashboardUrl(host: LabHost): string {
  return `http://${host.address}:${LAB_PORTS.http}/`;
}

/** Usernames of the agents on user host `index`: `u<index>-01` … (valid directory usernames). */
export function agentNames(index: number, count: number): string[] {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_AGENTS_PER_HOST)
    throw new UsageError(`agents per host must be 1..${MAX_AGENTS_PER_HOST}, not ${count}`);
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `u${index}-${String(i + 1).padStart(width, '0')}`);
}
