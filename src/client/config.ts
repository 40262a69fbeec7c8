/**
 * Client configuration: the seed CloudP2P client TOML (`[client] name, server_addresses`,
 * `[requests] rate_per_second, duration_seconds, ...`) plus cloudp2p's additions.
 * The seed's `request_processing_ms` and `load_per_request` simulated a workload; cloudp2p sends
 * real images instead, so they are accepted and ignored (documented in README.md).
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  ConfigError,
  configWhere,
  loadTomlFile,
  parseHostPort,
  type ConfigDocument,
} from '../util/config-reader.js';
import {
  Ignored,
  Integer,
  Num,
  OptionalTable,
  OptionalText,
  RequiredTable,
  Table,
  Text,
  TextList,
  readConfig,
} from '../util/config-schema.js';
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
  return readClientConfig(loadTomlFile(path), dirname(resolve(path)));
}

/** `server_addresses`: the client's, the peer agent's and the CLI's list of cloud servers. */
export const ServerAddresses = TextList({ maxItems: MAX_SERVERS, maxLength: 300 });

/** Parses `server_addresses` read at `where` ("<file>: <key path>"). */
export function readServerAddresses(texts: string[], where: string): Endpoint[] {
  if (texts.length === 0) throw new ConfigError(`${where}: list at least one server address`);
  return texts.map((text, index) => parseHostPort(text, `${where}[${index}]`, DIAL));
}

/**
 * `revoked = ["<sha256>", …]`: fingerprints of server certificates that are no longer members
 * of the cloud (servers and clients read the same list; docs/SECURITY.md "Revoking a server").
 */
export const RevokedFingerprints = TextList({ maxItems: 10_000, maxLength: 200 }, []);

/** The fingerprints of `texts` (read at `where`), normalized. */
export function readRevokedFingerprints(texts: string[], where: string): string[] {
  return texts.map((text, index) => fingerprintAt(text, `${where}[${index}]`));
}

function fingerprintAt(text: string, where: string): string {
  const hex = normalizeFingerprint(text);
  if (!hex)
    throw new ConfigError(
      `${where}: "${text}" is not a SHA-256 fingerprint (64 hex digits, colons allowed)`,
    );
  return hex;
}

const ClientFile = Table({
  client: RequiredTable({
    name: Text({
      maxLength: 64,
      pattern: /^[A-Za-z0-9_.-]+$/,
      patternHint: '1-64 letters, digits, "_", "." or "-"',
    }),
    server_addresses: ServerAddresses,
    cluster_id: Integer({ min: 0, max: 0xffff_ffff }, 1),
  }),
  requests: OptionalTable({
    rate_per_second: Num({ min: 0.001, max: 100_000 }, 1),
    duration_seconds: Num({ min: 0.001, max: 7 * 24 * 3600 }, 10),
    images: TextList({ maxItems: 10_000 }, []),
    task_deadline_secs: Num({ min: 0.1, max: 24 * 3600 }, 120),
    max_in_flight: Integer({ min: 1, max: 10_000 }, 64),
    // The seed's simulated workload: accepted and ignored (cloudp2p sends real images).
    request_processing_ms: Ignored(),
    load_per_request: Ignored(),
  }),
  /** `ca = "<file>"` or `ca_fingerprint = "<sha256>"`: how the client knows the cloud;
   * `revoked`: server certificates it refuses although the CA issued them. */
  tls: OptionalTable({
    ca: OptionalText(),
    ca_fingerprint: OptionalText({ maxLength: 200 }),
    revoked: RevokedFingerprints,
  }),
  output: OptionalTable({ records: OptionalText(), save_dir: OptionalText() }),
});

export function readClientConfig(document: ConfigDocument, baseDir: string): ClientConfig {
  const file = readConfig(document, ClientFile);
  const { client, requests, output } = file;
  const servers = readServerAddresses(
    client.server_addresses,
    configWhere(document, 'client.server_addresses'),
  );
  const images =
    requests.images.length > 0
      ? requests.images.map((p) => (isAbsolute(p) ? p : resolve(baseDir, p)))
      : defaultSampleImages();
  return {
    source: document.source,
    name: client.name,
    cluster_id: client.cluster_id,
    servers,
    tls: readClientTls(file.tls, document, baseDir),
    requests: {
      rate_per_second: requests.rate_per_second,
      duration_seconds: requests.duration_seconds,
      images,
      task_deadline_ms: Math.round(requests.task_deadline_secs * 1000),
      max_in_flight: requests.max_in_flight,
    },
    output: {
      records_path: output.records === undefined ? undefined : resolve(baseDir, output.records),
      save_dir: output.save_dir === undefined ? undefined : resolve(baseDir, output.save_dir),
    },
  };
}

function readClientTls(
  tls: { ca?: string | undefined; ca_fingerprint?: string | undefined; revoked: string[] },
  document: ConfigDocument,
  baseDir: string,
): CloudTrustInput {
  const { ca, ca_fingerprint: fingerprint } = tls;
  const revoked = readRevokedFingerprints(tls.revoked, configWhere(document, 'tls.revoked'));
  if (ca !== undefined && fingerprint !== undefined)
    throw new ConfigError(`${configWhere(document, 'tls')}: give ca or ca_fingerprint, not both`);
  if (fingerprint !== undefined)
    fingerprintAt(fingerprint, configWhere(document, 'tls.ca_fingerprint'));
  return {
    caPath: ca === undefined ? undefined : isAbsolute(ca) ? ca : resolve(baseDir, ca),
    caFingerprint: fingerprint,
    ...(revoked.length > 0 ? { revoked } : {}),
  };
}
