/**
 * The ceiling node:tls itself puts on a TLS/plaintext ratio, measured beside our own figures in
 * the same run: two bare sockets on loopback (TLS 1.3 with an Ed25519 certificate, as the
 * agents and servers use; and plain TCP), no framing, no codec, no application; both ends in
 * this process (`bareLinks`), or the clients in another (`bareServers` here, `bareClients`
 * there). The client asks for `chunk` bytes with an 8-byte request and waits for all of
 * them, until `total` bytes have come: the request/response shape of CopyFetch/CopyPart.
 *
 * If the bare sockets themselves stay under a target ratio, no change to our code can lift the
 * application's ratio above that ceiling in the same setup (with both ends in one process, one
 * thread encrypts and decrypts every byte; in two processes the two halves overlap).
 */
import { once } from 'node:events';
import { createServer as createTcpServer, connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { selfSignedCertificate } from '../src/identity/certificates.js';

export interface BareLink {
  label: 'TLS' | 'plaintext';
  /** One transfer of `total` bytes in `chunk`-byte requests; milliseconds. */
  transfer(total: number, chunk: number): Promise<number>;
  close(): void;
}

/** Answers each 8-byte request (a length) with that many bytes. */
function serve(socket: Socket, payload: Buffer): void {
  let pending = Buffer.alloc(0);
  socket.on('data', (data: Buffer) => {
    pending = Buffer.concat([pending, data]);
    while (pending.length >= 8) {
      const length = Number(pending.readBigUInt64BE(0));
      pending = pending.subarray(8);
      socket.write(payload.subarray(0, length));
    }
  });
  socket.on('error', () => undefined);
}

function requester(socket: Socket): BareLink['transfer'] {
  let waiting: { left: number; done: () => void } | null = null;
  socket.on('data', (data: Buffer) => {
    if (!waiting) return;
    waiting.left -= data.length;
    if (waiting.left <= 0) {
      const { done } = waiting;
      waiting = null;
      done();
    }
  });
  return async (total, chunk) => {
    const started = performance.now();
    for (let offset = 0; offset < total; offset += chunk) {
      const length = Math.min(chunk, total - offset);
      await new Promise<void>((done) => {
        waiting = { left: length, done };
        const request = Buffer.alloc(8);
        request.writeBigUInt64BE(BigInt(length));
        socket.write(request);
      });
    }
    return performance.now() - started;
  };
}

export type BareLabel = BareLink['label'];

/** The two listeners (TLS 1.3 and plain TCP) on loopback, each serving up to `maxChunk` bytes. */
export async function bareServers(
  maxChunk: number,
  host = '127.0.0.1',
): Promise<{ ports: Record<BareLabel, number>; close(): void }> {
  const payload = Buffer.alloc(maxChunk, 0x5a);
  const { certPem, keyPem } = await selfSignedCertificate({ commonName: 'bench' });
  const servers = {
    TLS: createTlsServer(
      { cert: certPem, key: keyPem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' },
      (socket) => serve(socket, payload),
    ),
    plaintext: createTcpServer((socket) => serve(socket, payload)),
  };
  const ports = { TLS: 0, plaintext: 0 };
  for (const label of ['TLS', 'plaintext'] as const) {
    const server = servers[label];
    server.listen(0, host);
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    ports[label] = address.port;
  }
  return {
    ports,
    close: () => {
      servers.TLS.close();
      servers.plaintext.close();
    },
  };
}

/** A client link to each of `bareServers`' listeners (in this process or another). */
export async function bareClients(
  ports: Record<BareLabel, number>,
  host = '127.0.0.1',
): Promise<BareLink[]> {
  const links: BareLink[] = [];
  for (const label of ['TLS', 'plaintext'] as const) {
    const socket =
      label === 'TLS'
        ? tlsConnect({
            host,
            port: ports.TLS,
            minVersion: 'TLSv1.3',
            // The certificate is this bench's own, made a moment ago; nothing to verify.
            rejectUnauthorized: false,
          })
        : tcpConnect(ports.plaintext, host);
    await once(socket, label === 'TLS' ? 'secureConnect' : 'connect');
    socket.setNoDelay(true);
    links.push({ label, transfer: requester(socket), close: () => socket.destroy() });
  }
  return links;
}

/** A bare TLS 1.3 link and a bare TCP link on loopback, both ends in this process. */
export async function bareLinks(maxChunk: number): Promise<BareLink[]> {
  const servers = await bareServers(maxChunk);
  const links = await bareClients(servers.ports);
  return links.map((link, i) => ({
    ...link,
    close: () => {
      link.close();
      if (i === links.length - 1) servers.close();
    },
  }));
}
