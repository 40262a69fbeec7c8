/**
 * The ceiling node:tls itself puts on a TLS/plaintext ratio, measured beside our own figures in
 * the same run: two bare sockets on loopback in this process (TLS 1.3 with an Ed25519
 * certificate, as the agents and servers use; and plain TCP), no framing, no codec, no
 * application. The client asks for `chunk` bytes with an 8-byte request and waits for all of
 * them, until `total` bytes have come: the request/response shape of CopyFetch/CopyPart.
 *
 * If the bare sockets themselves stay under a target ratio, no change to our code can lift the
 * application's ratio above that ceiling in the same setup (both ends in one process, so one
 * thread encrypts and decrypts).
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

/** A bare TLS 1.3 link and a bare TCP link on loopback, each serving up to `maxChunk` bytes. */
export async function bareLinks(maxChunk: number): Promise<BareLink[]> {
  const payload = Buffer.alloc(maxChunk, 0x5a);
  const { certPem, keyPem } = await selfSignedCertificate({ commonName: 'bench' });
  const tlsServer = createTlsServer(
    { cert: certPem, key: keyPem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' },
    (socket) => serve(socket, payload),
  );
  const tcpServer = createTcpServer((socket) => serve(socket, payload));
  const links: BareLink[] = [];
  for (const [label, server] of [
    ['TLS', tlsServer],
    ['plaintext', tcpServer],
  ] as const) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const socket =
      label === 'TLS'
        ? tlsConnect({
            host: '127.0.0.1',
            port: address.port,
            minVersion: 'TLSv1.3',
            // The certificate is this bench's own, made a moment ago; nothing to verify.
            rejectUnauthorized: false,
          })
        : tcpConnect(address.port, '127.0.0.1');
    await once(socket, label === 'TLS' ? 'secureConnect' : 'connect');
    socket.setNoDelay(true);
    links.push({
      label,
      transfer: requester(socket),
      close: () => {
        socket.destroy();
        server.close();
      },
    });
  }
  return links;
}
