/**
 * TLS 1.3 (node:tls) for every cloud connection, and who the other side proved to be.
 *
 * - A server listens with its certificate (signed by the cloud's CA) and asks every connection
 *   for a certificate. A certificate issued by a CA of the trust bundle, valid now, naming a
 *   configured peer of this cluster and not revoked makes the connection that member's link.
 *   Any other certificate only proves a key: the connection is a client identified by that key.
 *   A certificate that claims to be a server but cannot prove it is refused outright.
 * - A server dials a peer with its own certificate and accepts only that peer's certificate.
 * - A client trusts the cloud's CA (its PEM, or the SHA-256 fingerprint of it) and accepts any
 *   server certificate of the cluster that CA issued; it proves a key with a self-signed
 *   certificate (src/identity/certificates.ts).
 *
 * `insecure-plaintext-for-benchmark` exists only so bench:cluster can show what TLS costs; it
 * must be asked for by that name (a CLI flag), never by a config file.
 */
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import {
  TLSSocket,
  connect as tlsConnect,
  createSecureContext,
  type PeerCertificate,
  type SecureContext,
} from 'node:tls';
import {
  certificateFingerprint,
  isIssuedBy,
  parseCertificates,
  publicKeyFingerprint,
  serverCertificateIdentity,
  validityProblem,
} from '../identity/certificates.js';
import { DialError } from './framed-connection.js';

export const INSECURE_PLAINTEXT = 'insecure-plaintext-for-benchmark';

export interface PlaintextForBenchmark {
  kind: typeof INSECURE_PLAINTEXT;
}

/** The cloud's trust anchors as a client or a server sees them. */
export type CloudTrust = (
  | { kind: 'ca'; caPem: string }
  /** SHA-256 (hex) of the CA certificate; the server sends its CA in its chain. */
  | { kind: 'fingerprint'; caFingerprint: string }
) & {
  /** SHA-256 (hex) of server certificates refused although the CA issued them (revoked). */
  revoked?: ReadonlySet<string>;
};

/** A certificate and its private key (PEM). A server's certificate PEM is leaf then CA. */
export interface TlsCredentials {
  certPem: string;
  keyPem: string;
}

/** A server's TLS settings: who it is, whom it trusts, whom it no longer trusts. */
export interface ServerTls {
  kind: 'tls';
  clusterId: number;
  serverId: number;
  credentials: TlsCredentials;
  /** PEM bundle of the cloud's CA certificates (several during a CA rotation). */
  trustPem: string;
  /** SHA-256 fingerprints (hex) of server certificates that are no longer members. */
  revoked: ReadonlySet<string>;
  /** Configured peers: only these ids are members. */
  peerIds: ReadonlySet<number>;
}

export type ServerSecurity = ServerTls | PlaintextForBenchmark;

/** A dialer's TLS settings. `expectServerId` pins the peer (server-to-server links). */
export interface ClientTls {
  kind: 'tls';
  clusterId: number;
  trust: CloudTrust;
  /** Proves a key (clients) or membership (servers dialing peers); none = anonymous. */
  credentials: TlsCredentials | null;
  expectServerId?: number;
  revoked?: ReadonlySet<string>;
}

export type ClientSecurity = ClientTls | PlaintextForBenchmark;

/** Who the other end of an accepted connection proved to be. */
export type PeerIdentity =
  | { kind: 'server'; serverId: number; certificate: string }
  /**
   * Proved possession of a key: `key` is the SHA-256 of its public key (hex); `clientId` the
   * only client id this connection may use (clientIdForKey).
   */
  | { kind: 'client'; key: string; clientId: string }
  /** TLS without a certificate: may only ask public questions. */
  | { kind: 'anonymous' }
  /** Plaintext benchmark mode: nothing is proven. */
  | { kind: 'unverified' };

/** The client id of the holder of a key: what a client connection must call itself. */
export function clientIdForKey(keyFingerprint: string): string {
  return `key:${keyFingerprint.slice(0, 40)}`;
}

export class TlsRefusal extends Error {
  constructor(
    readonly code: 'not_a_member' | 'revoked' | 'wrong_cluster' | 'unknown_server',
    message: string,
  ) {
    super(message);
  }
}

/** Checks the certificate a connection presented to a server; throws TlsRefusal when refused. */
export function classifyPeer(
  security: ServerTls,
  trustAnchors: readonly X509Certificate[],
  leaf: X509Certificate | undefined,
  now_ms = Date.now(),
): PeerIdentity {
  if (!leaf) return { kind: 'anonymous' };
  const claimed = serverCertificateIdentity(leaf);
  if (!claimed) {
    const key = publicKeyFingerprint(leaf);
    return { kind: 'client', key, clientId: clientIdForKey(key) };
  }
  const who = `certificate of server ${claimed.serverId} (cluster ${claimed.clusterId})`;
  const issuer = trustAnchors.find((ca) => isIssuedBy(leaf, ca));
  if (!issuer)
    throw new TlsRefusal('not_a_member', `${who} is not issued by this cloud's CA: not a member`);
  const problem = validityProblem(leaf, now_ms) ?? validityProblem(issuer, now_ms);
  if (problem) throw new TlsRefusal('not_a_member', `${who}: ${problem}`);
  const fingerprint = certificateFingerprint(leaf);
  if (security.revoked.has(fingerprint))
    throw new TlsRefusal('revoked', `${who} is revoked (${fingerprint})`);
  if (claimed.clusterId !== security.clusterId)
    throw new TlsRefusal('wrong_cluster', `${who} is for cluster ${claimed.clusterId}`);
  if (!security.peerIds.has(claimed.serverId))
    throw new TlsRefusal(
      'unknown_server',
      `${who}: server ${claimed.serverId} is not a configured peer of server ${security.serverId}`,
    );
  return { kind: 'server', serverId: claimed.serverId, certificate: fingerprint };
}

