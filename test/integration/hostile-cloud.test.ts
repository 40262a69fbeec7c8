/**
 * Issue 10's attacks against three real server processes, each as its own test: forged server
 * messages (from a client key, and from a real member claiming another member's id), another
 * client's task, a server of another cloud, a certificate from another CA, an expired one, a
 * revoked server, and frames replayed from a capture. Each must be refused, the cloud must keep
 * one leader of a sane epoch, and a client working at the same time must lose nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CloudClient } from '../../src/client/cloud-client.js';
import { clockTerm, epochTerm, OWN_TERM_LEAD_MAX } from '../../src/core/epoch.js';
import { clientIdOf, newClientCredentials } from '../../src/client/cloud-trust.js';
import {
  certificateFingerprint,
  createClusterCa,
  issueServerCertificate,
  parseCertificates,
} from '../../src/identity/certificates.js';
import { LocalCluster } from '../../src/server/local-cluster.js';
import {
  attackLink,
  expectRefused,
  forgedServerMessages,
  memberCredentials,
} from './helpers/attacker.js';
import {
  TEST_TIMEOUT_MS,
  DEADLINE,
  SAMPLE_PAYLOAD,
  connectClient,
  eventually,
  fileChanges,
  socketEvents,
  runTasks,
  serversOf,
  startTestCluster,
  type TestCluster,
} from './helpers/cluster-fixture.js';

// Real processes on a shared, busy machine: generous per-test limits (nothing waits on them).
vi.setConfig({ testTimeout: TEST_TIMEOUT_MS, hookTimeout: TEST_TIMEOUT_MS });

/**
 * A sane epoch: its term is at most a few seconds of terms above the wall clock (terms are
 * bounded by the clock in ms, docs/ELECTION.md), nowhere near the end of the epoch space.
 */
function isSaneEpoch(epoch: number): boolean {
  return epoch > 0 && epochTerm(epoch) <= clockTerm(Date.now()) + OWN_TERM_LEAD_MAX;
}

let tc: TestCluster;
let victim: CloudClient;
let victimTasks = 0;

beforeAll(async () => {
  tc = await startTestCluster({ size: 3 });
  await tc.cluster.waitForLeader(DEADLINE.start_ms);
  victim = await connectClient(tc.cluster, 'victim');
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  victim?.close();
  await tc?.cleanup();
});

/**
 * Runs `attack` while the victim client keeps encrypting; then checks that the victim lost
 * nothing and the cloud has one agreed leader of a sane epoch.
 */
async function underAttack(attack: () => Promise<void>): Promise<void> {
  const prefix = `v${victimTasks++}`;
  const work = runTasks(victim, prefix, 4, 2);
  await attack();
  const outcomes = await work;
  expect(outcomes).toHaveLength(4);
  const { epoch } = await tc.cluster.waitForLeader(DEADLINE.start_ms);
  expect(isSaneEpoch(epoch), `epoch ${epoch}`).toBe(true);
  const statuses = await Promise.all(tc.cluster.members.map((m) => tc.cluster.status(m.id)));
  expect(statuses.filter((s) => s?.role === 'leader')).toHaveLength(1);
  expect(statuses.every((s) => s?.silent_for_ms === null)).toBe(true);
}

describe('forged server messages from a client key are refused', () => {
  for (const type of [
    'Coordinator',
    'Handover',
    'Leave',
    'Heartbeat',
    'FailureSimulation',
    'HistoryRemove',
  ]) {
    it(`${type} (largest epoch, claiming the leader's id)`, async () => {
      await underAttack(async () => {
        const { leader } = await tc.cluster.waitForLeader(DEADLINE.start_ms);
        const peers = tc.cluster.members.map((m) => m.id).filter((id) => id !== leader);
        const forged = forgedServerMessages(leader, peers)[type]!;
        for (const target of tc.cluster.members.map((m) => m.id)) {
          const link = attackLink(tc.cluster, target, await newClientCredentials('attacker'));
          try {
            for (let n = 0; n < 3; n++) expectRefused(await link.send(forged), 'not_a_member');
          } finally {
            link.close();
          }
        }
      });
    });
  }

  it('Coordinator without any certificate', async () => {
    await underAttack(async () => {
      const link = attackLink(tc.cluster, 1, null);
      try {
        expectRefused(
          await link.send(forgedServerMessages(2, [1, 3]).Coordinator!),
          'not_a_member',
        );
      } finally {
        link.close();
      }
    });
  });
});

