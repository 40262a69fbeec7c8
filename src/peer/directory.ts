/**
 * The directory as the agent uses it: DirectoryClient (signed requests, failover across
 * servers, every answer checked against its op's schema) plus whole listings instead of pages.
 * Listings stop at `MAX_LISTED` items so a huge directory cannot exhaust the agent.
 */
import { CloudP2PError } from '../util/errors.js';
import type { Identity } from '../identity/keys.js';
import type { OpAnswer, Page } from '../protocol/directory-ops.js';
import type { Endpoint } from '../transport/endpoint.js';
import type { CloudTrust } from '../transport/tls.js';
import {
  BadDirectoryAnswer,
  DirectoryClient,
  type HeartbeatReply,
  type WireGrant,
  type WireImage,
  type WireOnlineUser,
  type WireRequest,
  type WireUpdate,
  type WireUser,
} from './directory-client.js';

/** The directory's answer to consume_view: whether this view was granted, and the grant after it. */
export type ViewAtDirectory = OpAnswer<'consume_view'>;

const MAX_LISTED = 5000;

export class PeerDirectory {
  readonly client: DirectoryClient;

  constructor(options: {
    servers: Endpoint[];
    clusterId: number;
    requestTimeout_ms?: number;
    /** The cloud's CA (default: resolveCloudTrust() on first use). */
    trust?: CloudTrust;
  }) {
    this.client = new DirectoryClient({
      servers: options.servers,
      clusterId: options.clusterId,
      requestTimeout_ms: options.requestTimeout_ms ?? 3000,
      ...(options.trust ? { trust: options.trust } : {}),
    });
  }

  actAs(userId: string, keys: Identity): void {
    this.client.actAs(userId, keys);
  }

  close(): void {
    this.client.close();
  }

  async register(username: string, keys: Identity): Promise<WireUser> {
    return this.client.register(username, keys);
  }

  async login(
    username: string,
    keys: Identity,
    listen: { address: string; port: number },
  ): Promise<{ user_id: string } & HeartbeatReply> {
    const reply = await this.client.login(username, keys, listen);
    return { ...reply, user_id: reply.presence.user_id };
  }

  async heartbeat(): Promise<HeartbeatReply> {
    return this.client.call('heartbeat', {});
  }

  async logout(): Promise<void> {
    await this.client.call('logout', {});
  }

  async userById(user_id: string): Promise<WireUser> {
    const user = await this.client.call('get_user', { user_id });
    if (user.user_id !== user_id)
      throw new BadDirectoryAnswer('a user lookup', `user ${user.user_id} for ${user_id}`);
    return user;
  }

  async userByUsername(username: string): Promise<WireUser> {
    const user = await this.client.call('get_user', { username });
    if (user.username !== username)
      throw new BadDirectoryAnswer('a user lookup', `user ${user.username} for ${username}`);
    return user;
  }

  onlineUsers(): Promise<WireOnlineUser[]> {
    return this.everyPage((cursor) => this.client.call('list_online', { limit: 500, ...cursor }));
  }

  images(query: { owner_id?: string; online_only?: boolean } = {}): Promise<WireImage[]> {
    return this.everyPage((cursor) =>
      this.client.call('list_images', { ...query, limit: 500, ...cursor }),
    );
  }

  async offerImage(offer: {
    image_id: string;
    title: string;
    preview: WireImage['preview'];
  }): Promise<WireImage> {
    return this.client.call('offer_image', offer);
  }

  /** Stops offering an image; true if the directory listed it, false if it already did not. */
  async withdrawImage(imageId: string): Promise<boolean> {
    try {
      await this.client.call('withdraw_image', { image_id: imageId });
      return true;
    } catch (err) {
      if (err instanceof CloudP2PError && err.code === 'not_found') return false;
      throw err;
    }
  }

  async createRequest(request: {
    owner_id: string;
    image_id: string;
    views: number;
    request_id: string;
  }): Promise<WireRequest> {
    return this.client.call('create_request', request);
  }

  async answerRequest(
    request_id: string,
    decision: 'accepted' | 'rejected',
  ): Promise<{ request: WireRequest; grant?: WireGrant }> {
    return this.client.call('answer_request', { request_id, decision });
  }

  requests(
    role: 'owner' | 'requester',
    status?: 'pending' | 'accepted' | 'rejected',
  ): Promise<WireRequest[]> {
    return this.everyPage((cursor) =>
      this.client.call('list_requests', { role, status, limit: 500, ...cursor }),
    );
  }

  /**
   * Sets a viewer's quota. With `expected_version` (0: no grant yet) the directory applies it
   * only from that version, so a change whose answer was lost cannot land later over a newer one.
   */
  async setGrant(grant: {
    image_id: string;
    viewer_id: string;
    quota: number;
    expected_version?: number;
  }): Promise<WireGrant> {
    return this.client.call('set_grant', grant);
  }

  async revokeGrant(grant: {
    image_id: string;
    viewer_id: string;
    expected_version?: number;
  }): Promise<WireGrant> {
    return this.client.call('revoke_grant', grant);
  }

  /** A grant as the directory holds it now (for its owner or viewer), or null. */
  async grant(key: {
    owner_id: string;
    image_id: string;
    viewer_id: string;
  }): Promise<WireGrant | null> {
    return (await this.client.call('get_grant', key)).grant;
  }

  grants(role: 'owner' | 'viewer'): Promise<WireGrant[]> {
    return this.everyPage((cursor) =>
      this.client.call('list_grants', { role, limit: 500, ...cursor }),
    );
  }

  /**
   * Uses one view at the directory, before the image is shown (the count's truth is there).
   * `view_id` names this view: asking again with it never uses a second view.
   */
  consumeView(view: {
    owner_id: string;
    image_id: string;
    view_id: string;
  }): Promise<ViewAtDirectory> {
    return this.client.call('consume_view', view);
  }

  /** Reports views used of a grant; returns the highest count the directory holds. */
  async recordViews(grant: {
    owner_id: string;
    image_id: string;
    consumed: number;
  }): Promise<number> {
    return (await this.client.call('record_views', grant)).consumed;
  }

  async takeUpdates(limit = 100): Promise<WireUpdate[]> {
    return this.client.call('take_updates', { limit });
  }

  async ackUpdates(ids: number[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 500)
      await this.client.call('ack_updates', { update_ids: ids.slice(i, i + 500) });
  }

  private async everyPage<T>(
    fetch: (cursor: { cursor?: string }) => Promise<Page<T>>,
  ): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const page: Page<T> = await fetch(cursor === null ? {} : { cursor });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor !== null && items.length < MAX_LISTED);
    return items;
  }
}