/** Prepared server-side TLS: one secure context and the parsed trust anchors. */
export class TlsAcceptor {
  private readonly context: SecureContext;
  readonly trustAnchors: readonly X509Certificate[];

  constructor(readonly security: ServerTls) {
    this.context = createSecureContext({
      cert: security.credentials.certPem,
      key: security.credentials.keyPem,
      minVersion: 'TLSv1.3',
    });
    this.trustAnchors = parseCertificates(security.trustPem, 'trust bundle');
  }

  /** Wraps an accepted TCP socket; `onSecure` runs once the handshake is complete. */
  wrap(raw: Socket): TLSSocket {
    return new TLSSocket(raw, {
      isServer: true,
      secureContext: this.context,
      requestCert: true,
      rejectUnauthorized: false,
    });
  }

  identify(socket: TLSSocket): PeerIdentity {
    return classifyPeer(this.security, this.trustAnchors, socket.getPeerX509Certificate());
  }
}

/**
 * Opens a TLS connection and checks the server's certificate; rejects with a message that says
 * what the server failed to prove.
 */
export function dialTls(
  host: string,
  port: number,
  timeout_ms: number,
  security: ClientTls,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const endpoint = `${host}:${port}`;
    let settled = false;
    const fail = (message: string, code?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(new DialError(message, code));
    };
    const pinned = security.trust.kind === 'fingerprint';
    const socket = tlsConnect({
      host,
      port,
      minVersion: 'TLSv1.3',
      ...(security.credentials
        ? { cert: security.credentials.certPem, key: security.credentials.keyPem }
        : {}),
      ...(security.trust.kind === 'ca' ? { ca: security.trust.caPem } : {}),
      rejectUnauthorized: !pinned,
      // Servers are named by id, not address: the certificate must name a server of this cluster.
      checkServerIdentity: (_host, cert) => {
        const problem = serverProblem(security, new X509Certificate(cert.raw));
        return problem ? new Error(problem) : undefined;
      },
    });
    const timer = setTimeout(
      () => fail(`connecting to ${endpoint} timed out after ${timeout_ms} ms`, 'ETIMEDOUT'),
      timeout_ms,
    );
    socket.once('secureConnect', () => {
      if (pinned) {
        const problem = pinnedChainProblem(security, socket.getPeerCertificate(true));
        if (problem) {
          fail(`${endpoint} is not the cloud: ${problem}`);
          return;
        }
      }
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const proof =
        err.code?.startsWith('ERR_TLS') || /certificate|CERT|self.signed/i.test(err.message);
      fail(
        proof
          ? `${endpoint} is not the cloud: ${err.message}`
          : `cannot connect to ${endpoint}: ${err.message}`,
        err.code,
      );
    });
  });
}

function serverProblem(security: ClientTls, leaf: X509Certificate): string | null {
  const claimed = serverCertificateIdentity(leaf);
  if (!claimed)
    return `its certificate (${leaf.subject.replace(/\n/g, ', ')}) names no cloud server`;
  if (claimed.clusterId !== security.clusterId)
    return `it is a server of cluster ${claimed.clusterId}, not ${security.clusterId}`;
  if (security.expectServerId !== undefined && claimed.serverId !== security.expectServerId)
    return `it is server ${claimed.serverId}, expected server ${security.expectServerId}`;
  const fingerprint = certificateFingerprint(leaf);
  if (security.revoked?.has(fingerprint) || security.trust.revoked?.has(fingerprint))
    return `the certificate of server ${claimed.serverId} is revoked`;
  return null;
}

/** Pinned-CA mode: the chain must hold the pinned CA, and the leaf must be issued by it. */
function pinnedChainProblem(security: ClientTls, peer: PeerCertificate): string | null {
  if (security.trust.kind !== 'fingerprint') return null;
  if (!peer.raw) return 'it presented no certificate';
  const leaf = new X509Certificate(peer.raw);
  const issuer = (peer as { issuerCertificate?: PeerCertificate }).issuerCertificate;
  const ca = issuer?.raw ? new X509Certificate(issuer.raw) : null;
  if (!ca || certificateFingerprint(ca) !== security.trust.caFingerprint)
    return `its CA does not have the pinned fingerprint ${security.trust.caFingerprint}`;
  if (!isIssuedBy(leaf, ca)) return 'its certificate is not issued by the pinned CA';
  const validity = validityProblem(leaf) ?? validityProblem(ca);
  if (validity) return `its certificate: ${validity}`;
  return serverProblem(security, leaf);
}
