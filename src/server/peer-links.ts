/**
 * This server's outgoing links to its peers (one MessageLink each, TLS with the peer's own
 * certificate expected), and the re-dial of links that went quiet.
 *
 * A link we keep sending to but have not heard from for a failure timeout may be stuck in
 * TCP retransmission back-off (a partition that dropped packets): `refreshQuiet()` dials it
 * afresh, at most once per failure timeout, so a healed network carries heartbeats again
 * within a second or two. Links we are not using (follower to follower) are left alone.
 */
import type { Message } from '../core/messages.js';
import type { MessageCodec } from '../protocol/codec.js';
import type { CloudMessage } from '../protocol/cloud-protocol.js';
import type { FrameLimits } from '../protocol/frame.js';
import { MessageLink } from '../transport/message-link.js';
import type { ClientSecurity, ServerSecurity } from '../transport/tls.js';
import type { Logger } from '../util/log.js';
import type { ServerConfig } from './config.js';

export interface PeerLinksOptions {
  config: ServerConfig;
  codec: MessageCodec<CloudMessage>;
  limits: FrameLimits;
  security: ServerSecurity;
  log: Logger;
  /** The runtime's monotonic clock, in ms. */
  now(): number;
}

export class PeerLinks {
  private readonly links = new Map<number, MessageLink<CloudMessage>>();
  private readonly heardAt = new Map<number, number>();
  private readonly resetAt = new Map<number, number>();
  private readonly sentAt = new Map<number, number>();
  private readonly started_ms: number;

  constructor(private readonly options: PeerLinksOptions) {
    const { config, codec, limits, security, log } = options;
    this.started_ms = options.now();
    for (const peer of config.peers) {
      const link = new MessageLink<CloudMessage>(
        {
          host: peer.address.host,
          port: peer.address.port,
          codec,
          clusterId: config.cluster_id,
          limits,
          security: peerLinkSecurity(security, peer.id),
          connectTimeout_ms: Math.max(100, config.election.failure_timeout_ms),
          maxBackoff_ms: Math.max(100, config.election.heartbeat_interval_ms),
          maxQueuedMessages: 256,
        },
        {
          // Peers answer over their own links to us; anything arriving here is unexpected.
          onMessage: (decoded) =>
            log.debug('unexpected message on an outgoing link', {
              peer: peer.id,
              type: decoded.message.type,
            }),
          onBadMessage: (detail) =>
            log.warn('peer sent an unreadable reply', { peer: peer.id, detail }),
        },
      );
      this.links.set(peer.id, link);
    }
  }

  connectAll(): void {
    for (const link of this.links.values()) link.connect();
  }

  send(peer: number, message: Message): void {
    const epoch = 'epoch' in message ? message.epoch : 0;
    this.links.get(peer)?.send(message, { epoch });
    this.sentAt.set(peer, this.options.now());
  }

  /** A message from this peer arrived (on its link to us). */
  heardFrom(peer: number): void {
    this.heardAt.set(peer, this.options.now());
  }

  /** Re-dials the links we send on but have not heard back from for a failure timeout. */
  refreshQuiet(): void {
    const now = this.options.now();
    const timeout_ms = this.options.config.election.failure_timeout_ms;
    for (const [id, link] of this.links) {
      const heard = this.heardAt.get(id) ?? this.started_ms;
      const reset = this.resetAt.get(id) ?? this.started_ms;
      const sent = this.sentAt.get(id) ?? -Infinity;
      if (now - heard < timeout_ms || now - reset < timeout_ms || now - sent > timeout_ms) continue;
      this.resetAt.set(id, now);
      link.reset('no message from this peer for a failure timeout');
    }
  }

  /** Drops every link (they dial again on the next send). */
  resetAll(why: string): void {
    for (const link of this.links.values()) link.reset(why);
  }

  closeAll(): void {
    for (const link of this.links.values()) link.close();
  }
}

/** A server dials a peer with its own certificate and accepts only that peer's. */
function peerLinkSecurity(security: ServerSecurity, peerId: number): ClientSecurity {
  if (security.kind !== 'tls') return security;
  return {
    kind: 'tls',
    clusterId: security.clusterId,
    trust: { kind: 'ca', caPem: security.trustPem },
    credentials: security.credentials,
    expectServerId: peerId,
    revoked: security.revoked,
  };
}
