/**
 * The configuration of one MariaDB Galera node and its `my.cnf`. Pure: validation and text only;
 * node.ts runs the process.
 *
 * Every address a node listens on is pinned to its host address and its own ports, so several
 * nodes can share one machine (tests: loopback, different ports) or each run in its own network
 * namespace (the lab: one address per host, the same ports everywhere).
 */
import { isIP } from 'node:net';
import { isAbsolute, join } from 'node:path';

/** The four TCP ports of a node. */
export interface GaleraPorts {
  /** Client SQL connections (the directory's URL names host:sql). */
  sql: number;
  /** Galera group communication (gmcast.listen_addr; the cluster address list names these). */
  galera: number;
  /** Incremental state transfer: a node that was away receives the missed write sets here. */
  ist: number;
  /** Full state transfer by rsync: a new or too-old node receives a copy of the data here. */
  sst: number;
}

export interface GaleraAccount {
  user: string;
  password: string;
}

export interface GaleraNodeConfig {
  /** wsrep_node_name; also names log lines. Letters, digits, `_ . -`. */
  name: string;
  /** The node's folder (absolute): my.cnf, data/, error.log, socket, pid file. */
  dir: string;
  /** The IP address the node binds and announces to the others. */
  host: string;
  ports: GaleraPorts;
  /** wsrep_cluster_name: nodes of different names refuse to join each other. */
  cluster_name: string;
  /** Galera addresses (`host:galera-port`) of every node of the cluster, this one included. */
  peers: readonly string[];
  /** Created when the first node's data directory is initialised: all privileges, from any host. */
  account: GaleraAccount;
  /**
   * Runs mariadbd through this command, which must exec it in place (so the pid we hold is
   * mariadbd's), e.g. `['ip', 'netns', 'exec', 'cp2plab1-cloud-1']`. Default: none.
   */
  command_prefix?: readonly string[];
  /**
   * When started as root, mariadbd runs as this OS user, which owns the node's folder (an rsync
   * state transfer run as root fails on file permissions). Default `mysql`. Ignored when not root.
   */
  run_as?: string;
  /** More `key = value` lines for my.cnf's [mariadbd] section (override the defaults below). */
  settings?: Readonly<Record<string, string | number>>;
  /** More Galera provider options (`key=value`), after ours. */
  provider_options?: Readonly<Record<string, string | number>>;
  /** Program paths (Debian's by default). */
  programs?: Partial<GaleraPrograms>;
}

export interface GaleraPrograms {
  mariadbd: string;
  install_db: string;
  /** The Galera library (Debian package galera-4). */
  provider: string;
}

export const DEBIAN_PROGRAMS: GaleraPrograms = {
  mariadbd: '/usr/sbin/mariadbd',
  install_db: '/usr/bin/mariadb-install-db',
  provider: '/usr/lib/galera/libgalera_smm.so',
};

export const GALERA_PACKAGES_HINT =
  'install the Debian packages: apt-get install -y galera-4 mariadb-server rsync';

/** The files of a node inside its folder. */
export function nodePaths(dir: string) {
  return {
    config: join(dir, 'my.cnf'),
    data: join(dir, 'data'),
    socket: join(dir, 'mariadbd.sock'),
    pid: join(dir, 'mariadbd.pid'),
    error_log: join(dir, 'error.log'),
    recover_log: join(dir, 'recover.log'),
    install_log: join(dir, 'install.log'),
    init_sql: join(dir, 'init.sql'),
    /** The node's own temporary folder (not a /tmp shared with other nodes). */
    tmp: join(dir, 'tmp'),
    grastate: join(dir, 'data', 'grastate.dat'),
  };
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const ACCOUNT_USER = /^[A-Za-z0-9_]{1,32}$/;
const OPTION_KEY = /^[a-z][a-z0-9_.-]{0,63}$/;
/** Values we write into my.cnf / provider options: no quotes, separators or line breaks. */
const SAFE_VALUE = /^[A-Za-z0-9_./:@+-]{0,200}$/;

/** Checks a node configuration; throws a RangeError naming the field and what is allowed. */
export function checkNodeConfig(config: GaleraNodeConfig): void {
  const fail = (what: string): never => {
    throw new RangeError(`galera node ${JSON.stringify(config.name)}: ${what}`);
  };
  if (typeof config.name !== 'string' || !NAME.test(config.name)) {
    fail('name must be 1-64 of letters, digits, _ . - (starting with a letter or digit)');
  }
  if (!isAbsolute(config.dir)) fail(`dir must be an absolute path; got ${config.dir}`);
  if (isIP(config.host) === 0) fail(`host must be an IP address; got ${String(config.host)}`);
  for (const [which, port] of Object.entries(config.ports)) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      fail(`ports.${which} must be 1-65535; got ${String(port)}`);
    }
  }
  if (new Set(Object.values(config.ports)).size !== 4) fail('the four ports must differ');
  if (!NAME.test(config.cluster_name)) {
    fail('cluster_name must be 1-64 of letters, digits, _ . -');
  }
  if (config.peers.length === 0) fail('peers must list at least this node');
  for (const peer of config.peers) {
    if (!SAFE_VALUE.test(peer) || !/:\d{1,5}$/.test(peer)) {
      fail(`peer ${JSON.stringify(peer)} must be host:port`);
    }
  }
  if (!ACCOUNT_USER.test(config.account.user)) {
    fail('account.user must be 1-32 of letters, digits, _');
  }
  if (
    !/^[\x21-\x7e]{8,64}$/.test(config.account.password) ||
    /['\\]/.test(config.account.password)
  ) {
    fail('account.password must be 8-64 printable ASCII characters without quotes or backslashes');
  }
  for (const [key, value] of [
    ...Object.entries(config.settings ?? {}),
    ...Object.entries(config.provider_options ?? {}),
  ]) {
    if (!OPTION_KEY.test(key) || !SAFE_VALUE.test(String(value))) {
      fail(
        `setting ${JSON.stringify(key)} = ${JSON.stringify(value)} is not a plain key and value`,
      );
    }
  }
}

