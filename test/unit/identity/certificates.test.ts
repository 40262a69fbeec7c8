import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CLOCK_SKEW_ALLOWANCE_MS,
  certificateFingerprint,
  createClusterCa,
  isClusterCa,
  isIssuedBy,
  issueServerCertificate,
  normalizeFingerprint,
  parseCertificates,
  publicKeyFingerprint,
  selfSignedCertificate,
  serverCertificateIdentity,
  validityProblem,
} from '../../../src/identity/certificates.js';

describe('certificates', () => {
  it('a server certificate names its cluster and id, chains to its CA only, and carries the CA', async () => {
    const ca = await createClusterCa({ clusterId: 7 });
    const other = await createClusterCa({ clusterId: 7 });
    const server = await issueServerCertificate({ ca, clusterId: 7, serverId: 42 });
    const [leaf, chained] = parseCertificates(server.certPem, 'server');
    const [caCert] = parseCertificates(ca.certPem, 'ca');
    const [otherCert] = parseCertificates(other.certPem, 'other');
    expect(serverCertificateIdentity(leaf!)).toEqual({ clusterId: 7, serverId: 42 });
    expect(chained?.fingerprint256).toBe(caCert?.fingerprint256);
    expect(isIssuedBy(leaf!, caCert!)).toBe(true);
    expect(isIssuedBy(leaf!, otherCert!)).toBe(false);
    expect(isClusterCa(caCert!, 7)).toBe(true);
    expect(isClusterCa(caCert!, 8)).toBe(false);
    expect(serverCertificateIdentity(caCert!)).toBeNull();
  });

  it('a self-signed certificate proves the given key; it names no server', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const cert = await selfSignedCertificate({ commonName: 'server-1', privateKey });
    const [parsed] = parseCertificates(cert.certPem, 'client');
    expect(publicKeyFingerprint(parsed!)).toBe(publicKeyFingerprint(privateKey));
    expect(serverCertificateIdentity(parsed!)).toBeNull();
    const fresh = await selfSignedCertificate({ commonName: 'x' });
    expect(publicKeyFingerprint(parseCertificates(fresh.certPem, 'x')[0]!)).not.toBe(
      publicKeyFingerprint(privateKey),
    );
  });

  it('validity starts before issue (clock skew) and ends when asked', async () => {
    const now_ms = Date.UTC(2030, 0, 1);
    const cert = await selfSignedCertificate({ commonName: 'c', now_ms, validity_ms: 60_000 });
    const [parsed] = parseCertificates(cert.certPem, 'c');
    expect(validityProblem(parsed!, now_ms - CLOCK_SKEW_ALLOWANCE_MS / 2)).toBeNull();
    expect(validityProblem(parsed!, now_ms + 120_000)).toMatch(/expired/);
    expect(validityProblem(parsed!, now_ms - 2 * CLOCK_SKEW_ALLOWANCE_MS)).toMatch(
      /not valid before/,
    );
  });

  it('reads fingerprints as people paste them and refuses junk', async () => {
    const ca = await createClusterCa({ clusterId: 1 });
    const [cert] = parseCertificates(ca.certPem, 'ca');
    const hex = certificateFingerprint(cert!);
    expect(normalizeFingerprint(cert!.fingerprint256)).toBe(hex);
    expect(normalizeFingerprint(`sha256:${hex.toUpperCase()}`)).toBe(hex);
    expect(normalizeFingerprint('abc')).toBeNull();
    expect(() => parseCertificates('hello', 'ca.crt')).toThrow(/ca.crt: no PEM certificate/);
  });
});
