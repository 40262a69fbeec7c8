/**
 * Which cloud an agent trusts: the cloud's CA (or its fingerprint) saved in the data directory's
 * config.json at register/login, so an agent on another machine talks only to the cloud it
 * registered with. Order: what the user names now (--cloud-ca / --cloud-fingerprint), then what
 * is saved, then CLOUDP2P_CLOUD_CA / the local cloud's CA (resolveCloudTrust), which is then
 * saved at the next sign-in.
 */
import { resolveCloudTrust, type CloudTrustInput } from '../client/cloud-trust.js';
import { parseCertificates } from '../identity/certificates.js';
import type { CloudTrust } from '../transport/tls.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import type { SavedCloudCa } from './data-dir.js';

export function savedCloudCa(trust: CloudTrust): SavedCloudCa {
  return trust.kind === 'ca' ? { ca_pem: trust.caPem } : { ca_fingerprint: trust.caFingerprint };
}

/** The trust a saved entry stands for; a damaged PEM fails here with the file named. */
export function trustOfSaved(saved: SavedCloudCa, configPath: string): CloudTrust {
  if ('ca_fingerprint' in saved)
    return { kind: 'fingerprint', caFingerprint: saved.ca_fingerprint };
  try {
    parseCertificates(saved.ca_pem, 'cloud_ca.ca_pem');
    return { kind: 'ca', caPem: saved.ca_pem };
  } catch (err) {
    throw new CloudP2PError(
      'bad_data_dir',
      `${configPath}: cloud_ca.ca_pem is not a usable certificate (${(err as Error).message}); log in with --cloud-ca <file> to replace it`,
      ExitCode.corrupted,
    );
  }
}

/** The CA the user named on the command line, if any (a file or a fingerprint, not both). */
export function namedCloudTrust(input: CloudTrustInput): CloudTrust | undefined {
  if (!input.caPath && !input.caFingerprint) return undefined;
  return resolveCloudTrust(input);
}

export function sameTrust(a: CloudTrust, b: CloudTrust): boolean {
  return a.kind === 'ca'
    ? b.kind === 'ca' && a.caPem === b.caPem
    : b.kind === 'fingerprint' && a.caFingerprint === b.caFingerprint;
}

/** Words in a TLS failure that mean "this is not the cloud the agent trusts". */
const WRONG_CLOUD = /certificate|self[- ]signed|unable to (get|verify)|fingerprint|CERT_|issuer/i;

/**
 * A clearer error when no server could be reached because their certificates are not from the
 * trusted cloud CA (a different cloud, or the cloud was re-keyed): says what to do.
 */
export function explainWrongCloud(err: unknown): unknown {
  if (!(err instanceof CloudP2PError) || err.code !== 'directory_unreachable') return err;
  if (!WRONG_CLOUD.test(err.message)) return err;
  return new CloudP2PError(
    'bad_certificate',
    `the cloud servers' certificates are not from the cloud CA this agent trusts (saved in config.json at register/login): ` +
      `is this the right cloud? If its operator re-keyed it, sign in with --cloud-ca <ca.crt> or --cloud-fingerprint <sha256> ` +
      `(\`cloudp2p cluster fingerprint ca.crt\`). Details: ${err.message}`,
    ExitCode.unavailable,
  );
}
