/**
 * The owner's images (use case 3): encrypting an image through the cloud (sealed to the owner,
 * hidden in the cover, checked) and keeping it with its preview, offering it in the directory,
 * and listing the owner's images with their grants.
 */
import { randomBytes } from 'node:crypto';
import { PEER_LIMITS } from '../protocol/peer-protocol.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { OwnImageRow } from './agent-db.js';
import type { EncryptResult, GrantView, OwnImageView } from './api-types.js';
import { notFound, type AgentContext } from './context.js';
import { buildCopyContainer, checkCloudResult } from './copies.js';
import { readFileLimited, writeFileAtomic } from './data-dir.js';
import type { WireGrant } from './directory-client.js';
import { checkShareableImage, makePreview } from './images.js';
import { grantViews } from './owner-delivery.js';

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

export class OwnImages {
  constructor(private readonly ctx: AgentContext) {}

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
    const result = await hideThroughCloud(this.ctx, `own-${imageId}`, container, progress);
    await checkCloudResult(result.png, container);
    progress(
      `the cloud answered (server ${result.serverId}, ${Math.round(result.latency_ms)} ms); verified`,
    );
    writeFileAtomic(this.ctx.dataDir.originalPath(imageId), bytes, 0o600);
    writeFileAtomic(this.ctx.dataDir.previewPath(imageId), preview.bytes, 0o600);
    writeFileAtomic(this.ctx.dataDir.stegoPath(imageId), result.png, 0o600);
    const row: Omit<OwnImageRow, 'withdrawn_at_ms'> = {
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
    const kept = this.ownImage(imageId);
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
      image: this.imageView(kept, offered, []),
      stego_size_bytes: result.png.length,
      server_id: result.serverId,
      latency_ms: Math.round(result.latency_ms),
      reassignments: result.reassignments,
    };
  }

  offer(row: Omit<OwnImageRow, 'withdrawn_at_ms'>): Promise<unknown> {
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
      if (listed.has(row.image_id) || row.withdrawn_at_ms !== null) continue;
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
    const views = grantViews(this.ctx.db, grants);
    return this.ctx.db.ownImages().map((row) =>
      this.imageView(
        row,
        listed?.has(row.image_id) ?? false,
        views.filter((g) => g.image_id === row.image_id),
      ),
    );
  }

  /**
   * Stops offering an image: the directory no longer lists it (no new requests, no previews),
   * and sign-in no longer offers it again. The image, its copies and its grants stay: viewers
   * keep the views they were given (revoke them one by one, or withdraw with revokeGrants).
   */
  async withdraw(imageId: string): Promise<OwnImageRow> {
    this.ownImage(imageId);
    await this.ctx.directory.withdrawImage(imageId);
    this.ctx.db.withdrawOwnImage(imageId);
    return this.ownImage(imageId);
  }

  imageView(row: OwnImageRow, offered: boolean, grants: GrantView[]): OwnImageView {
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
      withdrawn: row.withdrawn_at_ms !== null,
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
    return readFileLimited(
      this.ctx.dataDir.stegoPath(imageId),
      PEER_LIMITS.max_copy_bytes,
      'encrypted image',
    );
  }

  previewBytes(imageId: string): Uint8Array {
    this.ownImage(imageId);
    return readFileLimited(
      this.ctx.dataDir.previewPath(imageId),
      PEER_LIMITS.max_preview_bytes,
      'preview',
    );
  }
}

/** Has the cloud hide `container` in the cover; says how it goes through `progress`. */
export async function hideThroughCloud(
  ctx: Pick<AgentContext, 'cloud'>,
  label: string,
  container: Uint8Array,
  progress: (step: string) => void,
): Promise<{ png: Uint8Array; serverId: number; latency_ms: number; reassignments: number }> {
  const cloud = await ctx.cloud();
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
