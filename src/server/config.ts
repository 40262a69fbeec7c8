/**
 * Server configuration: the seed CloudP2P's TOML format (its key names keep working) plus
 * cloudp2p's additions, validated with errors that name the file, the key and what is allowed.
 * Times are seconds in the file (fractions allowed) and milliseconds inside the program.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { resolveServerNodeConfig, type ServerNodeConfigInput } from '../core/config.js';
import { DIAL, LISTEN, type Endpoint } from '../transport/endpoint.js';
import { readRevokedFingerprints, RevokedFingerprints } from '../client/config.js';
import { UsageError } from '../util/errors.js';
import {
  ConfigError,
  configWhere,
  loadTomlFile,
  parseHostPort,
  type ConfigDocument,
} from '../util/config-reader.js';
import {
  Bool,
  Integer,
  MaybeTable,
  Num,
  OptionalInteger,
  OptionalTable,
  OptionalText,
  RequiredTable,
  Seconds,
  Table,
  TableList,
  Text,
  readConfig,
  type ConfigOf,
} from '../util/config-schema.js';

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
  const config = readServerConfig(loadTomlFile(path), dirname(resolve(path)));
  if (overrides.failureSimulation !== undefined)
    config.failure_simulation.enabled = overrides.failureSimulation;
  return config;
}

const ServerId = Integer({ min: 1, max: MAX_SERVER_ID });
const secs = (fallbackMs: number) => Seconds(SECONDS, fallbackMs);
const Weight = (fallback: number) => Num({ min: 0, max: 1 }, fallback);

/** What a server config file may hold; its defaults are the ones documented in config/. */
const ServerFile = Table({
  server: RequiredTable({
    id: ServerId,
    address: Text(),
    http_address: OptionalText(),
    cluster_id: Integer({ min: 0, max: 0xffff_ffff }, 1),
    data_dir: OptionalText(),
  }),
  peers: OptionalTable({
    peers: TableList(
      Table({ id: ServerId, address: Text(), http_address: OptionalText() }),
      MAX_PEERS,
    ),
  }),
  election: OptionalTable({
    heartbeat_interval_secs: secs(DEFAULT_TIMINGS.heartbeat_interval_ms),
    election_timeout_secs: secs(DEFAULT_TIMINGS.election_timeout_ms),
    failure_timeout_secs: secs(DEFAULT_TIMINGS.failure_timeout_ms),
    monitor_interval_secs: secs(DEFAULT_TIMINGS.monitor_interval_ms),
    score_weights: OptionalTable({ cpu: Weight(0.5), tasks: Weight(0.3), memory: Weight(0.2) }),
    score_input: Text(
      { pattern: /^(cpu_percent|load_average)$/, patternHint: '"cpu_percent" or "load_average"' },
      'cpu_percent',
    ),
    hysteresis_margin: Num({ min: 0, max: 1000 }, 25),
    hysteresis_sustain_secs: secs(10_000),
  }),
  encryption: OptionalTable({
    thread_pool_size: Integer({ min: 1, max: 256 }, 2),
    max_queue_size: Integer({ min: 1, max: 100_000 }, 100),
    max_image_mb: Integer({ min: 1, max: 12 }, 12),
    cover: OptionalText(),
  }),
  failure_simulation: OptionalTable({
    enabled: Bool(false),
    interval_secs: secs(30_000),
    max_silence_secs: secs(20_000),
  }),
  directory: OptionalTable({ url: OptionalText() }),
  /** Absent: no transport security configured (the caller says what that means). */
  tls: MaybeTable({ ca: Text(), cert: Text(), key: Text(), revoked: RevokedFingerprints }),
  limits: OptionalTable({
    // Its range depends on max_image_mb: checked in readLimits.
    max_frame_mb: OptionalInteger({ min: -Infinity, max: Infinity }),
    max_connections: Integer({ min: 8, max: 65536 }, 1024),
    max_connections_per_address: Integer({ min: 1, max: 65536 }, 256),
    request_timeout_secs: secs(30_000),
    idle_timeout_secs: secs(60_000),
    handshake_timeout_secs: secs(5_000),
    frame_read_timeout_secs: secs(30_000),
    max_buffered_mb: Integer({ min: 1, max: 65536 }, 256),
  }),
});
type ServerFile = ConfigOf<typeof ServerFile>;