export function programsOf(config: GaleraNodeConfig): GaleraPrograms {
  return { ...DEBIAN_PROGRAMS, ...config.programs };
}

/**
 * Settings that keep a node small and quick on a shared machine (tests, the lab): a 64 MiB buffer
 * pool, small logs, no performance schema. Production nodes should size these for their data.
 */
export const LIGHT_SETTINGS: Readonly<Record<string, string | number>> = {
  innodb_buffer_pool_size: '64M',
  innodb_log_file_size: '32M',
  performance_schema: 'OFF',
};

/** The node's my.cnf: one [mariadbd] section. */
export function renderMyCnf(config: GaleraNodeConfig, runAsUser: string | undefined): string {
  const paths = nodePaths(config.dir);
  const { host, ports } = config;
  const provider: Record<string, string | number> = {
    'gmcast.listen_addr': `tcp://${hostForUrl(host)}:${ports.galera}`,
    'ist.recv_addr': `${hostForUrl(host)}:${ports.ist}`,
    'gcache.size': '128M',
    ...config.provider_options,
  };
  const settings: Record<string, string | number> = {
    datadir: paths.data,
    socket: paths.socket,
    'pid-file': paths.pid,
    'log-error': paths.error_log,
    tmpdir: paths.tmp,
    'bind-address': host,
    port: ports.sql,
    ...(runAsUser ? { user: runAsUser } : {}),
    'skip-name-resolve': 'ON',
    // Galera's requirements: row-based replication, InnoDB, interleaved auto-increment locks.
    binlog_format: 'ROW',
    default_storage_engine: 'InnoDB',
    innodb_autoinc_lock_mode: 2,
    // Durability comes from replication to the other nodes; each node flushes once a second.
    innodb_flush_log_at_trx_commit: 2,
    'character-set-server': 'utf8mb4',
    'collation-server': 'utf8mb4_bin',
    wsrep_on: 'ON',
    wsrep_provider: programsOf(config).provider,
    wsrep_cluster_name: config.cluster_name,
    wsrep_cluster_address: `gcomm://${config.peers.join(',')}`,
    wsrep_node_name: config.name,
    wsrep_node_address: `${hostForUrl(host)}:${ports.galera}`,
    wsrep_node_incoming_address: `${hostForUrl(host)}:${ports.sql}`,
    wsrep_sst_method: 'rsync',
    wsrep_sst_receive_address: `${hostForUrl(host)}:${ports.sst}`,
    ...config.settings,
  };
  const lines = ['# Written by cloudp2p (src/directory/galera); one Galera node.', '[mariadbd]'];
  for (const [key, value] of Object.entries(settings)) lines.push(`${key} = ${value}`);
  const options = Object.entries(provider)
    .map(([key, value]) => `${key}=${value}`)
    .join('; ');
  lines.push(`wsrep_provider_options = "${options}"`);
  return `${lines.join('\n')}\n`;
}

/** SQL run once, at the first start of a freshly initialised node: the cluster's account. */
export function renderInitSql(account: GaleraAccount): string {
  return [
    `CREATE USER IF NOT EXISTS '${account.user}'@'%' IDENTIFIED BY '${account.password}';`,
    `GRANT ALL PRIVILEGES ON *.* TO '${account.user}'@'%' WITH GRANT OPTION;`,
    '',
  ].join('\n');
}

function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}
