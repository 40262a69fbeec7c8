/**
 * Server configuration: the seed CloudP2P's TOML format (its key names keep working) plus
 * cloudp2p's additions, validated with errors that name the file, the key and what is allowed.
 * Times are seconds in the file (fractions allowed) and milliseconds inside the program.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { resolveServerNodeConfig, type ServerNodeConfigInput } from '../core/config.js';
import { DIAL, LISTEN, type Endpoint } from '../transport/endpoint.js';
import { readRevokedFingerprints } from '../client/config.js';
import { UsageError } from '../util/errors.js';
import {
  ConfigError,
  loadTomlFile,
  parseHostPort,
  type ConfigTable,
} from '../util/config-reader.js';

export type { Endpoint } from '../transport/endpoint.js';

export interface PeerConfig {
  id: number;
  address: Endpoint;
  /** The peer's HTTP port (status, dashboard), for links between dashboards; default port + 1000. */
  http_address: Endpoint;
}

export interface ElectionTimings {
  heartbeat_interval_ms: number;
  election_timeout_ms: number;
  failure_timeout_ms: number;
  monitor_interval_ms: number;
}

export interface ServerConfig {
  /** The file this came from, for messages. */
  source: string;
  cluster_id: number;
  id: number;
  address: Endpoint;
  http_address: Endpoint;
  /** Where this server keeps its hard state (epoch) across restarts. */
  data_dir: string;
  peers: PeerConfig[];
  election: ElectionTimings & {
    /** Score points (0..100 scale) by which the leader must be worse than the best other server, sustained, before it hands over. */
    hysteresis_margin: number;
    hysteresis_sustain_ms: number;
    score_weights: { cpu: number; tasks: number; memory: number };
    score_input: 'cpu_percent' | 'load_average';
  };
  encryption: {
    thread_pool_size: number;
    max_queue_size: number;
    max_image_bytes: number;
    /** Absolute path of a cover image, or undefined for the shipped default cover. */
    cover_path: string | undefined;
  };
  failure_simulation: {
    enabled: boolean;
    interval_ms: number;
    max_silence_ms: number;
  };
  directory: { url: string | undefined };
  /** Transport security (docs/SECURITY.md); null when the file has no [tls] section. */
  tls: TlsConfig | null;
  limits: {
    max_frame_bytes: number;
    max_connections: number;
    max_connections_per_address: number;
    request_timeout_ms: number;
    idle_timeout_ms: number;
    handshake_timeout_ms: number;
    frame_read_timeout_ms: number;
    /** Unfinished frames held across all connections. */
    max_buffered_bytes: number;
  };
}

export interface TlsConfig {
  /** PEM bundle of the cloud's CA certificate(s): the trust bundle. */
  ca_path: string;
  /** This server's certificate (leaf, then its CA) and private key. */
  cert_path: string;
  key_path: string;
  /** SHA-256 fingerprints (hex) of server certificates no longer trusted. */
  revoked: string[];
}

export const MAX_PEERS = 63;
/** Server ids form the low digits of an epoch (src/core/epoch.ts), hence 1..999. */
const MAX_SERVER_ID = 999;
const SECONDS = { min: 0.01, max: 3600 };

/** Defaults tuned for fast, safe failover on a LAN; see docs/ELECTION.md for the reasoning. */
export const DEFAULT_TIMINGS: ElectionTimings = {
  heartbeat_interval_ms: 250,
  election_timeout_ms: 500,
  failure_timeout_ms: 1000,
  monitor_interval_ms: 100,
};

export function loadServerConfig(
  path: string,
  overrides: { failureSimulation?: boolean } = {},
): ServerConfig {
  const root = loadTomlFile(path);
  const config = readServerConfig(root, dirname(resolve(path)));
  if (overrides.failureSimulation !== undefined)
    config.failure_simulation.enabled = overrides.failureSimulation;
  return config;
}

export function readServerConfig(root: ConfigTable, baseDir: string): ServerConfig {
  const server = root.table('server', { required: true });
  const id = server.integer('id', undefined, { min: 1, max: MAX_SERVER_ID });
  const address = parseHostPort(server.string('address'), server.where('address'), LISTEN);
  const httpText = server.optionalString('http_address');
  const http_address = httpText
    ? parseHostPort(httpText, server.where('http_address'), LISTEN)
    : { host: address.host, port: defaultHttpPort(address.port, server) };
  const cluster_id = server.integer('cluster_id', 1, { min: 0, max: 0xffff_ffff });
  const data_dir = resolvePath(baseDir, server.string('data_dir', `.cloudp2p/server-${id}`));
  server.rejectUnknownKeys();

  const peers = readPeers(root.table('peers'), id);
  const election = readElection(root.table('election'));
  const encryption = readEncryption(root.table('encryption'), baseDir);
  const failure_simulation = readFailureSimulation(root.table('failure_simulation'));
  const directory = readDirectory(root.table('directory'), baseDir);
  const tls = readTls(root, baseDir);
  const limits = readLimits(root.table('limits'), encryption.max_image_bytes);
  root.rejectUnknownKeys();

  checkDistinctAddresses(root.source, { id, address }, peers);
  const config: ServerConfig = {
    source: root.source,
    cluster_id,
    id,
    address,
    http_address,
    data_dir,
    peers,
    election,
    encryption,
    failure_simulation,
    directory,
    tls,
    limits,
  };
  checkWithCore(config);
  return config;
}