export function readServerConfig(document: ConfigDocument, baseDir: string): ServerConfig {
  const file = readConfig(document, ServerFile);
  const at = (keyPath: string): string => configWhere(document, keyPath);
  const { server } = file;
  const address = parseHostPort(server.address, at('server.address'), LISTEN);
  const http_address = server.http_address
    ? parseHostPort(server.http_address, at('server.http_address'), LISTEN)
    : { host: address.host, port: defaultHttpPort(address.port, at('server.http_address')) };
  const data_dir = resolvePath(baseDir, server.data_dir ?? `.cloudp2p/server-${server.id}`);
  const peers = readPeers(file.peers.peers, server.id, at);
  const encryption = file.encryption;
  const max_image_bytes = encryption.max_image_mb * 1024 * 1024;
  const config: ServerConfig = {
    source: document.source,
    cluster_id: server.cluster_id,
    id: server.id,
    address,
    http_address,
    data_dir,
    peers,
    election: readElection(file.election),
    encryption: {
      thread_pool_size: encryption.thread_pool_size,
      max_queue_size: encryption.max_queue_size,
      max_image_bytes,
      cover_path:
        encryption.cover === undefined ? undefined : resolvePath(baseDir, encryption.cover),
    },
    failure_simulation: {
      enabled: file.failure_simulation.enabled,
      interval_ms: file.failure_simulation.interval_secs,
      max_silence_ms: file.failure_simulation.max_silence_secs,
    },
    directory: readDirectory(file.directory.url, baseDir),
    tls: file.tls === undefined ? null : readTls(file.tls, baseDir, at),
    limits: readLimits(file.limits, max_image_bytes, at),
  };
  checkDistinctAddresses(document.source, { id: server.id, address }, peers);
  checkWithCore(config);
  return config;
}

function defaultHttpPort(port: number, where: string): number {
  const http = port + 1000;
  if (http > 65535)
    throw new ConfigError(`${where}: cannot derive a default from port ${port}; set http_address`);
  return http;
}

function readPeers(
  entries: ServerFile['peers']['peers'],
  selfId: number,
  at: (keyPath: string) => string,
): PeerConfig[] {
  const peers = entries.map((entry, index) => {
    const key = `peers.peers[${index}]`;
    const address = parseHostPort(entry.address, at(`${key}.address`), DIAL);
    return {
      id: entry.id,
      address,
      http_address: entry.http_address
        ? parseHostPort(entry.http_address, at(`${key}.http_address`), DIAL)
        : { host: address.host, port: defaultHttpPort(address.port, at(`${key}.http_address`)) },
    };
  });
  const ids = new Set<number>([selfId]);
  for (const peer of peers) {
    if (ids.has(peer.id)) {
      throw new ConfigError(
        `${at('peers.peers')}: server id ${peer.id} appears twice (ids must be unique, including this server's own id ${selfId})`,
      );
    }
    ids.add(peer.id);
  }
  return peers;
}

function readElection(election: ServerFile['election']): ServerConfig['election'] {
  return {
    heartbeat_interval_ms: election.heartbeat_interval_secs,
    election_timeout_ms: election.election_timeout_secs,
    failure_timeout_ms: election.failure_timeout_secs,
    monitor_interval_ms: election.monitor_interval_secs,
    hysteresis_margin: election.hysteresis_margin,
    hysteresis_sustain_ms: election.hysteresis_sustain_secs,
    score_weights: election.score_weights,
    // The pattern allows these two only.
    score_input: election.score_input === 'load_average' ? 'load_average' : 'cpu_percent',
  };
}

function readDirectory(url: string | undefined, baseDir: string): ServerConfig['directory'] {
  if (url === undefined) return { url: undefined };
  // A relative SQLite path is relative to the config file, like every other path in it.
  const sqlite = /^sqlite:(?!:memory:)(.+)$/.exec(url);
  return { url: sqlite?.[1] !== undefined ? `sqlite:${resolvePath(baseDir, sqlite[1])}` : url };
}

function readLimits(
  limits: ServerFile['limits'],
  maxImageBytes: number,
  at: (keyPath: string) => string,
): ServerConfig['limits'] {
  // A frame must at least hold the largest accepted image plus its metadata.
  const minFrameMb = Math.ceil(maxImageBytes / (1024 * 1024)) + 1;
  const frameMb = limits.max_frame_mb ?? Math.max(64, minFrameMb);
  if (frameMb < minFrameMb || frameMb > 256)
    throw new ConfigError(
      `${at('limits.max_frame_mb')}: ${frameMb} is out of range; allowed ${minFrameMb}..256`,
    );
  return {
    max_frame_bytes: frameMb * 1024 * 1024,
    max_connections: limits.max_connections,
    max_connections_per_address: limits.max_connections_per_address,
    request_timeout_ms: limits.request_timeout_secs,
    idle_timeout_ms: limits.idle_timeout_secs,
    handshake_timeout_ms: limits.handshake_timeout_secs,
    frame_read_timeout_ms: limits.frame_read_timeout_secs,
    max_buffered_bytes: limits.max_buffered_mb * 1024 * 1024,
  };
}

function readTls(
  tls: NonNullable<ServerFile['tls']>,
  baseDir: string,
  at: (keyPath: string) => string,
): TlsConfig {
  return {
    ca_path: resolvePath(baseDir, tls.ca),
    cert_path: resolvePath(baseDir, tls.cert),
    key_path: resolvePath(baseDir, tls.key),
    revoked: readRevokedFingerprints(tls.revoked, at('tls.revoked')),
  };
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
