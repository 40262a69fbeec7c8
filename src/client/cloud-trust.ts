/**
 * How a client knows it talks to the real cloud, and how it proves who it is.
 *
 * Trust: the cloud's CA certificate (a PEM file) or the SHA-256 fingerprint of it. Where none is
 * given, `CLOUDP2P_CLOUD_CA` (a file or a fingerprint) and then the local cloud's CA that
 * `npm start` made (.cloudp2p/keys/ca.crt in the package) are used, so the commands `npm start`
 * prints work as they are; with none of these, connecting fails with a message saying so.
 *
 * Identity: a key of the client's own, proven by a self-signed certificate. The client's id on
 * the wire is derived from that key (`clientIdForKey`), and servers refuse any other, so a task's
 * status and result reach only the holder of the key that submitted it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import {
  certificateFingerprint,
  normalizeFingerprint,
  parseCertificates,
  publicKeyFingerprint,
  selfSignedCertificate,
} from '../identity/certificates.js';
import { clientIdForKey, type CloudTrust, type TlsCredentials } from '../transport/tls.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import { packagePath } from '../util/package-info.js';

/** Where the local cloud of `npm start` keeps its keys. */
export const LOCAL_CA_PATH = packagePath('.cloudp2p', 'keys', 'ca.crt');

export interface CloudTrustInput {
  /** A PEM file with the cloud's CA certificate(s). */
  caPath?: string | undefined;
  /** Or the SHA-256 fingerprint of the CA certificate. */
  caFingerprint?: string | undefined;
  /** Fingerprints (hex, normalised) of revoked server certificates this client refuses. */
  revoked?: readonly string[] | undefined;
}

/** Reads trust from what the user gave, else the environment, else the local cloud's CA. */
export function resolveCloudTrust(input: CloudTrustInput = {}): CloudTrust {
  const trust = resolveTrustAnchor(input);
  return input.revoked?.length ? { ...trust, revoked: new Set(input.revoked) } : trust;
}

function resolveTrustAnchor(input: CloudTrustInput): CloudTrust {
  if (input.caPath && input.caFingerprint)
    throw new CloudP2PError(
      'usage',
      'name the cloud CA either as a file or as a fingerprint, not both',
      ExitCode.usage,
    );
  if (input.caPath) return trustFromFile(input.caPath);
  if (input.caFingerprint) return trustFromFingerprint(input.caFingerprint, 'the CA fingerprint');
  const fromEnv = process.env.CLOUDP2P_CLOUD_CA;
  if (fromEnv)
    return normalizeFingerprint(fromEnv)
      ? trustFromFingerprint(fromEnv, 'CLOUDP2P_CLOUD_CA')
      : trustFromFile(fromEnv);
  if (existsSync(LOCAL_CA_PATH)) return trustFromFile(LOCAL_CA_PATH);
  throw new CloudP2PError(
    'no_cloud_ca',
    "no cloud CA configured: name the cloud's CA certificate (--cloud-ca <file>, [tls] ca) or its " +
      'SHA-256 fingerprint (--cloud-fingerprint, [tls] ca_fingerprint), or set CLOUDP2P_CLOUD_CA; ' +
      'the operator prints both with `cloudp2p cluster init`',
    ExitCode.usage,
  );
}

export function trustFromFile(path: string): CloudTrust {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CloudP2PError(
      'no_cloud_ca',
      `cannot read the cloud CA ${path}: ${(err as Error).message}`,
      ExitCode.usage,
    );
  }
  parseCertificates(text, path);
  return { kind: 'ca', caPem: text };
}

function trustFromFingerprint(text: string, what: string): CloudTrust {
  const hex = normalizeFingerprint(text);
  if (!hex)
    throw new CloudP2PError(
      'usage',
      `${what}: "${text}" is not a SHA-256 fingerprint (64 hex digits, colons allowed)`,
      ExitCode.usage,
    );
  return { kind: 'fingerprint', caFingerprint: hex };
}

/** The fingerprint clients can pin, of the first CA in a trust bundle. */
export function caFingerprintOf(caPem: string): string {
  return certificateFingerprint(parseCertificates(caPem, 'CA')[0] as X509Certificate);
}

/** A fresh key and its self-signed certificate: a client's identity for one session. */
export function newClientCredentials(label = 'cloudp2p client'): Promise<TlsCredentials> {
  return selfSignedCertificate({ commonName: label.slice(0, 64) });
}

/** The wire client id of the holder of `credentials`. */
export function clientIdOf(credentials: TlsCredentials): string {
  const [cert] = parseCertificates(credentials.certPem, 'client certificate');
  return clientIdForKey(publicKeyFingerprint(cert as X509Certificate));
}
