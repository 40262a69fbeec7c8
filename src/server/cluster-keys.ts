/**
 * The cloud's key files: `cloudp2p cluster init` writes them, servers load them. Layout of a
 * keys folder (mode 0700; every file 0600):
 *
 *   ca.crt          the cluster CA certificate (the trust bundle: may hold several CAs while
 *                   rotating); clients name this file or its fingerprint
 *   ca.key          the CA's private key: needed only to add servers; keep it offline
 *   server-<id>.crt server <id>'s certificate, then the CA's (the chain it presents)
 *   server-<id>.key server <id>'s private key
 *
 * init is idempotent: an existing CA is reused and existing server files are kept, so running it
 * again with more ids adds servers.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  certificateFingerprint,
  createClusterCa,
  isClusterCa,
  isIssuedBy,
  issueServerCertificate,
  parseCertificates,
  parsePrivateKey,
  serverCertificateIdentity,
  validityProblem,
  type CertificateAndKey,
} from '../identity/certificates.js';
import type { ServerTls } from '../transport/tls.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import type { ServerConfig } from './config.js';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';
export const serverCertFile = (id: number): string => `server-${id}.crt`;
export const serverKeyFile = (id: number): string => `server-${id}.key`;

/** Warn when a certificate expires within this. */
const EXPIRY_WARNING_MS = 30 * 24 * 3600 * 1000;

export interface InitResult {
  created: string[];
  kept: string[];
  caFingerprint: string;
}

/** Creates the CA (unless present) and a certificate per server id (unless present). */
export async function initClusterKeys(options: {
  dir: string;
  clusterId: number;
  serverIds: number[];
}): Promise<InitResult> {
  const { dir, clusterId } = options;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const created: string[] = [];
  const kept: string[] = [];
  const caCertPath = join(dir, CA_CERT_FILE);
  const caKeyPath = join(dir, CA_KEY_FILE);
  let ca: CertificateAndKey;
  if (existsSync(caCertPath) && existsSync(caKeyPath)) {
    ca = { certPem: readFileSync(caCertPath, 'utf8'), keyPem: readFileSync(caKeyPath, 'utf8') };
    const [caCert] = parseCertificates(ca.certPem, caCertPath);
    if (!caCert || !isClusterCa(caCert, clusterId))
      throw new CloudP2PError(
        'wrong_cluster',
        `${caCertPath} is not the CA of cluster ${clusterId} (${caCert?.subject.replace(/\n/g, ', ')}): use another --dir or the matching --cluster-id`,
        ExitCode.usage,
      );
    kept.push(caCertPath, caKeyPath);
  } else {
    ca = await createClusterCa({ clusterId });
    writePrivate(caKeyPath, ca.keyPem);
    writePrivate(caCertPath, ca.certPem);
    created.push(caCertPath, caKeyPath);
  }
  for (const serverId of options.serverIds) {
    const certPath = join(dir, serverCertFile(serverId));
    const keyPath = join(dir, serverKeyFile(serverId));
    if (existsSync(certPath) && existsSync(keyPath)) {
      kept.push(certPath, keyPath);
      continue;
    }
    const issued = await issueServerCertificate({ ca, clusterId, serverId });
    writePrivate(keyPath, issued.keyPem);
    writePrivate(certPath, issued.certPem);
    created.push(certPath, keyPath);
  }
  const [caCert] = parseCertificates(ca.certPem, caCertPath);
  return { created, kept, caFingerprint: certificateFingerprint(caCert!) };
}

function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Loads a server's TLS material and checks it fits this server: its certificate names this
 * server and cluster, is issued by a CA of the trust bundle, and its key is private to us.
 */
export function loadServerTls(config: ServerConfig): { security: ServerTls; warnings: string[] } {
  const tls = config.tls;
  if (!tls) throw missingTls(config.source);
  const warnings: string[] = [];
  const read = (path: string, what: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      throw new CloudP2PError(
        'tls_files',
        `${config.source}: [tls] ${what} = ${path}: ${(err as Error).message} (make keys with \`cloudp2p cluster init\`)`,
        ExitCode.usage,
      );
    }
  };
  const trustPem = read(tls.ca_path, 'ca');
  const certPem = read(tls.cert_path, 'cert');
  const keyPem = read(tls.key_path, 'key');
  const mode = statSync(tls.key_path).mode & 0o077;
  if (mode !== 0 && process.platform !== 'win32')
    throw new CloudP2PError(
      'tls_files',
      `${tls.key_path}: a private key must not be readable by other users (mode ${(statSync(tls.key_path).mode & 0o777).toString(8)}); run chmod 600 ${tls.key_path}`,
      ExitCode.usage,
    );
  parsePrivateKey(keyPem, tls.key_path);
  const anchors = parseCertificates(trustPem, tls.ca_path);
  const [leaf] = parseCertificates(certPem, tls.cert_path);
  const named = leaf ? serverCertificateIdentity(leaf) : null;
  if (!leaf || !named || named.serverId !== config.id || named.clusterId !== config.cluster_id)
    throw new CloudP2PError(
      'tls_files',
      `${tls.cert_path}: expected the certificate of server ${config.id} of cluster ${config.cluster_id}, found ${leaf?.subject.replace(/\n/g, ', ') ?? 'none'}`,
      ExitCode.usage,
    );
  if (!anchors.some((ca) => isIssuedBy(leaf, ca)))
    throw new CloudP2PError(
      'tls_files',
      `${tls.cert_path} is not issued by a CA in ${tls.ca_path}: peers would refuse this server`,
      ExitCode.usage,
    );
  const problem = validityProblem(leaf);
  if (problem) warnings.push(`${tls.cert_path}: ${problem}; peers will refuse this server`);
  else if (Date.parse(leaf.validTo) - Date.now() < EXPIRY_WARNING_MS)
    warnings.push(
      `${tls.cert_path} expires on ${leaf.validTo}: issue a new one (docs/SECURITY.md)`,
    );
  return {
    security: {
      kind: 'tls',
      clusterId: config.cluster_id,
      serverId: config.id,
      credentials: { certPem, keyPem },
      trustPem,
      revoked: new Set(tls.revoked),
      peerIds: new Set(config.peers.map((peer) => peer.id)),
    },
    warnings,
  };
}

export function missingTls(source: string): CloudP2PError {
  return new CloudP2PError(
    'tls_missing',
    `${source} has no [tls] section: servers must prove their membership. Make keys with ` +
      '`cloudp2p cluster init --dir <keys> --servers 1,2,3` and add [tls] ca, cert and key ' +
      '(docs/SECURITY.md). Only a benchmark may run without: --insecure-plaintext-for-benchmark',
    ExitCode.usage,
  );
}