describe('a member cannot speak for another member', () => {
  it("server 3's real certificate sending a Coordinator and a Heartbeat as server 2", async () => {
    await underAttack(async () => {
      const link = attackLink(tc.cluster, 1, memberCredentials(tc.dir, 3));
      try {
        const forged = forgedServerMessages(2, [1, 3]);
        expectRefused(await link.send(forged.Coordinator!), 'sender_mismatch');
        expectRefused(await link.send(forged.Heartbeat!), 'sender_mismatch');
        // A member's link carries server messages only.
        expectRefused(
          await link.send({ type: 'TaskStatusQuery', client_id: 'x', task_id: 'y' }),
          'not_allowed',
        );
      } finally {
        link.close();
      }
    });
  });
});

describe('a member naming a term far ahead of the clock (a buggy member)', () => {
  it('its own Coordinator at the largest epoch is refused whole: no server moves there', async () => {
    // Only this attack's warnings count (earlier tests in this file attack the same cloud).
    const log = join(tc.dir, 'logs', 'server-1.log');
    const logBefore_bytes = readFileSync(log).length;
    await underAttack(async () => {
      const link = attackLink(tc.cluster, 1, memberCredentials(tc.dir, 3));
      try {
        // Authenticated as server 3 and speaking for itself: past the sender policy, so no
        // error reply; the core drops it (its term is beyond our clock + 1 s).
        // Three at once (no reply comes: each send waits out its timeout). Only "no reply" is
        // expected: a link that failed to deliver them throws, instead of passing unsent.
        const coordinator = forgedServerMessages(3, [1, 2]).Coordinator!;
        const deliver = (): Promise<string> =>
          link.send(coordinator).then(
            (reply) => reply.type,
            (err: Error) => {
              if (/no reply/.test(err.message)) return 'no reply';
              throw err;
            },
          );
        expect(await Promise.all([1, 2, 3].map(deliver))).toEqual([
          'no reply',
          'no reply',
          'no reply',
        ]);
      } finally {
        link.close();
      }
    });
    const statuses = await Promise.all(tc.cluster.members.map((m) => tc.cluster.status(m.id)));
    for (const s of statuses) {
      expect(isSaneEpoch(s?.epoch ?? 0), `epoch ${s?.epoch}`).toBe(true);
      expect(s?.max_term).toBeLessThanOrEqual(clockTerm(Date.now()) + OWN_TERM_LEAD_MAX);
    }
    // The operator hears of it once, as a warning naming the member (not once per message).
    const warnings = (): string[] =>
      readFileSync(log)
        .subarray(logBefore_bytes)
        .toString('utf8')
        .split('\n')
        .filter((line) => / WARN .*refused a term beyond our clock/.test(line));
    expect(
      await eventually(() => warnings().length > 0, DEADLINE.progress_ms, [fileChanges(log)]),
    ).toBe(true);
    // At most one warning per member per 10 s: the three sent at once give one, unless the
    // link re-sent one after its timeout on a loaded machine (then 10 s or more apart).
    const lines = warnings();
    for (const line of lines) expect(line).toMatch(/from=3 message=Coordinator/);
    const times_ms = lines.map((line) => Date.parse(line.slice(0, 24)));
    for (let i = 1; i < times_ms.length; i++)
      expect(times_ms[i]! - times_ms[i - 1]!, lines.join('\n')).toBeGreaterThanOrEqual(9_900);
    expect(lines.length).toBeLessThan(3);
  });
});

