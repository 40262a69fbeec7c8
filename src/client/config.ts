/**
 * Client configuration: the seed CloudP2P client TOML (`[client] name, server_addresses`,
 * `[requests] rate_per_second, duration_seconds, ...`) plus cloudp2p's additions.
 * The seed's `request_processing_ms` and `load_per_request` simulated a workload; cloudp2p sends
 * real images instead, so they are accepted and ignored (documented in README.md).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  ConfigError,
  loadTomlFile,
  parseHostPort,
  type ConfigTable,
} from '../util/config-reader.js';
import { packagePath } from '../util/package-info.js';
import { DIAL, type Endpoint } from '../transport/endpoint.js';
import { normalizeFingerprint } from '../identity/certificates.js';
import type { CloudTrustInput } from './cloud-trust.js';

export interface ClientConfig {
  source: string;
  name: string;
  cluster_id: number;
  servers: Endpoint[];
  /** The cloud's CA file or its fingerprint (none: CLOUDP2P_CLOUD_CA or the local cloud's CA). */
  tls: CloudTrustInput;
  requests: {
    rate_per_second: number;
    duration_seconds: number;
    /** Absolute paths of the images to send, used round-robin. */
    images: string[];
    /** Give up on one task after this long (the middleware retries and follows failover until then). */
    task_deadline_ms: number;
    /** At most this many tasks in flight at once; further ones wait (and count as late). */
    max_in_flight: number;
  };
  output: {
    /** JSONL file with one record per request; undefined = not written. */
    records_path: string | undefined;
    /** Folder where encrypted PNGs are saved; undefined = not saved. */
    save_dir: string | undefined;
  };
}

const MAX_SERVERS = 64;

export function defaultSampleImages(): string[] {
  return [packagePath('assets', 'samples', 'photo.jpg')];
}

export function loadClientConfig(path: string): ClientConfig {
  const root = loadTomlFile(path);
  return readClientConfig(root, dirname(resolve(path)));
}

/** Reads `server_addresses` from a table; shared by the client, the peer agent and the CLI. */
export function readServerAddresses(table: ConfigTable, key = 'server_addresses'): Endpoint[] {
  const texts = table.stringArray(key, undefined, { maxItems: MAX_SERVERS, maxLength: 300 });
  if (texts.length === 0)
    throw new ConfigError(`${table.where(key)}: list at least one server address`);
  return texts.map((text, index) => parseHostPort(text, `${table.where(key)}[${index}]`, DIAL));
}

/**
 * `revoked = ["<sha256>", …]`: fingerprints of server certificates that are no longer members
 * of the cloud (servers and clients read the same list; docs/SECURITY.md "Revoking a server").
 */
export function readRevokedFingerprints(table: ConfigTable): string[] {
  return table
    .stringArray('revoked', [], { maxItems: 10_000, maxLength: 200 })
    .map((text, index) => {
      const hex = normalizeFingerprint(text);
      if (!hex)
        throw new ConfigError(
          `${table.where('revoked')}[${index}]: "${text}" is not a SHA-256 fingerprint (64 hex digits, colons allowed)`,
        );
      return hex;
    });
}

/**
 * `[tls] ca = "<file>"` or `[tls] ca_fingerprint = "<sha256>"`: how the client knows the cloud;
 * `[tls] revoked`: server certificates it refuses although the CA issued them.
 */
export function readClientTls(table: ConfigTable, baseDir: string): CloudTrustInput {
  const ca = table.optionalString('ca');
  const fingerprint = table.optionalString('ca_fingerprint', { maxLength: 200 });
  const revoked = readRevokedFingerprints(table);
  table.rejectUnknownKeys();
  if (ca !== undefined && fingerprint !== undefined)
    throw new ConfigError(`${table.where()}: give ca or ca_fingerprint, not both`);
  if (fingerprint !== undefined && !normalizeFingerprint(fingerprint))
    throw new ConfigError(
      `${table.where('ca_fingerprint')}: "${fingerprint}" is not a SHA-256 fingerprint (64 hex digits, colons allowed)`,
    );
  return {
    caPath: ca === undefined ? undefined : isAbsolute(ca) ? ca : resolve(baseDir, ca),
    caFingerprint: fingerprint,
    ...(revoked.length > 0 ? { revoked } : {}),
  };
}

export function readClientConfig(root: ConfigTable, baseDir: string): ClientConfig {
  const client = root.table('client', { required: true });
  const name = client.string('name', undefined, {
    maxLength: 64,
    pattern: /^[A-Za-z0-9_.-]+$/,
    patternHint: '1-64 letters, digits, "_", "." or "-"',
  });
  const servers = readServerAddresses(client);
  const cluster_id = client.integer('cluster_id', 1, { min: 0, max: 0xffff_ffff });
  client.rejectUnknownKeys();

  const requests = root.table('requests');
  const rate_per_second = requests.number('rate_per_second', 1, { min: 0.001, max: 100_000 });
  const duration_seconds = requests.number('duration_seconds', 10, {
    min: 0.001,
    max: 7 * 24 * 3600,
  });
  const imageTexts = requests.stringArray('images', [], { maxItems: 10_000 });
  const images =
    imageTexts.length > 0
      ? imageTexts.map((p) => (isAbsolute(p) ? p : resolve(baseDir, p)))
      : defaultSampleImages();
  const task_deadline_ms = Math.round(
    requests.number('task_deadline_secs', 120, { min: 0.1, max: 24 * 3600 }) * 1000,
  );
  const max_in_flight = requests.integer('max_in_flight', 64, { min: 1, max: 10_000 });
  requests.ignore('request_processing_ms', 'load_per_request');
  requests.rejectUnknownKeys();

  const tls = readClientTls(root.table('tls'), baseDir);

  const output = root.table('output');
  const records = output.optionalString('records');
  const save = output.optionalString('save_dir');
  output.rejectUnknownKeys();
  root.rejectUnknownKeys();

  return {
    source: root.source,
    name,
    cluster_id,
    servers,
    tls,
    requests: { rate_per_second, duration_seconds, images, task_deadline_ms, max_in_flight },
    output: {
      records_path: records === undefined ? undefined : resolve(baseDir, records),
      save_dir: save === undefined ? undefined : resolve(baseDir, save),
    },
  };
}
