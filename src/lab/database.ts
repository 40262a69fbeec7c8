/**
 * The directory database of the lab's cloud. `galera` (default): one MariaDB Galera node per
 * cloud host beside its server, as on real machines (docs/DEPLOY.md); every server's directory
 * URL names the three nodes, its own first. Killing a cloud host kills its node with it
 * (everything in the namespace); reviving it starts the node again, joining the cluster and
 * catching up on what it missed (IST). `sqlite`: one SQLite file that every server opens
 * through the shared filesystem — an explicit option for machines without Galera, not a
 * replicated directory (killing a cloud host loses nothing only because the file is not on it).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LIGHT_SETTINGS, type GaleraNodeConfig } from '../directory/galera/config.js';
import { GaleraNode } from '../directory/galera/node.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import { BridgeNetwork } from '../netns/bridge-network.js';
import { processStartTicks, type ProcessRecord } from './processes.js';
import { LAB_PORTS, cloudHosts, type LabHost, type LabTopology } from './topology.js';

export type LabDatabaseKind = 'galera' | 'sqlite';

export interface LabDatabase {
  readonly kind: LabDatabaseKind;
  /** The `[directory] url` of the server on `host`. */
  urlFor(host: LabHost): string;
  /**
   * Starts the database node of a cloud host (nothing for SQLite). `first` is the lab's very
   * first start (the first node bootstraps a new cluster); otherwise the node joins and catches up.
   */
  startNode(host: LabHost, first: boolean): Promise<ProcessRecord[]>;
  /** A line for `lab show`: the node's replication state. */
  describe(host: LabHost): Promise<string>;
}

export function sqliteDatabase(dir: string): LabDatabase {
  const url = `sqlite:${join(dir, 'directory.sqlite')}`;
  return {
    kind: 'sqlite',
    urlFor: () => url,
    startNode: async () => [],
    describe: async () => 'directory: shared SQLite file (not replicated)',
  };
}

const DATABASE = 'cloudp2p';
const ACCOUNT_USER = 'cloudp2p';
const CLUSTER_NAME = 'cloudp2p_lab';
/** A node's first start or a full copy (SST) on a busy machine. */
const NODE_SYNC_TIMEOUT_MS = 300_000;

/** One Galera node per cloud host (`<lab dir>/<host>/galera`), the lab's own account. */
export function galeraDatabase(dir: string, topology: LabTopology): LabDatabase {
  const clouds = cloudHosts(topology);
  const password = labPassword(dir);
  const nodeConfig = (host: LabHost): GaleraNodeConfig => ({
    name: host.name,
    dir: join(dir, host.name, 'galera'),
    host: host.address,
    ports: {
      sql: LAB_PORTS.mysql,
      galera: LAB_PORTS.galera,
      ist: LAB_PORTS.ist,
      sst: LAB_PORTS.sst,
    },
    cluster_name: CLUSTER_NAME,
    peers: clouds.map((h) => `${h.address}:${LAB_PORTS.galera}`),
    account: { user: ACCOUNT_USER, password },
    command_prefix: BridgeNetwork.launchPrefix(host.namespace),
    settings: LIGHT_SETTINGS,
  });
  return {
    kind: 'galera',
    urlFor: (host) => {
      // This host's own node first (reads prefer it), then the others in order.
      const order = [host, ...clouds.filter((h) => h.name !== host.name)];
      const nodes = order.map((h) => `${h.address}:${LAB_PORTS.mysql}`).join(',');
      return `mysql://${ACCOUNT_USER}:${encodeURIComponent(password)}@${nodes}/${DATABASE}`;
    },
    async startNode(host, first) {
      // Not killed with this command: the node belongs to the lab, like the server beside it.
      const node = new GaleraNode(nodeConfig(host), { kill_on_exit: false });
      try {
        if (first && !node.isInitialized()) {
          await node.initialize();
          await node.start({ bootstrap: true });
          await node.waitSynced({ timeout_ms: NODE_SYNC_TIMEOUT_MS });
          await node.withConnection((c) =>
            c.query(
              `CREATE DATABASE IF NOT EXISTS ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
            ),
          );
        } else {
          await node.start();
          await node.waitSynced({ timeout_ms: NODE_SYNC_TIMEOUT_MS });
        }
      } catch (err) {
        throw new CloudP2PError(
          'lab_host_failed',
          `${host.name}: its Galera node did not come up: ${errorMessage(err)}\n${node.errorLogTail()}`,
          ExitCode.unavailable,
        );
      }
      const pid = node.pid;
      const start_ticks = pid === undefined ? null : processStartTicks(pid);
      if (pid === undefined || start_ticks === null)
        throw new CloudP2PError('lab_host_failed', `${host.name}: its Galera node exited`);
      return [{ role: 'galera', pid, start_ticks, log: node.paths.error_log }];
    },
    async describe(host) {
      const node = GaleraNode.attach(nodeConfig(host));
      if (!node.running()) return 'galera: not running';
      const s = await node.state();
      return `galera: ${s.local_state}, ${s.cluster_status}, cluster size ${s.cluster_size}, last committed ${s.last_committed}`;
    },
  };
}

/** The lab's database password: made once, kept in the lab's folder (root's, 0600). */
function labPassword(dir: string): string {
  const path = join(dir, 'galera-password');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const password = randomBytes(18).toString('base64url');
  writeFileSync(path, `${password}\n`, { mode: 0o600 });
  return password;
}

export function databaseFor(
  kind: LabDatabaseKind,
  dir: string,
  topology: LabTopology,
): LabDatabase {
  return kind === 'sqlite' ? sqliteDatabase(dir) : galeraDatabase(dir, topology);
}
