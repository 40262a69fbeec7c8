/**
 * What the owner's agent serves to other users' agents over authenticated P2P sessions: the
 * list of previews, one preview, and the copy made for the asking viewer, in chunks (only to
 * that viewer, and not once revoked).
 */
import { open as openFile } from 'node:fs/promises';
import { PEER_LIMITS, type PeerMessage } from '../protocol/peer-protocol.js';
import { ExitCode } from '../util/errors.js';
import type { AgentContext } from './context.js';
import type { OwnImages } from './owner-images.js';
import { PeerRefusal, type PeerSession, type Reply } from './p2p-session.js';

export class OwnerServing {
  constructor(
    private readonly ctx: AgentContext,
    private readonly images: OwnImages,
  ) {}

  async handle(session: PeerSession, message: PeerMessage): Promise<Reply | null> {
    switch (message.type) {
      case 'PreviewListRequest':
        return {
          message: {
            type: 'PreviewList',
            images: this.ctx.db
              .ownImages()
              .filter((row) => row.withdrawn_at_ms === null)
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
        if (!row || row.withdrawn_at_ms !== null)
          throw new PeerRefusal(
            'not_found',
            `${this.ctx.me.username} offers no image ${message.image_id}`,
          );
        const bytes = this.images.previewBytes(row.image_id);
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
    const file = await openFile(this.ctx.dataDir.copyPath(fetch.image_id, viewer.user_id), 'r');
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
