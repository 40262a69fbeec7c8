import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  certificateFingerprint,
  parseCertificates,
  createClusterCa,
  issueServerCertificate,
  selfSignedCertificate,
  type CertificateAndKey,
} from '../../../src/identity/certificates.js';
import { createCloudCodec, type CloudMessage } from '../../../src/protocol/cloud-protocol.js';
import { senderRefusal } from '../../../src/server/sender-policy.js';
import { MessageLink } from '../../../src/transport/message-link.js';
import {
  DEFAULT_BUDGETS,
  MessageServer,
  type Connection,
} from '../../../src/transport/message-server.js';
import { clientIdForKey, type ClientTls, type PeerIdentity } from '../../../src/transport/tls.js';

const codec = createCloudCodec();
const limits = { maxBodyBytes: 1 << 20, maxMetaBytes: 1 << 20 };
let ca: CertificateAndKey;
let server1: CertificateAndKey;
let server2: CertificateAndKey;
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

beforeAll(async () => {
  ca = await createClusterCa({ clusterId: 1 });
  server1 = await issueServerCertificate({ ca, clusterId: 1, serverId: 1 });
  server2 = await issueServerCertificate({ ca, clusterId: 1, serverId: 2 });
});

/** Server 1 listening with TLS; records who each message came from. */
async function listen(revoked: string[] = []): Promise<{ port: number; seen: PeerIdentity[] }> {
  const seen: PeerIdentity[] = [];
  const server = new MessageServer<CloudMessage>(
    {
      codec,
      clusterId: 1,
      limits,
      security: {
        kind: 'tls',
        clusterId: 1,
        serverId: 1,
        credentials: server1,
        trustPem: ca.certPem,
        revoked: new Set(revoked),
        peerIds: new Set([2]),
      },
      budgets: DEFAULT_BUDGETS,
      makeError: (code, message) => ({ type: 'Error', code, message }),
    },
    {
      onMessage(connection: Connection<CloudMessage>, decoded) {
        seen.push(connection.peer);
        connection.send(
          { type: 'Error', code: 'seen', message: connection.peer.kind },
          {
            requestId: decoded.requestId,
          },
        );
      },
    },
  );
  const { port } = await server.listen('127.0.0.1', 0);
  cleanup.push(() => server.close());
  return { port, seen };
}

function link(port: number, security: Partial<ClientTls>): MessageLink<CloudMessage> {
  const l = new MessageLink<CloudMessage>(
    {
      host: '127.0.0.1',
      port,
      codec,
      clusterId: 1,
      limits,
      security: {
        kind: 'tls',
        clusterId: 1,
        trust: { kind: 'ca', caPem: ca.certPem },
        credentials: null,
        ...security,
      },
      connectTimeout_ms: 3000,
    },
    { onMessage: () => undefined },
  );
  cleanup.push(() => l.close());
  return l;
}

const hello: CloudMessage = { type: 'Hello', client_id: 'x' };

describe('TLS links', () => {
  it('a server certificate of a configured peer makes a member; a self-signed one a client by key', async () => {
    const { port } = await listen();
    const asMember = await link(port, { credentials: server2, expectServerId: 1 }).request(
      hello,
      5000,
    );
    expect(asMember.message).toMatchObject({ message: 'server' });
    const client = await selfSignedCertificate({ commonName: 'c' });
    const asClient = await link(port, { credentials: client }).request(hello, 5000);
    expect(asClient.message).toMatchObject({ message: 'client' });
    const anonymous = await link(port, {}).request(hello, 5000);
    expect(anonymous.message).toMatchObject({ message: 'anonymous' });
  });

  it('a revoked member, another CA and the wrong server id are refused', async () => {
    const { port, seen } = await listen();
    const other = await createClusterCa({ clusterId: 1 });
    const impostor = await issueServerCertificate({ ca: other, clusterId: 1, serverId: 2 });
    await expect(link(port, { credentials: impostor }).request(hello, 3000)).rejects.toThrow();
    expect(seen).toHaveLength(0);
    // The dialer side: expecting server 2 but reaching server 1 is refused before anything is sent.
    await expect(link(port, { expectServerId: 2 }).request(hello, 3000)).rejects.toThrow();
    const revoked = await listen([
      certificateFingerprint(parseCertificates(server2.certPem, 'server 2')[0]!),
    ]);
    await expect(
      link(revoked.port, { credentials: server2, expectServerId: 1 }).request(hello, 3000),
    ).rejects.toThrow();
    expect(revoked.seen).toHaveLength(0);
  });

  it('a client pinning the CA fingerprint accepts the real cloud and refuses another', async () => {
    const { port } = await listen();
    const { caFingerprintOf } = await import('../../../src/client/cloud-trust.js');
    const pinned = link(port, {
      trust: { kind: 'fingerprint', caFingerprint: caFingerprintOf(ca.certPem) },
    });
    expect((await pinned.request(hello, 5000)).message).toMatchObject({ message: 'anonymous' });
    const wrong = link(port, { trust: { kind: 'fingerprint', caFingerprint: 'ab'.repeat(32) } });
    await expect(wrong.request(hello, 3000)).rejects.toThrow();
  });
});

describe('sender policy', () => {
  const member: PeerIdentity = { kind: 'server', serverId: 2, certificate: 'x' };
  const client: PeerIdentity = {
    kind: 'client',
    key: 'a'.repeat(64),
    clientId: clientIdForKey('a'.repeat(64)),
  };
  const leave = (from: number): CloudMessage => ({ type: 'Leave', from, epoch: 2002 });
  const ack = (client_id: string): CloudMessage => ({ type: 'TaskAck', client_id, task_id: 't' });

  it('a member speaks only for itself, and only server messages', () => {
    expect(senderRefusal(member, leave(2))).toBeNull();
    expect(senderRefusal(member, leave(3))?.code).toBe('sender_mismatch');
    expect(senderRefusal(member, ack('x'))?.code).toBe('not_allowed');
  });

  it('a client sends client messages only, under the id of its key', () => {
    expect(senderRefusal(client, leave(2))?.code).toBe('not_a_member');
    expect(senderRefusal(client, ack(client.kind === 'client' ? client.clientId : ''))).toBeNull();
    expect(senderRefusal(client, ack('someone-else'))?.code).toBe('client_id_mismatch');
    expect(senderRefusal({ kind: 'anonymous' }, ack('x'))?.code).toBe('not_allowed');
    expect(senderRefusal({ kind: 'anonymous' }, { type: 'Hello', client_id: 'x' })).toBeNull();
  });
});