function defaultHttpPort(port: number, server: ConfigTable): number {
  const http = port + 1000;
  if (http > 65535)
    throw new ConfigError(
      `${server.where('http_address')}: cannot derive a default from port ${port}; set http_address`,
    );
  return http;
}

function readPeers(table: ConfigTable, selfId: number): PeerConfig[] {
  const peers = table.tables('peers', { maxItems: MAX_PEERS }).map((entry) => {
    const id = entry.integer('id', undefined, { min: 1, max: MAX_SERVER_ID });
    const address = parseHostPort(entry.string('address'), entry.where('address'), DIAL);
    const httpText = entry.optionalString('http_address');
    const peer = {
      id,
      address,
      http_address: httpText
        ? parseHostPort(httpText, entry.where('http_address'), DIAL)
        : { host: address.host, port: defaultHttpPort(address.port, entry) },
    };
    entry.rejectUnknownKeys();
    return peer;
  });
  table.rejectUnknownKeys();
  const ids = new Set<number>([selfId]);
  for (const peer of peers) {
    if (ids.has(peer.id)) {
      throw new ConfigError(
        `${table.where('peers')}: server id ${peer.id} appears twice (ids must be unique, including this server's own id ${selfId})`,
      );
    }
    ids.add(peer.id);
  }
  return peers;
}

function secondsToMs(table: ConfigTable, key: string, fallback_ms: number): number {
  return Math.round(table.number(key, fallback_ms / 1000, SECONDS) * 1000);
}

function readElection(table: ConfigTable): ServerConfig['election'] {
  const timings: ElectionTimings = {
    heartbeat_interval_ms: secondsToMs(
      table,
      'heartbeat_interval_secs',
      DEFAULT_TIMINGS.heartbeat_interval_ms,
    ),
    election_timeout_ms: secondsToMs(
      table,
      'election_timeout_secs',
      DEFAULT_TIMINGS.election_timeout_ms,
    ),
    failure_timeout_ms: secondsToMs(
      table,
      'failure_timeout_secs',
      DEFAULT_TIMINGS.failure_timeout_ms,
    ),
    monitor_interval_ms: secondsToMs(
      table,
      'monitor_interval_secs',
      DEFAULT_TIMINGS.monitor_interval_ms,
    ),
  };
  const weights = table.table('score_weights');
  const score_weights = {
    cpu: weights.number('cpu', 0.5, { min: 0, max: 1 }),
    tasks: weights.number('tasks', 0.3, { min: 0, max: 1 }),
    memory: weights.number('memory', 0.2, { min: 0, max: 1 }),
  };
  weights.rejectUnknownKeys();
  const score_input = table.string('score_input', 'cpu_percent', {
    pattern: /^(cpu_percent|load_average)$/,
    patternHint: '"cpu_percent" or "load_average"',
  }) as 'cpu_percent' | 'load_average';
  const hysteresis_margin = table.number('hysteresis_margin', 25, { min: 0, max: 1000 });
  const hysteresis_sustain_ms = secondsToMs(table, 'hysteresis_sustain_secs', 10_000);
  table.rejectUnknownKeys();
  return { ...timings, hysteresis_margin, hysteresis_sustain_ms, score_weights, score_input };
}

function readEncryption(table: ConfigTable, baseDir: string): ServerConfig['encryption'] {
  const thread_pool_size = table.integer('thread_pool_size', 2, { min: 1, max: 256 });
  const max_queue_size = table.integer('max_queue_size', 100, { min: 1, max: 100_000 });
  const max_image_bytes = table.integer('max_image_mb', 12, { min: 1, max: 12 }) * 1024 * 1024;
  const cover = table.optionalString('cover');
  table.rejectUnknownKeys();
  return {
    thread_pool_size,
    max_queue_size,
    max_image_bytes,
    cover_path: cover === undefined ? undefined : resolvePath(baseDir, cover),
  };
}

function readFailureSimulation(table: ConfigTable): ServerConfig['failure_simulation'] {
  const enabled = table.boolean('enabled', false);
  const interval_ms = secondsToMs(table, 'interval_secs', 30_000);
  const max_silence_ms = secondsToMs(table, 'max_silence_secs', 20_000);
  table.rejectUnknownKeys();
  return { enabled, interval_ms, max_silence_ms };
}

