/**
 * X.509 certificates for TLS: the cloud's CA and its server certificates, and self-signed
 * certificates that only prove possession of a key (cloud clients, peer agents). Generation
 * uses @peculiar/x509 over Node's WebCrypto; parsing and checking use node:crypto's
 * X509Certificate. All keys are Ed25519 (TLS 1.3 in Node 20 accepts them; signing is fast).
 *
 * Naming is the membership proof, so it is fixed here and nowhere else:
 * - the CA's subject is `CN=cloudp2p cluster <cluster_id> CA, OU=cluster-<cluster_id>, O=cloudp2p`;
 * - a server's subject is `CN=server-<id>, OU=cluster-<cluster_id>, O=cloudp2p`, signed by the CA,
 *   usable as both TLS server and TLS client (it dials its peers with the same certificate).
 * Addresses are deliberately not in certificates: a server is identified by its id, so keys
 * made once survive a change of address or host (like Syncthing's device ids).
 *
 * Validity starts CLOCK_SKEW_ALLOWANCE_MS in the past, so a machine whose clock is behind the
 * issuer's still accepts a certificate made a moment ago.
 */
import type * as X509Module from '@peculiar/x509';
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import { CloudP2PError, ExitCode } from '../util/errors.js';

type KeyPair = Parameters<typeof X509Module.X509CertificateGenerator.createSelfSigned>[0]['keys'];
type SigningKey = Parameters<typeof X509Module.X509CertificateGenerator.create>[0] extends infer P
  ? P extends { signingKey: infer K }
    ? K
    : never
  : never;

let x509Loading: Promise<typeof X509Module> | null = null;

/**
 * The generator is loaded on first use: it costs about a second of start-up on a busy machine,
 * and servers and clients that only read certificates (node:crypto) never need it.
 */
function loadX509(): Promise<typeof X509Module> {
  x509Loading ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return x509Loading;
}

const ED25519 = { name: 'Ed25519' } as const;
const DAY_MS = 24 * 3600 * 1000;
/** Certificates are valid from this long before they were made (clock skew between machines). */
export const CLOCK_SKEW_ALLOWANCE_MS = DAY_MS;
export const DEFAULT_CA_VALIDITY_MS = 10 * 365 * DAY_MS;
export const DEFAULT_SERVER_VALIDITY_MS = 2 * 365 * DAY_MS;
export const DEFAULT_SELF_SIGNED_VALIDITY_MS = 365 * DAY_MS;

/** A certificate (PEM; a server's carries its CA after it, the chain it presents) and its key. */
export interface CertificateAndKey {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
}

export interface ValidityOptions {
  /** Wall-clock time of issue (default: now). */
  now_ms?: number;
  validity_ms?: number;
}

/** Makes a new cluster CA: a fresh Ed25519 key and a self-signed CA certificate. */
export async function createClusterCa(
  options: { clusterId: number } & ValidityOptions,
): Promise<CertificateAndKey> {
  const x509 = await loadX509();
  const keys = await generateEd25519();
  const name = caName(options.clusterId);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name,
    ...validity(options.now_ms, options.validity_ms ?? DEFAULT_CA_VALIDITY_MS),
    keys,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(keys.privateKey) };
}

/** Issues a certificate for server `serverId`, signed by `ca`; its PEM is leaf then CA. */
export async function issueServerCertificate(
  options: { ca: CertificateAndKey; clusterId: number; serverId: number } & ValidityOptions,
): Promise<CertificateAndKey> {
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(firstPem(options.ca.certPem));
  const caKey = await importPrivateKey(options.ca.keyPem, ['sign']);
  const keys = await generateEd25519();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: serverName(options.clusterId, options.serverId),
    issuer: caCert.subject,
    ...validity(options.now_ms, options.validity_ms ?? DEFAULT_SERVER_VALIDITY_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(
        [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return {
    certPem: `${cert.toString('pem')}\n${firstPem(options.ca.certPem)}`,
    keyPem: await exportKeyPem(keys.privateKey),
  };
}

/**
 * A self-signed certificate for an Ed25519 key: proves possession of the key, nothing else
 * (a cloud client's identity, a peer agent's P2P identity). Without `privateKey`, a fresh key.
 */
export async function selfSignedCertificate(
  options: { commonName: string; privateKey?: KeyObject } & ValidityOptions,
): Promise<CertificateAndKey> {
  const x509 = await loadX509();
  const privateKey = options.privateKey ?? generateKeyPairSync('ed25519').privateKey;
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new CloudP2PError(
      'bad_key',
      `a certificate key must be Ed25519, got ${privateKey.asymmetricKeyType ?? 'unknown'}`,
      ExitCode.badInput,
    );
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const keys = {
    privateKey: await importPrivateKey(keyPem, ['sign']),
    publicKey: await webcrypto.subtle.importKey(
      'spki',
      createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
      ED25519,
      true,
      ['verify'],
    ),
  } as unknown as KeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [options.commonName] }],
    ...validity(options.now_ms, options.validity_ms ?? DEFAULT_SELF_SIGNED_VALIDITY_MS),
    keys,
    signingAlgorithm: ED25519,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem };
}

