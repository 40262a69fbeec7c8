/**
 * An attacker's tools against a real cloud: a link that sends hand-made messages under any
 * certificate, and forged server messages of every kind the issue reproduced.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { MAX_TERM } from '../../../src/core/epoch.js';
import type { Message } from '../../../src/core/messages.js';
import { createCloudCodec, type CloudMessage } from '../../../src/protocol/cloud-protocol.js';
import type { LocalCluster } from '../../../src/server/local-cluster.js';
import { MessageLink } from '../../../src/transport/message-link.js';
import type { TlsCredentials } from '../../../src/transport/tls.js';
import { DEADLINE, clientSecurityOf } from './cluster-fixture.js';

/** The keys `cluster init` made for a generated test cluster (a real member's credentials). */
export function memberCredentials(dir: string, id: number): TlsCredentials {
  return {
    certPem: readFileSync(join(dir, 'keys', `server-${id}.crt`), 'utf8'),
    keyPem: readFileSync(join(dir, 'keys', `server-${id}.key`), 'utf8'),
  };
}

export interface AttackLink {
  /** Sends `message` and returns the server's answer (an Error when refused). */
  send(message: CloudMessage, epoch?: number): Promise<CloudMessage>;
  /** Like send, but a server that says nothing within 3 s answers `{ type: 'Silence' }`. */
  sendOrSilence(message: CloudMessage): Promise<CloudMessage | { type: 'Silence' }>;
  close(): void;
}

/** A link to server `id` that proves `credentials` (none: anonymous TLS). */
export function attackLink(
  cluster: LocalCluster,
  id: number,
  credentials: TlsCredentials | null,
): AttackLink {
  const [host, port] = cluster.member(id).address.split(':') as [string, string];
  const link = new MessageLink<CloudMessage>(
    {
      host,
      port: Number(port),
      codec: createCloudCodec(),
      clusterId: 1,
      limits: { maxBodyBytes: 1 << 20, maxMetaBytes: 1 << 20 },
      security: clientSecurityOf(cluster, credentials),
      // A busy CI machine can take seconds for a TLS handshake: an attack that never got
      // connected proves nothing (refusals still come at once).
      connectTimeout_ms: DEADLINE.progress_ms,
    },
    { onMessage: () => undefined },
  );
  return {
    send: async (message, epoch = 'epoch' in message ? message.epoch : 0) =>
      (await link.request(message, 10_000, { epoch })).message,
    sendOrSilence: async (message) => {
      try {
        return (await link.request(message, 3000)).message;
      } catch (err) {
        if (/no reply/.test((err as Error).message)) return { type: 'Silence' };
        throw err;
      }
    },
    close: () => link.close(),
  };
}

/** Expects a refusal with `code`. */
export function expectRefused(reply: CloudMessage, code: string): void {
  expect(reply.type).toBe('Error');
  expect((reply as { code: string }).code).toBe(code);
}

const load = {
  score: 0,
  cpu_pct: 0,
  memory_used_pct: 0,
  load_average: null,
  active_tasks: 0,
  queue_length: 0,
  capacity: 100,
};
const history = { seq: 1_000_000, digest: 0, size: 0 };

/** About the largest epoch the protocol allows (term * 1000 + id): the attack that exhausted the cloud. */
export function largestEpoch(from: number): number {
  return MAX_TERM * 1000 + from;
}

/** Every forged server message of the issue, claiming to come from `from`. */
export function forgedServerMessages(from: number, peers: number[]): Record<string, Message> {
  const LARGEST_EPOCH = largestEpoch(from);
  return {
    Coordinator: {
      type: 'Coordinator',
      from,
      epoch: LARGEST_EPOCH,
      max_term: MAX_TERM,
      reason: 'election',
      successors: peers,
      history,
    },
    Handover: { type: 'Handover', from, epoch: LARGEST_EPOCH, to: from },
    Leave: { type: 'Leave', from, epoch: LARGEST_EPOCH },
    Heartbeat: {
      type: 'Heartbeat',
      from,
      epoch: LARGEST_EPOCH,
      leader_id: from,
      role: 'leader',
      load,
      synced: true,
      history,
      successors: peers,
      members: [],
    },
    FailureSimulation: {
      type: 'FailureSimulation',
      from,
      epoch: LARGEST_EPOCH,
      target: peers[0] ?? from,
      duration_ms: 3_600_000,
    },
    HistoryRemove: {
      type: 'HistoryRemove',
      from,
      epoch: LARGEST_EPOCH,
      seq: null,
      client_id: 'victim',
      task_id: 'future-task',
    },
  };
}