describe("another client's task", () => {
  it('TaskStatusQuery and TaskAck under the victim id are refused; the victim loses nothing', async () => {
    const attacker = await newClientCredentials('attacker');
    await underAttack(async () => {
      for (const target of tc.cluster.members.map((m) => m.id)) {
        const link = attackLink(tc.cluster, target, attacker);
        try {
          for (let n = 0; n < 4; n++) {
            const task_id = `v${victimTasks - 1}-${n}`;
            expectRefused(
              await link.send({ type: 'TaskStatusQuery', client_id: victim.id, task_id }),
              'client_id_mismatch',
            );
            expectRefused(
              await link.send({ type: 'TaskAck', client_id: victim.id, task_id }),
              'client_id_mismatch',
            );
          }
        } finally {
          link.close();
        }
      }
    });
  });

  it("asking under one's own id for the victim's task finds nothing of it", async () => {
    const [done] = await runTasks(victim, 'mine', 1);
    const thief = await newClientCredentials('thief');
    const link = attackLink(tc.cluster, done!.serverId, thief);
    try {
      const reply = await link.sendOrSilence({
        type: 'TaskStatusQuery',
        client_id: clientIdOf(thief),
        task_id: done!.taskId,
      });
      // Whatever the server says about it, it is never the victim's result.
      expect(reply.type).not.toBe('TaskResponse');
      if (reply.type === 'TaskStatusResponse')
        expect((reply as { assignment: unknown }).assignment).toBeNull();
    } finally {
      link.close();
    }
  });
});

describe('servers that cannot prove membership', () => {
  it('a server of another cloud (its own CA) is refused, and a client refuses it as the cloud', async () => {
    const otherCa = await createClusterCa({ clusterId: 1 });
    const impostor = await issueServerCertificate({ ca: otherCa, clusterId: 1, serverId: 2 });
    await underAttack(async () => {
      const link = attackLink(tc.cluster, 1, impostor);
      try {
        await expect(link.send(forgedServerMessages(2, [1, 3]).Coordinator!)).rejects.toThrow();
      } finally {
        link.close();
      }
    });
    // The other way round: a client of this cloud dialing the impostor.
    const server = createServerWith(impostor);
    const port = await listen(server);
    try {
      await expect(
        CloudClient.connect({
          clientId: 'c',
          servers: [{ host: '127.0.0.1', port }],
          trust: tc.cluster.clientTrust,
          connectTimeout_ms: 3000,
        }),
      ).rejects.toThrow(/is not the cloud/);
    } finally {
      server.close();
    }
  });

  it('an expired certificate from the right CA is refused', async () => {
    const ca = {
      certPem: readFileSync(join(tc.dir, 'keys', 'ca.crt'), 'utf8'),
      keyPem: readFileSync(join(tc.dir, 'keys', 'ca.key'), 'utf8'),
    };
    const expired = await issueServerCertificate({
      ca,
      clusterId: 1,
      serverId: 2,
      now_ms: Date.now() - 10 * 24 * 3600_000,
      validity_ms: 24 * 3600_000,
    });
    await underAttack(async () => {
      const link = attackLink(tc.cluster, 1, expired);
      try {
        await expect(link.send(forgedServerMessages(2, [1, 3]).Heartbeat!)).rejects.toThrow();
      } finally {
        link.close();
      }
    });
  });

  it('frames replayed from a capture of a genuine client do nothing', async () => {
    // A recording proxy between a genuine client and server 1.
    const target = tc.cluster.member(1).address.split(':') as [string, string];
    const captured: Buffer[] = [];
    const proxy = createServer((inbound: Socket) => {
      const outbound = connect({ host: target[0], port: Number(target[1]) });
      inbound.on('data', (chunk: Buffer) => {
        captured.push(chunk);
        outbound.write(chunk);
      });
      outbound.on('data', (chunk: Buffer) => inbound.write(chunk));
      inbound.on('close', () => outbound.destroy());
      outbound.on('close', () => inbound.destroy());
      inbound.on('error', () => outbound.destroy());
      outbound.on('error', () => inbound.destroy());
    });
    const port = await listen(proxy);
    const before = await tc.cluster.status(1);
    try {
      const recorded = await CloudClient.connect({
        clientId: 'recorded',
        servers: [{ host: '127.0.0.1', port }],
        trust: tc.cluster.clientTrust,
        connectTimeout_ms: 20_000,
      });
      recorded.close();
      expect(captured.length).toBeGreaterThan(0);
      // Replay the whole capture on a fresh connection: the handshake cannot complete.
      const replay = connect({ host: target[0], port: Number(target[1]) });
      const answered: Buffer[] = [];
      replay.on('data', (chunk: Buffer) => answered.push(chunk));
      replay.on('error', () => undefined);
      replay.write(Buffer.concat(captured));
      const closed = await eventually(() => replay.destroyed || replay.readableEnded, 15_000, [
        socketEvents([replay]),
      ]);
      replay.destroy();
      expect(closed).toBe(true);
      // The server never took the replayed bytes as a message (no frame in clear came back).
      expect(Buffer.concat(answered).subarray(0, 2).toString('latin1')).not.toBe('CP');
      const after = await tc.cluster.status(1);
      expect(after?.epoch).toBe(before?.epoch);
    } finally {
      proxy.close();
    }
    await underAttack(async () => undefined);
  });
});