// -------------------------------------------------------------------------------------------
// Reading and checking
// -------------------------------------------------------------------------------------------

/** The PEM certificates in a file's text, in order (a trust bundle may hold several CAs). */
export function splitPemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Parses a PEM bundle; throws a clear error naming `what` when there is no valid certificate. */
export function parseCertificates(text: string, what: string): X509Certificate[] {
  const pems = splitPemCertificates(text);
  if (pems.length === 0)
    throw new CloudP2PError(
      'bad_certificate',
      `${what}: no PEM certificate found (expected -----BEGIN CERTIFICATE-----)`,
      ExitCode.usage,
    );
  return pems.map((pem, index) => {
    try {
      return new X509Certificate(pem);
    } catch (err) {
      throw new CloudP2PError(
        'bad_certificate',
        `${what}: certificate ${index + 1} cannot be read: ${(err as Error).message}`,
        ExitCode.usage,
      );
    }
  });
}

/** SHA-256 of the certificate's DER, lowercase hex without colons (what revocation lists name). */
export function certificateFingerprint(cert: X509Certificate): string {
  return cert.fingerprint256.replace(/:/g, '').toLowerCase();
}

/** SHA-256 of the certificate's public key (SPKI DER), lowercase hex: the key's identity. */
export function publicKeyFingerprint(cert: X509Certificate | KeyObject): string {
  const key = cert instanceof X509Certificate ? cert.publicKey : createPublicKey(cert);
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** Normalises a fingerprint as people paste it (`AB:CD:…`, `sha256:abcd…`, spaces) to hex. */
export function normalizeFingerprint(text: string): string | null {
  const hex = text
    .trim()
    .replace(/^sha256:/i, '')
    .replace(/[:\s]/g, '')
    .toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : null;
}

/** What a server certificate names, or null when it is not one of ours. */
export function serverCertificateIdentity(
  cert: X509Certificate,
): { clusterId: number; serverId: number } | null {
  const fields = subjectFields(cert.subject);
  const server = /^server-(\d{1,3})$/.exec(fields.get('CN') ?? '');
  const cluster = /^cluster-(\d{1,10})$/.exec(fields.get('OU') ?? '');
  if (!server || !cluster || fields.get('O') !== 'cloudp2p' || cert.ca) return null;
  return { clusterId: Number(cluster[1]), serverId: Number(server[1]) };
}

/** True when `cert` is a CA certificate of cluster `clusterId` made by createClusterCa. */
export function isClusterCa(cert: X509Certificate, clusterId: number): boolean {
  const fields = subjectFields(cert.subject);
  return cert.ca && fields.get('OU') === `cluster-${clusterId}` && fields.get('O') === 'cloudp2p';
}

/** True when `leaf` was signed by `ca` (issuer name and signature both match). */
export function isIssuedBy(leaf: X509Certificate, ca: X509Certificate): boolean {
  try {
    return leaf.checkIssued(ca) && leaf.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** Whether `cert` is valid at `now_ms` (wall clock), with a reason when not. */
export function validityProblem(cert: X509Certificate, now_ms = Date.now()): string | null {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  if (now_ms < from) return `not valid before ${new Date(from).toISOString()}`;
  if (now_ms > to) return `expired on ${new Date(to).toISOString()}`;
  return null;
}

/** Loads a PEM private key; the error names `what` rather than OpenSSL internals. */
export function parsePrivateKey(pem: string, what: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new CloudP2PError(
      'bad_key',
      `${what}: not a PEM private key (${(err as Error).message})`,
      ExitCode.usage,
    );
  }
}

// -------------------------------------------------------------------------------------------

function caName(clusterId: number): string {
  return `CN=cloudp2p cluster ${clusterId} CA, OU=cluster-${clusterId}, O=cloudp2p`;
}

function serverName(clusterId: number, serverId: number): string {
  return `CN=server-${serverId}, OU=cluster-${clusterId}, O=cloudp2p`;
}

function subjectFields(subject: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of subject.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return fields;
}

function validity(now_ms = Date.now(), validity_ms: number): { notBefore: Date; notAfter: Date } {
  return {
    notBefore: new Date(now_ms - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter: new Date(now_ms + validity_ms),
  };
}

function randomSerial(): string {
  // 16 random bytes, high bit clear so the DER integer stays positive.
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] as number) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}

async function generateEd25519(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(ED25519, true, [
    'sign',
    'verify',
  ])) as unknown as KeyPair;
}

async function exportKeyPem(key: SigningKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key as unknown as webcrypto.CryptoKey);
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

async function importPrivateKey(pem: string, usages: webcrypto.KeyUsage[]): Promise<SigningKey> {
  const der = parsePrivateKey(pem, 'CA key').export({ type: 'pkcs8', format: 'der' });
  return (await webcrypto.subtle.importKey(
    'pkcs8',
    der,
    ED25519,
    false,
    usages,
  )) as unknown as SigningKey;
}

function firstPem(text: string): string {
  const first = splitPemCertificates(text)[0];
  if (!first)
    throw new CloudP2PError('bad_certificate', 'no PEM certificate found', ExitCode.usage);
  return `${first}\n`;
}
