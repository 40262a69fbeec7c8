/**
 * Other users who are online now (use case 4): the directory's online list (reused for a
 * moment, so a burst of deliveries asks once), where each user's agent listens, and what they
 * offer — the list of images from the directory, the previews from their agent directly (P2P,
 * checked, a few kept in memory).
 */
import { CloudP2PError, ExitCode } from '../util/errors.js';
import type { PeerView, PreviewView } from './api-types.js';
import type { KeyBook, OnlinePeer } from './context.js';
import type { WireOnlineUser } from './directory-client.js';
import type { PeerDirectory } from './directory.js';
import { checkPreview } from './images.js';
import type { P2PNode } from './p2p-node.js';
import type { PeerSession } from './p2p-session.js';

/** How long the online list is reused before asking the directory again. */
export const ONLINE_LIST_REUSED_MS = 2000;
const MAX_PREVIEW_CACHE = 64;

export interface OnlinePeersOptions {
  userId: string;
  directory: PeerDirectory;
  keys: KeyBook;
  p2p: P2PNode;
  /** The clock for reusing the online list (tests pass their own). */
  now_ms?: () => number;
}

export class OnlinePeers {
  private onlineCache: { at_ms: number; users: Promise<WireOnlineUser[]> } | null = null;
  private readonly previewCache = new Map<string, Uint8Array>();
  private readonly now_ms: () => number;

  constructor(private readonly options: OnlinePeersOptions) {
    this.now_ms = options.now_ms ?? Date.now;
  }

  private users(): Promise<WireOnlineUser[]> {
    const now = this.now_ms();
    if (!this.onlineCache || now - this.onlineCache.at_ms > ONLINE_LIST_REUSED_MS) {
      const users = this.options.directory.onlineUsers();
      this.onlineCache = { at_ms: now, users };
      users.catch(() => {
        if (this.onlineCache?.users === users) this.onlineCache = null;
      });
    }
    return this.onlineCache.users;
  }

  /** The user's agent address if they are online now (their key checked and pinned), else null. */
  async find(userId: string): Promise<OnlinePeer | null> {
    const entry = (await this.users()).find((user) => user.user_id === userId);
    if (!entry) return null;
    return { ...this.options.keys.check(entry), address: entry.address, port: entry.port };
  }

  /** Use case 4: online users and what they offer (yourself excluded), asked afresh. */
  async list(): Promise<PeerView[]> {
    const { directory, userId } = this.options;
    const [users, images] = await Promise.all([
      directory.onlineUsers(),
      directory.images({ online_only: true }),
    ]);
    return users
      .filter((user) => user.user_id !== userId)
      .map((user) => ({
        user_id: user.user_id,
        username: user.username,
        address: user.address,
        port: user.port,
        last_seen_at_ms: user.last_seen_at_ms,
        images: images
          .filter((image) => image.owner_id === user.user_id)
          .map((image) => ({
            image_id: image.image_id,
            title: image.title,
            width: image.preview.width,
            height: image.preview.height,
            media_type: image.preview.media_type,
            size_bytes: image.preview.size_bytes,
          })),
      }));
  }

  /** Use case 4: the previews `username` offers, asked from their agent directly. */
  async previews(username: string): Promise<PreviewView[]> {
    const session = await this.sessionTo(username);
    const reply = (await session.request({ type: 'PreviewListRequest' })).message;
    if (reply.type !== 'PreviewList')
      throw new CloudP2PError('peer_bad_reply', `${username} answered ${reply.type}`);
    return reply.images.map((image) => ({ owner: username, ...image }));
  }

  /** One preview JPEG from `username`'s agent (checked: a JPEG within the limits). */
  async preview(username: string, imageId: string): Promise<Uint8Array> {
    const cacheKey = `${username}/${imageId}`;
    const cached = this.previewCache.get(cacheKey);
    if (cached) return cached;
    const session = await this.sessionTo(username);
    const reply = await session.request({ type: 'PreviewRequest', image_id: imageId });
    if (reply.message.type !== 'Preview' || reply.message.image_id !== imageId)
      throw new CloudP2PError('peer_bad_reply', `${username} answered ${reply.message.type}`);
    await checkPreview(reply.binary, reply.message);
    if (this.previewCache.size >= MAX_PREVIEW_CACHE)
      this.previewCache.delete(this.previewCache.keys().next().value as string);
    this.previewCache.set(cacheKey, reply.binary);
    return reply.binary;
  }

  private async sessionTo(username: string): Promise<PeerSession> {
    const user = await this.options.keys.byUsername(username);
    if (user.user_id === this.options.userId)
      throw new CloudP2PError(
        'invalid_argument',
        'that is you; see your images with `cloudp2p peer images --own`',
        ExitCode.usage,
      );
    const peer = await this.find(user.user_id);
    if (!peer)
      throw new CloudP2PError(
        'peer_offline',
        `${username} is not online; previews come straight from the owner's agent`,
        ExitCode.unavailable,
      );
    return this.options.p2p.connect(peer);
  }
}