function readDirectory(table: ConfigTable, baseDir: string): ServerConfig['directory'] {
  const url = table.optionalString('url');
  table.rejectUnknownKeys();
  if (url === undefined) return { url: undefined };
  // A relative SQLite path is relative to the config file, like every other path in it.
  const sqlite = /^sqlite:(?!:memory:)(.+)$/.exec(url);
  return { url: sqlite ? `sqlite:${resolvePath(baseDir, sqlite[1] as string)}` : url };
}

function readLimits(table: ConfigTable, maxImageBytes: number): ServerConfig['limits'] {
  // A frame must at least hold the largest accepted image plus its metadata.
  const minFrameMb = Math.ceil(maxImageBytes / (1024 * 1024)) + 1;
  const max_frame_bytes =
    table.integer('max_frame_mb', Math.max(64, minFrameMb), { min: minFrameMb, max: 256 }) *
    1024 *
    1024;
  const max_connections = table.integer('max_connections', 1024, { min: 8, max: 65536 });
  const max_connections_per_address = table.integer('max_connections_per_address', 256, {
    min: 1,
    max: 65536,
  });
  const request_timeout_ms = secondsToMs(table, 'request_timeout_secs', 30_000);
  const idle_timeout_ms = secondsToMs(table, 'idle_timeout_secs', 60_000);
  const handshake_timeout_ms = secondsToMs(table, 'handshake_timeout_secs', 5_000);
  const frame_read_timeout_ms = secondsToMs(table, 'frame_read_timeout_secs', 30_000);
  const max_buffered_bytes =
    table.integer('max_buffered_mb', 256, { min: 1, max: 65536 }) * 1024 * 1024;
  table.rejectUnknownKeys();
  return {
    max_frame_bytes,
    max_connections,
    max_connections_per_address,
    request_timeout_ms,
    idle_timeout_ms,
    handshake_timeout_ms,
    frame_read_timeout_ms,
    max_buffered_bytes,
  };
}

function readTls(root: ConfigTable, baseDir: string): TlsConfig | null {
  if (!root.has('tls')) return null;
  const table = root.table('tls');
  const ca_path = resolvePath(baseDir, table.string('ca'));
  const cert_path = resolvePath(baseDir, table.string('cert'));
  const key_path = resolvePath(baseDir, table.string('key'));
  const revoked = readRevokedFingerprints(table);
  table.rejectUnknownKeys();
  return { ca_path, cert_path, key_path, revoked };
}

function resolvePath(baseDir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(baseDir, path);
}

function checkDistinctAddresses(
  source: string,
  self: Pick<PeerConfig, 'id' | 'address'>,
  peers: PeerConfig[],
): void {
  const seen = new Map<string, number>();
  for (const server of [self, ...peers]) {
    const key = `${server.address.host}:${server.address.port}`;
    const other = seen.get(key);
    if (other !== undefined)
      throw new ConfigError(`${source}: servers ${other} and ${server.id} both use address ${key}`);
    seen.set(key, server.id);
  }
}

/** The core's view of this config (the core validates the combination of settings). */
export function nodeConfigFrom(config: ServerConfig): ServerNodeConfigInput {
  const e = config.election;
  const score_weights =
    e.score_input === 'load_average'
      ? { cpu: 0, tasks: 0, memory: 0, load_average: 1 }
      : {
          cpu: e.score_weights.cpu,
          tasks: e.score_weights.tasks,
          memory: e.score_weights.memory,
          load_average: 0,
        };
  return {
    id: config.id,
    peers: config.peers.map((peer) => peer.id),
    heartbeat_interval_ms: e.heartbeat_interval_ms,
    election_timeout_ms: e.election_timeout_ms,
    failure_timeout_ms: e.failure_timeout_ms,
    monitor_interval_ms: e.monitor_interval_ms,
    thread_pool_size: config.encryption.thread_pool_size,
    max_queue_size: config.encryption.max_queue_size,
    score_weights,
    hysteresis: { margin: e.hysteresis_margin, sustain_ms: e.hysteresis_sustain_ms },
    failure_simulation: {
      enabled: config.failure_simulation.enabled,
      interval_ms: config.failure_simulation.interval_ms,
      max_silence_ms: config.failure_simulation.max_silence_ms,
    },
  };
}

/** Rules that span several keys live in the core; report them against this file. */
function checkWithCore(config: ServerConfig): void {
  try {
    resolveServerNodeConfig(nodeConfigFrom(config));
  } catch (err) {
    if (err instanceof UsageError) throw new ConfigError(`${config.source}: ${err.message}`);
    throw err;
  }
}