describe('a revoked server', () => {
  let rc: TestCluster | undefined;
  let restarted: LocalCluster | undefined;
  afterAll(async () => {
    await restarted?.stopAll(5000);
    await rc?.cleanup();
  });

  it(
    'is refused by the others, which keep one leader and serve clients',
    {
      timeout: 400_000,
    },
    async () => {
      rc = await startTestCluster({ size: 3 });
      await rc.cluster.stopAll(5000);
      const revoked = certificateFingerprint(
        parseCertificates(readFileSync(join(rc.dir, 'keys', 'server-3.crt'), 'utf8'), 's3')[0]!,
      );
      for (const id of [1, 2]) {
        const path = join(rc.dir, `server${id}.toml`);
        writeFileSync(
          path,
          readFileSync(path, 'utf8').replace(
            `key = "keys/server-${id}.key"`,
            `key = "keys/server-${id}.key"\nrevoked = ["${revoked}"]`,
          ),
        );
      }
      const cluster = LocalCluster.fromConfigs(
        [1, 2, 3].map((id) => join(rc!.dir, `server${id}.toml`)),
        join(rc.dir, 'logs2'),
      );
      restarted = cluster;
      await cluster.startAll();
      // Three processes booting at once take 45 s at a load of 35 on 2 cores: a generous cap.
      await cluster.waitForLeader(150_000, [1, 2]);
      // Server 3 never becomes a member: the others refuse its links.
      const link = attackLink(cluster, 1, memberCredentials(rc.dir, 3));
      try {
        await expect(link.send(forgedServerMessages(3, [1, 2]).Heartbeat!)).rejects.toThrow();
      } finally {
        link.close();
      }
      const agreed = await cluster.waitForLeader(DEADLINE.start_ms, [1, 2]);
      expect([1, 2]).toContain(agreed.leader);
      const s3 = await cluster.status(3, 5000);
      expect(s3?.leader_id === 1 || s3?.leader_id === 2).toBe(false);
      // Server 3 still holds a certificate of the cloud's CA and, alone, calls itself leader: a
      // client that does not list it as revoked may be served by it (docs/SECURITY.md). A client
      // that lists the fingerprint ([tls] revoked) refuses it, even when it knows its address.
      const trust = cluster.clientTrust;
      if (typeof trust !== 'object') throw new Error('the test cluster runs with TLS');
      const client = await CloudClient.connect({
        clientId: 'after-revoke',
        servers: serversOf(cluster),
        trust: { ...trust, revoked: new Set([revoked]) },
        taskDeadline_ms: 60_000,
        connectTimeout_ms: 20_000,
      });
      try {
        const result = await client.encrypt('t', SAMPLE_PAYLOAD);
        expect([1, 2]).toContain(result.serverId);
      } finally {
        client.close();
      }
    },
  );
});

/** A TLS server that presents `credentials` and says nothing: enough for a client's checks. */
function createServerWith(credentials: { certPem: string; keyPem: string }): TlsServer {
  return createTlsServer({ cert: credentials.certPem, key: credentials.keyPem }, (socket) =>
    socket.on('error', () => undefined),
  );
}

function listen(server: NetServer): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}
