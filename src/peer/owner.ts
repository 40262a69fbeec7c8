/**
 * The owner's side of sharing: encrypting an image through the cloud and offering it, answering
 * requests, granting, changing and revoking views, building each viewer's copy (sealed to that
 * viewer, rights signed, hidden by the cloud), delivering copies and signed rights updates when
 * the viewer is online, and serving previews and copy chunks to authenticated peers.
 */
import { randomBytes } from 'node:crypto';
import { open as openFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { sign } from '../identity/keys.js';
import { toHex } from '../protocol/directory-protocol.js';
import { PEER_LIMITS, type PeerMessage } from '../protocol/peer-protocol.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { CopyOutRow, OwnImageRow } from './agent-db.js';
import type {
  AnswerResult,
  Delivery,
  EncryptResult,
  GrantView,
  OwnImageView,
} from './api-types.js';
import { notFound, requestView, type AgentContext } from './context.js';
import { buildCopyContainer, checkCloudResult, rightsUpdateBytes, sha256Hex } from './copies.js';
import { readFileLimited, writeFileAtomic } from './data-dir.js';
import type { WireGrant } from './directory-client.js';
import { checkShareableImage, makePreview, MAX_SHARED_IMAGE_BYTES } from './images.js';
import { PeerRefusal, type PeerSession, type Reply } from './p2p-session.js';
import type { HiddenMediaType } from '../stego/index.js';

/** How long an owner waits for a viewer to pull a whole copy. */
const DELIVERY_TIMEOUT_MS = 120_000;
const TITLE_PATTERN = /^[^\p{Cc}]{1,200}$/u;

export function checkTitle(title: unknown): string {
  if (typeof title !== 'string' || !TITLE_PATTERN.test(title) || title.trim() === '')
    throw new CloudP2PError(
      'invalid_argument',
      'the title must be 1-200 characters without control characters',
      ExitCode.usage,
    );
  return title;
}

function newImageId(): string {
  // 'i' + 11 base-36 characters: ~57 bits, valid for the directory and the stego format.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let id = 'i';
  for (const byte of randomBytes(11)) id += alphabet[byte % 36];
  return id;
}

/** After a failed delivery to an online viewer, wait this long before the next try. */
const RETRY_AFTER_FAILURE_MS = 15_000;

export class OwnerSide {
  /** Failed deliveries: when, and to which address (a viewer back at a new address is retried at once). */
  private readonly failedDeliveries = new Map<string, { at_ms: number; address: string }>();
  /** Grants whose copy could not be made yet, by `copy:<image>:<viewer>`. */
  private readonly copiesToMake = new Map<string, WireGrant>();

  constructor(private readonly ctx: AgentContext) {}

  private path = {
    original: (imageId: string) => this.ctx.dataDir.path('images', `${imageId}.original`),
    preview: (imageId: string) => this.ctx.dataDir.path('images', `${imageId}.preview.jpg`),
    stego: (imageId: string) => this.ctx.dataDir.path('images', `${imageId}.stego.png`),
    copy: (imageId: string, viewerId: string) =>
      this.ctx.dataDir.path('copies', imageId, `${viewerId}.png`),
  };

  // ---- Use case 3: encrypt through the cloud and offer --------------------------------------

  async encrypt(
    bytes: Uint8Array,
    title: string,
    progress: (step: string) => void = () => undefined,
  ): Promise<EncryptResult> {
    checkTitle(title);
    const image = await checkShareableImage(bytes);
    progress(`checked: ${image.mediaType}, ${image.width}x${image.height}, ${bytes.length} bytes`);
    const preview = await makePreview(image);
    progress(`preview made: ${preview.width}x${preview.height}, ${preview.bytes.length} bytes`);
    const imageId = newImageId();
    const { container } = buildCopyContainer({
      owner: this.ctx.me,
      imageId,
      original: { mediaType: image.mediaType, bytes },
      viewer: { username: this.ctx.me.username, publicKey: this.ctx.me.keys.publicKey },
      quota: 0,
      version: 1,
    });
    progress(`sealed to ${this.ctx.me.username}; sending ${container.length} bytes to the cloud`);
    const result = await this.encryptThroughCloud(`own-${imageId}`, container, progress);
    await checkCloudResult(result.png, container);
    progress(
      `the cloud answered (server ${result.serverId}, ${Math.round(result.latency_ms)} ms); verified`,
    );
    writeFileAtomic(this.path.original(imageId), bytes, 0o600);
    writeFileAtomic(this.path.preview(imageId), preview.bytes, 0o600);
    writeFileAtomic(this.path.stego(imageId), result.png, 0o600);
    const row: OwnImageRow = {
      image_id: imageId,
      title,
      media_type: image.mediaType,
      width: image.width,
      height: image.height,
      size_bytes: bytes.length,
      preview_width: preview.width,
      preview_height: preview.height,
      preview_size_bytes: preview.bytes.length,
      created_at_ms: Date.now(),
    };
    this.ctx.db.addOwnImage(row);
    let offered = false;
    try {
      await this.offer(row);
      offered = true;
      progress('offered in the directory');
    } catch (err) {
      progress(`not offered yet (${errorMessage(err)}); it will be at the next sign-in`);
    }
    this.ctx.events.emit({ type: 'image-added', image_id: imageId, title });
    return {
      image: this.imageView(row, offered, []),
      stego_size_bytes: result.png.length,
      server_id: result.serverId,
      latency_ms: Math.round(result.latency_ms),
      reassignments: result.reassignments,
    };
  }

  private async encryptThroughCloud(
    label: string,
    container: Uint8Array,
    progress: (step: string) => void,
  ): Promise<{ png: Uint8Array; serverId: number; latency_ms: number; reassignments: number }> {
    const cloud = await this.ctx.cloud();
    const taskId = `${label}-${randomBytes(4).toString('hex')}`.slice(0, 64);
    return cloud.encrypt(taskId, container, (event) => {
      if (event.type === 'assigned') progress(`assigned to server ${event.assignment.server_id}`);
      else if (event.type === 'reassigned')
        progress(
          `server ${event.from_server ?? '?'} stopped answering; moved to server ${event.assignment.server_id}`,
        );
      else if (event.type === 'accepted') progress(`server ${event.server_id} is hiding it`);
    });
  }

  offer(row: OwnImageRow): Promise<unknown> {
    return this.ctx.directory.offerImage({
      image_id: row.image_id,
      title: row.title,
      preview: {
        width: row.width,
        height: row.height,
        media_type: row.media_type,
        size_bytes: row.size_bytes,
      },
    });
  }

  /** Offers again every own image the directory does not list (e.g. offered while it was down). */
  async reofferMissing(): Promise<number> {
    const listed = new Set(
      (await this.ctx.directory.images({ owner_id: this.ctx.me.user_id })).map((i) => i.image_id),
    );
    let offered = 0;
    for (const row of this.ctx.db.ownImages()) {
      if (listed.has(row.image_id)) continue;
      await this.offer(row);
      offered++;
    }
    return offered;
  }

  async images(): Promise<OwnImageView[]> {
    let listed: Set<string> | null = null;
    let grants: WireGrant[] = [];
    try {
      listed = new Set(
        (await this.ctx.directory.images({ owner_id: this.ctx.me.user_id })).map((i) => i.image_id),
      );
      grants = await this.ctx.directory.grants('owner');
    } catch (err) {
      this.ctx.logger.debug('directory unreachable; listing local state', {
        error: errorMessage(err),
      });
    }
    const views = this.grantViews(grants);
    return this.ctx.db.ownImages().map((row) =>
      this.imageView(
        row,
        listed?.has(row.image_id) ?? false,
        views.filter((g) => g.image_id === row.image_id),
      ),
    );
  }

  private imageView(row: OwnImageRow, offered: boolean, grants: GrantView[]): OwnImageView {
    return {
      image_id: row.image_id,
      title: row.title,
      media_type: row.media_type,
      width: row.width,
      height: row.height,
      size_bytes: row.size_bytes,
      preview: {
        width: row.preview_width,
        height: row.preview_height,
        size_bytes: row.preview_size_bytes,
      },
      created_at_ms: row.created_at_ms,
      offered,
      grants,
    };
  }

  ownImage(imageId: string): OwnImageRow {
    const row = this.ctx.db.ownImage(imageId);
    if (!row)
      throw notFound(
        `you have no image ${imageId}; see \`cloudp2p peer images --own\` for your images`,
      );
    return row;
  }

  stegoCopy(imageId: string): Uint8Array {
    this.ownImage(imageId);
    return readFileLimited(this.path.stego(imageId), PEER_LIMITS.max_copy_bytes, 'encrypted image');
  }

  previewBytes(imageId: string): Uint8Array {
    this.ownImage(imageId);
    return readFileLimited(this.path.preview(imageId), PEER_LIMITS.max_preview_bytes, 'preview');
  }

  // ---- Use cases 6 and 9: answer requests, grant, change, revoke -------------------------------

  async answer(requestId: string, decision: 'accepted' | 'rejected'): Promise<AnswerResult> {
    const result = await this.ctx.directory.answerRequest(requestId, decision);
    const request = requestView(result.request);
    if (result.request.owner_id !== this.ctx.me.user_id)
      throw new CloudP2PError('bad_directory_answer', 'the directory answered for another owner');
    if (decision === 'rejected' || !result.grant) return { request };
    const grant = await this.applyGrant(result.grant);
    return { request, grant };
  }

  async setGrant(imageId: string, username: string, quota: number): Promise<GrantView> {
    this.ownImage(imageId);
    const viewer = await this.ctx.keys.byUsername(username);
    if (viewer.user_id === this.ctx.me.user_id)
      throw new CloudP2PError(
        'invalid_argument',
        'you are the owner: your own views are unlimited',
        ExitCode.usage,
      );
    const grant = await this.ctx.directory.setGrant({
      image_id: imageId,
      viewer_id: viewer.user_id,
      quota,
    });
    return this.applyGrant(grant);
  }

  async revoke(imageId: string, username: string): Promise<GrantView> {
    this.ownImage(imageId);
    const viewer = await this.ctx.keys.byUsername(username);
    const grant = await this.ctx.directory.revokeGrant({
      image_id: imageId,
      viewer_id: viewer.user_id,
    });
    return this.applyGrant(grant);
  }

  async grants(): Promise<GrantView[]> {
    return this.grantViews(await this.ctx.directory.grants('owner'));
  }

  private grantViews(grants: WireGrant[]): GrantView[] {
    return grants.map((grant) =>
      this.grantView(grant, this.ctx.db.copy(grant.image_id, grant.viewer_id)),
    );
  }

  private grantView(grant: WireGrant, copy: CopyOutRow | undefined): GrantView {
    let delivery: Delivery;
    if (!copy) delivery = grant.revoked ? 'none' : 'pending';
    else
      delivery =
        copy.copy_delivered &&
        copy.rights_delivered_version >= Math.max(grant.version, copy.grant_version)
          ? 'delivered'
          : 'pending';
    return {
      image_id: grant.image_id,
      viewer: grant.viewer_username,
      viewer_id: grant.viewer_id,
      quota: grant.quota,
      version: grant.version,
      revoked: grant.revoked,
      delivery,
    };
  }

  /**
   * Brings a viewer's copy in line with a grant the directory reports: builds the copy when
   * there is none, records the new state, and delivers what the viewer lacks if online.
   */
  async applyGrant(grant: WireGrant): Promise<GrantView> {
    if (grant.owner_id !== this.ctx.me.user_id)
      throw new CloudP2PError(
        'bad_directory_answer',
        'the directory returned a grant of another owner',
      );
    const key = `copy:${grant.image_id}:${grant.viewer_id}`;
    let problem: string | null = null;
    await this.ctx.serialize(key, async () => {
      const copy = this.ctx.db.copy(grant.image_id, grant.viewer_id);
      if (copy) this.ctx.db.updateCopyGrant(grant.image_id, grant.viewer_id, grant);
      else if (!grant.revoked && this.ctx.db.ownImage(grant.image_id)) {
        try {
          await this.buildCopy(grant);
          this.copiesToMake.delete(key);
        } catch (err) {
          // The grant stands in the directory: keep trying to make the copy (every heartbeat,
          // and at every sync) instead of failing an accept that already happened.
          problem = `the copy could not be made yet (${errorMessage(err)}); it is retried`;
          this.copiesToMake.set(key, grant);
          this.ctx.logger.warn('copy not made; retrying later', {
            image: grant.image_id,
            viewer: grant.viewer_username,
            error: errorMessage(err),
          });
        }
      }
    });
    if (!problem) await this.deliver(grant.image_id, grant.viewer_id);
    const view = this.grantView(grant, this.ctx.db.copy(grant.image_id, grant.viewer_id));
    if (problem) view.problem = problem;
    this.ctx.events.emit({ type: 'grant-changed', grant: view });
    return view;
  }

  /** Makes the copies that failed earlier (e.g. the cloud was unreachable); returns how many. */
  async retryCopies(): Promise<number> {
    let made = 0;
    for (const grant of [...this.copiesToMake.values()]) {
      const view = await this.applyGrant(grant);
      if (!view.problem) made++;
    }
    return made;
  }

  private async buildCopy(grant: WireGrant): Promise<void> {
    const row = this.ownImage(grant.image_id);
    const viewer = await this.ctx.keys.byId(grant.viewer_id);
    const original = readFileLimited(
      this.path.original(row.image_id),
      MAX_SHARED_IMAGE_BYTES,
      'original image',
    );
    const built = buildCopyContainer({
      owner: this.ctx.me,
      imageId: row.image_id,
      original: { mediaType: row.media_type as HiddenMediaType, bytes: original },
      viewer: { username: viewer.username, publicKey: viewer.public_key },
      quota: grant.quota,
      version: grant.version,
    });
    const result = await this.encryptThroughCloud(`copy-${row.image_id}`, built.container, (step) =>
      this.ctx.logger.debug('copy for viewer', {
        image: row.image_id,
        viewer: viewer.username,
        step,
      }),
    );
    await checkCloudResult(result.png, built.container);
    writeFileAtomic(this.path.copy(row.image_id, viewer.user_id), result.png, 0o600);
    this.ctx.db.putCopy({
      image_id: row.image_id,
      viewer_id: viewer.user_id,
      viewer_username: viewer.username,
      copy_version: grant.version,
      image_digest: built.imageDigest,
      copy_size_bytes: result.png.length,
      copy_sha256: sha256Hex(result.png),
      grant_version: grant.version,
      quota: grant.quota,
      revoked: grant.revoked,
      copy_delivered: false,
      rights_delivered_version: 0,
    });
    this.ctx.logger.info('copy made for a viewer', {
      image: row.image_id,
      viewer: viewer.username,
      quota: grant.quota,
      version: grant.version,
      bytes: result.png.length,
    });
  }

  /**
   * Delivers what the viewer lacks (the copy, then the latest signed rights) if the viewer is
   * online; otherwise leaves it pending. Never throws: failures leave it pending too.
   */
  async deliver(imageId: string, viewerId: string): Promise<Delivery> {
    return this.ctx.serialize(`deliver:${imageId}:${viewerId}`, async () => {
      let address = '';
      const copy = this.ctx.db.copy(imageId, viewerId);
      if (!copy) return 'none';
      if (copy.copy_delivered && copy.rights_delivered_version >= copy.grant_version)
        return 'delivered';
      try {
        const peer = await this.ctx.onlinePeer(viewerId);
        if (!peer) return 'pending';
        address = `${peer.address}:${peer.port}`;
        const session = await this.ctx.p2p.connect(peer);
        if (!copy.copy_delivered) {
          const reply = await session.request(
            { type: 'CopyAvailable', image_id: imageId, version: copy.copy_version },
            { timeout_ms: DELIVERY_TIMEOUT_MS },
          );
          if (reply.message.type !== 'Ack')
            throw new Error(`expected Ack, got ${reply.message.type}`);
          this.ctx.db.markCopyDelivered(imageId, viewerId, copy.copy_version);
        }
        const now = this.ctx.db.copy(imageId, viewerId) as CopyOutRow;
        if (now.rights_delivered_version < now.grant_version) {
          const signature = sign(
            this.ctx.me.keys,
            rightsUpdateBytes({
              owner: this.ctx.me.username,
              imageId,
              viewer: now.viewer_username,
              quota: now.quota,
              revoked: now.revoked,
              version: now.grant_version,
              imageDigest: now.image_digest,
            }),
          );
          const reply = await session.request({
            type: 'RightsUpdate',
            image_id: imageId,
            quota: now.quota,
            version: now.grant_version,
            revoked: now.revoked,
            signature: toHex(signature),
          });
          if (reply.message.type !== 'Ack')
            throw new Error(`expected Ack, got ${reply.message.type}`);
          this.ctx.db.markRightsDelivered(imageId, viewerId, now.grant_version);
        }
        this.ctx.logger.info('delivered to viewer', {
          image: imageId,
          viewer: copy.viewer_username,
        });
        this.failedDeliveries.delete(`${imageId}/${viewerId}`);
        return 'delivered';
      } catch (err) {
        if (this.failedDeliveries.size > 10_000) this.failedDeliveries.clear();
        this.failedDeliveries.set(`${imageId}/${viewerId}`, { at_ms: Date.now(), address });
        this.ctx.logger.info('delivery postponed', {
          image: imageId,
          viewer: copy.viewer_username,
          reason: errorMessage(err),
        });
        return 'pending';
      }
    });
  }

  /** Tries every undelivered copy or rights update once (viewers offline stay pending). */
  async deliveryPass(): Promise<number> {
    let delivered = 0;
    const now = Date.now();
    for (const copy of this.ctx.db.undeliveredCopies()) {
      // A viewer who is online but refused or failed is tried again only later — unless they
      // signed in again at another address (the failure was the old, dead one).
      const failed = this.failedDeliveries.get(`${copy.image_id}/${copy.viewer_id}`);
      if (failed && now - failed.at_ms < RETRY_AFTER_FAILURE_MS) {
        const peer = await this.ctx.onlinePeer(copy.viewer_id).catch(() => null);
        if (!peer || `${peer.address}:${peer.port}` === failed.address) continue;
      }
      if ((await this.deliver(copy.image_id, copy.viewer_id)) === 'delivered') {
        delivered++;
        // What waited for the viewer has reached them: say so (the web page's "waiting" mark).
        const now = this.ctx.db.copy(copy.image_id, copy.viewer_id) ?? copy;
        this.ctx.events.emit({
          type: 'grant-changed',
          grant: {
            image_id: now.image_id,
            viewer: now.viewer_username,
            viewer_id: now.viewer_id,
            quota: now.quota,
            version: now.grant_version,
            revoked: now.revoked,
            delivery: 'delivered',
          },
        });
      }
    }
    return delivered;
  }

  /** Rebuild after a lost or stale local state: every grant as the directory knows it. */
  async syncGrants(): Promise<{ grants: number; built: number }> {
    const grants = await this.ctx.directory.grants('owner');
    let built = 0;
    for (const grant of grants) {
      if (!this.ctx.db.ownImage(grant.image_id)) {
        this.ctx.logger.warn('grant on an image this agent does not hold', {
          image: grant.image_id,
        });
        continue;
      }
      const had = this.ctx.db.copy(grant.image_id, grant.viewer_id) !== undefined;
      const copyPath = this.path.copy(grant.image_id, grant.viewer_id);
      if (had && !existsSync(copyPath)) {
        this.ctx.logger.warn('copy file missing; it will be made again', { image: grant.image_id });
      }
      try {
        await this.ctx.serialize(`copy:${grant.image_id}:${grant.viewer_id}`, async () => {
          const copy = this.ctx.db.copy(grant.image_id, grant.viewer_id);
          if (copy && existsSync(copyPath))
            this.ctx.db.updateCopyGrant(grant.image_id, grant.viewer_id, grant);
          else if (!grant.revoked) {
            await this.buildCopy(grant);
            built++;
          }
        });
      } catch (err) {
        this.ctx.logger.warn('cannot make a copy now', {
          image: grant.image_id,
          viewer: grant.viewer_username,
          error: errorMessage(err),
        });
      }
    }
    return { grants: grants.length, built };
  }

  // ---- Serving peers -----------------------------------------------------------------------------

  async handle(session: PeerSession, message: PeerMessage): Promise<Reply | null> {
    switch (message.type) {
      case 'PreviewListRequest':
        return {
          message: {
            type: 'PreviewList',
            images: this.ctx.db
              .ownImages()
              .slice(-PEER_LIMITS.max_preview_list)
              .map((row) => ({
                image_id: row.image_id,
                title: row.title,
                width: row.width,
                height: row.height,
                preview_size_bytes: row.preview_size_bytes,
              })),
          },
        };
      case 'PreviewRequest': {
        const row = this.ctx.db.ownImage(message.image_id);
        if (!row)
          throw new PeerRefusal(
            'not_found',
            `${this.ctx.me.username} offers no image ${message.image_id}`,
          );
        const bytes = this.previewBytes(row.image_id);
        return {
          message: {
            type: 'Preview',
            image_id: row.image_id,
            media_type: 'image/jpeg',
            width: row.preview_width,
            height: row.preview_height,
            size_bytes: bytes.length,
          },
          binary: bytes,
        };
      }
      case 'CopyFetch':
        return this.serveCopyPart(session, message);
      default:
        return null;
    }
  }

  private async serveCopyPart(
    session: PeerSession,
    fetch: Extract<PeerMessage, { type: 'CopyFetch' }>,
  ): Promise<Reply> {
    const viewer = session.peer;
    const copy = this.ctx.db.copy(fetch.image_id, viewer.user_id);
    if (!copy)
      throw new PeerRefusal(
        'no_copy',
        `${this.ctx.me.username} has no copy of ${fetch.image_id} for ${viewer.username}`,
      );
    if (copy.revoked)
      throw new PeerRefusal(
        'denied',
        `${this.ctx.me.username} revoked ${viewer.username}'s access to ${fetch.image_id}`,
      );
    if (fetch.offset >= copy.copy_size_bytes)
      throw new PeerRefusal(
        'bad_range',
        `offset ${fetch.offset} is past the end (${copy.copy_size_bytes} bytes)`,
        ExitCode.badInput,
      );
    const length = Math.min(fetch.length, copy.copy_size_bytes - fetch.offset);
    const file = await openFile(this.path.copy(fetch.image_id, viewer.user_id), 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, fetch.offset);
      if (bytesRead !== length) throw new Error('the copy file is shorter than recorded');
      return {
        message: {
          type: 'CopyPart',
          image_id: fetch.image_id,
          version: copy.copy_version,
          total_bytes: copy.copy_size_bytes,
          sha256: copy.copy_sha256,
          offset: fetch.offset,
          size_bytes: length,
        },
        binary: new Uint8Array(buffer.buffer, buffer.byteOffset, length),
      };
    } finally {
      await file.close();
    }
  }
}
