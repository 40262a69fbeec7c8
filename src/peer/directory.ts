/**
 * The directory as the agent uses it: DirectoryClient (signed requests, failover across
 * servers) plus a check of every answer (directory-answers.ts) and whole listings instead of
 * pages. Listings stop at `MAX_LISTED` items so a huge directory cannot exhaust the agent.
 */
import type { Identity } from '../identity/keys.js';
import type { Endpoint } from '../transport/endpoint.js';
import type { CloudTrust } from '../transport/tls.js';
import {
  checkGrant,
  checkHeartbeat,
  checkImage,
  checkOnlineUser,
  checkPage,
  checkRequest,
  checkUpdate,
  checkUser,
  BadDirectoryAnswer,
} from './directory-answers.js';
import {
  DirectoryClient,
  type HeartbeatReply,
  type WireGrant,
  type WireImage,
  type WireOnlineUser,
  type WireRequest,
  type WireUpdate,
  type WireUser,
} from './directory-client.js';

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
    return checkUser(await this.client.register(username, keys), 'the registration');
  }

  async login(
    username: string,
    keys: Identity,
    listen: { address: string; port: number },
  ): Promise<{ user_id: string } & HeartbeatReply> {
    const reply = await this.client.login(username, keys, listen);
    const checked = checkHeartbeat(reply, 'the sign-in');
    return { user_id: checked.presence.user_id, ...checked };
  }

  async heartbeat(): Promise<HeartbeatReply> {
    return checkHeartbeat(await this.client.heartbeat());
  }

  async logout(): Promise<void> {
    await this.client.logout();
  }

  async userById(user_id: string): Promise<WireUser> {
    const user = checkUser(await this.client.getUser({ user_id }));
    if (user.user_id !== user_id)
      throw new BadDirectoryAnswer('a user lookup', `user ${user.user_id} for ${user_id}`);
    return user;
  }

  async userByUsername(username: string): Promise<WireUser> {
    const user = checkUser(await this.client.getUser({ username }));
    if (user.username !== username)
      throw new BadDirectoryAnswer('a user lookup', `user ${user.username} for ${username}`);
    return user;
  }

  onlineUsers(): Promise<WireOnlineUser[]> {
    return this.everyPage(
      async (cursor) => this.client.listOnline({ limit: 500, ...cursor }),
      checkOnlineUser,
      'the online list',
    );
  }

  images(query: { owner_id?: string; online_only?: boolean } = {}): Promise<WireImage[]> {
    return this.everyPage(
      async (cursor) => this.client.listImages({ ...query, limit: 500, ...cursor }),
      checkImage,
      'the image list',
    );
  }

  async offerImage(offer: {
    image_id: string;
    title: string;
    preview: WireImage['preview'];
  }): Promise<WireImage> {
    return checkImage(await this.client.offerImage(offer), 'the image offer');
  }

  async createRequest(request: {
    owner_id: string;
    image_id: string;
    views: number;
    request_id: string;
  }): Promise<WireRequest> {
    return checkRequest(await this.client.createRequest(request));
  }

  async answerRequest(
    request_id: string,
    decision: 'accepted' | 'rejected',
  ): Promise<{ request: WireRequest; grant?: WireGrant }> {
    const answer = (await this.client.answerRequest(request_id, decision)) as unknown as Record<
      string,
      unknown
    >;
    const request = checkRequest(answer?.request, 'the answer');
    return answer.grant === undefined || answer.grant === null
      ? { request }
      : { request, grant: checkGrant(answer.grant, 'the answer') };
  }

  requests(
    role: 'owner' | 'requester',
    status?: 'pending' | 'accepted' | 'rejected',
  ): Promise<WireRequest[]> {
    return this.everyPage(
      async (cursor) =>
        this.client.listRequests({
          role,
          ...(status === undefined ? {} : { status }),
          limit: 500,
          ...cursor,
        }),
      (x) => checkRequest(x),
      'the request list',
    );
  }

  async setGrant(grant: {
    image_id: string;
    viewer_id: string;
    quota: number;
  }): Promise<WireGrant> {
    return checkGrant(await this.client.setGrant(grant));
  }

  async revokeGrant(grant: { image_id: string; viewer_id: string }): Promise<WireGrant> {
    return checkGrant(await this.client.revokeGrant(grant));
  }

  grants(role: 'owner' | 'viewer'): Promise<WireGrant[]> {
    return this.everyPage(
      async (cursor) => this.client.listGrants({ role, limit: 500, ...cursor }),
      (x) => checkGrant(x),
      'the grant list',
    );
  }

  /** Reports views used of a grant; returns the highest count the directory holds. */
  async recordViews(grant: {
    owner_id: string;
    image_id: string;
    consumed: number;
  }): Promise<number> {
    const answer = (await this.client.recordViews(grant)) as unknown as Record<string, unknown>;
    const consumed = answer?.consumed;
    if (
      typeof consumed !== 'number' ||
      !Number.isSafeInteger(consumed) ||
      consumed < 0 ||
      consumed > 1_000_000
    )
      throw new BadDirectoryAnswer('record_views', 'an invalid count');
    return consumed;
  }

  async takeUpdates(limit = 100): Promise<WireUpdate[]> {
    const updates = (await this.client.takeUpdates(limit)) as unknown;
    if (!Array.isArray(updates) || updates.length > 500)
      throw new BadDirectoryAnswer('take_updates', 'something that is not a list of updates');
    return updates.map(checkUpdate);
  }

  async ackUpdates(ids: number[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) await this.client.ackUpdates(ids.slice(i, i + 500));
  }

  private async everyPage<T>(
    fetch: (cursor: { cursor?: string }) => Promise<unknown>,
    item: (x: unknown) => T,
    what: string,
  ): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const raw: unknown = await fetch(cursor === null ? {} : { cursor });
      const page: { items: T[]; next_cursor: string | null } = checkPage(raw, item, what);
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor !== null && items.length < MAX_LISTED);
    return items;
  }
}
