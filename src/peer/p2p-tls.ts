/**
 * The P2P transport: TLS 1.3 (node:tls) with each agent presenting a self-signed certificate
 * made from the user's own Ed25519 identity key — the key the directory holds for that user.
 * Certificates are not checked against any CA: after the handshake each side reads the other's
 * certificate key and compares it with the key the directory (pinned in agent.sqlite) has for
 * the user it means to talk to (p2p-session.ts). TLS's CertificateVerify proves the peer holds
 * that key's private half over this very handshake, so a stranger in between can neither read
 * nor alter anything, and an agent that is not the named user is refused.
 *
 * `plaintext-benchmark-only` skips TLS: it exists only so `npm run bench:peer` can show the
 * cost of encryption side by side, and nothing but the benchmark asks for it by that name.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket, type TlsOptions } from 'node:tls';
import { privateKeyObject, type Identity } from '../identity/keys.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';

export type P2PTransportKind = 'tls' | 'plaintext-benchmark-only';

/** How an agent's connections are made: TLS with its credentials (always, but in the benchmark). */
export type P2PTransport =
  { kind: 'tls'; credentials: P2PCredentials } | { kind: 'plaintext-benchmark-only' };

export interface P2PCredentials {
  /** PEM certificate of the user's identity key (self-signed). */
  cert: string;
  /** PKCS#8 PEM of the identity key. */
  key: string;
}

/** The transport of that kind for this user (TLS: a certificate for the identity key). */
export async function p2pTransport(
  kind: P2PTransportKind,
  me: { username: string; keys: Identity },
): Promise<P2PTransport> {
  if (kind === 'plaintext-benchmark-only') return { kind };
  return { kind: 'tls', credentials: await p2pCredentials(me.username, me.keys) };
}

/** A certificate for the user's identity key; made once per agent run (it costs ~1 ms). */
export async function p2pCredentials(username: string, keys: Identity): Promise<P2PCredentials> {
  // Loaded on first use: the X.509 library takes about a second to load on a busy machine, and
  // most CLI commands never open a P2P connection.
  const { selfSignedCertificate } = await import('../identity/certificates.js');
  const made = await selfSignedCertificate({
    commonName: `cloudp2p peer ${username}`,
    privateKey: privateKeyObject(keys),
  });
  return { cert: made.certPem, key: made.keyPem };
}

/**
 * TLS 1.3 only; the peer must present a certificate (checked by key, not by chain: see the top
 * of this file). Dialers never offer a saved session, so every connection proves both keys.
 */
function commonOptions(credentials: P2PCredentials) {
  return {
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    cert: credentials.cert,
    key: credentials.key,
    rejectUnauthorized: false,
  } as const;
}

export function p2pServerOptions(
  credentials: P2PCredentials,
  handshakeTimeout_ms: number,
): TlsOptions {
  return {
    ...commonOptions(credentials),
    requestCert: true,
    handshakeTimeout: handshakeTimeout_ms,
  };
}

/** Opens a TLS (or, for the benchmark only, a plain TCP) connection within `timeout_ms`. */
export function dialP2P(
  host: string,
  port: number,
  transport: P2PTransport,
  timeout_ms: number,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket =
      transport.kind === 'tls'
        ? tlsConnect({ host, port, ...commonOptions(transport.credentials) })
        : netConnect({ host, port });
    const event = transport.kind === 'tls' ? 'secureConnect' : 'connect';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no ${transport.kind === 'tls' ? 'TLS handshake' : 'connection'} within ${timeout_ms} ms`,
        ),
      );
    }, timeout_ms);
    socket.once(event, () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

/** The raw 32-byte Ed25519 key of the peer's certificate, or null (none, or not Ed25519). */
export function peerCertificateKey(socket: Socket): Uint8Array | null {
  const tls = socket as TLSSocket;
  if (typeof tls.getPeerX509Certificate !== 'function') return null;
  try {
    const key = tls.getPeerX509Certificate()?.publicKey;
    if (!key || key.asymmetricKeyType !== 'ed25519') return null;
    const x = key.export({ format: 'jwk' }).x;
    return typeof x === 'string' ? new Uint8Array(Buffer.from(x, 'base64url')) : null;
  } catch {
    return null;
  }
}

/** Is the TLS connection's certificate key `expected`? (Plaintext: there is nothing to check.) */
export function certificateMatches(socket: Socket, expected: Uint8Array): boolean {
  const key = peerCertificateKey(socket);
  return key !== null && Buffer.from(key).equals(Buffer.from(expected));
}

export function unreachable(
  username: string,
  host: string,
  port: number,
  err: unknown,
): CloudP2PError {
  return new CloudP2PError(
    'peer_unreachable',
    `cannot reach ${username}'s agent at ${host}:${port}: ${errorMessage(err)}`,
    ExitCode.unavailable,
  );
}
