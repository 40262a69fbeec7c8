/**
 * Receiving from owners: a copy is pulled in chunks over an authenticated P2P session (when the
 * owner says it is ready, or when this agent finds a granted copy missing), checked whole
 * (SHA-256, the owner's signature with the pinned key, named viewer, sealed to me) before it is
 * kept; a signed rights update is checked and kept in the ledger and in the image file.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { verify } from '../identity/keys.js';
import { fromHex } from '../protocol/directory-protocol.js';
import { PEER_LIMITS, type PeerMessage } from '../protocol/peer-protocol.js';
import { errorMessage } from '../util/errors.js';
import { viewsLeft } from './agent-db.js';
import type { AgentContext } from './context.js';
import {
  checkCopySignature,
  openCopy,
  readCopy,
  rewriteCopy,
  rightsUpdateBytes,
  signedOfflineAllowance,
  viewerEntry,
  withConsumed,
  withSignedRights,
  type CopyInfo,
} from './copies.js';
import { readFileLimited, writeFileAtomic } from './data-dir.js';
import { PeerRefusal, type PeerIdentity, type PeerSession, type Reply } from './p2p-session.js';

/** Chunk size the viewer asks for when pulling a copy. */
const PULL_CHUNK_BYTES = 2 * 1024 * 1024;
const CHUNK_TIMEOUT_MS = 30_000;
/** After a failed attempt, wait this long before asking an owner for a copy again. */
const RETRY_AFTER_FAILURE_MS = 15_000;
/** Failed pulls remembered at most (forgotten all at once beyond: they are retried). */
const MAX_FAILED_PULLS = 10_000;

export class CopyReceiver {
  private readonly failedPulls = new Map<string, number>();

  constructor(private readonly ctx: AgentContext) {}

  async handle(session: PeerSession, message: PeerMessage): Promise<Reply | null> {
    switch (message.type) {
      case 'CopyAvailable': {
        const detail = await this.pullCopy(session, message.image_id);
        return { message: { type: 'Ack', detail } };
      }
      case 'RightsUpdate':
        return {
          message: { type: 'Ack', detail: await this.applyRightsUpdate(session.peer, message) },
        };
      default:
        return null;
    }
  }

  /** Pulls the copy of `imageId` from its owner over `session`, checks it and keeps it. */
  async pullCopy(session: PeerSession, imageId: string): Promise<string> {
    const owner = session.peer;
    return this.ctx.serialize(`receive:${owner.user_id}:${imageId}`, async () => {
      const first = await this.fetchPart(session, imageId, 0);
      const known = this.ctx.db.received(owner.user_id, imageId);
      if (
        known &&
        known.file_version >= first.version &&
        existsSync(this.ctx.dataDir.receivedPath(owner.user_id, imageId))
      )
        return 'already held';
      const total = first.total_bytes;
      const bytes = new Uint8Array(total);
      bytes.set(first.binary, 0);
      let offset = first.binary.length;
      while (offset < total) {
        const part = await this.fetchPart(session, imageId, offset);
        if (
          part.total_bytes !== total ||
          part.sha256 !== first.sha256 ||
          part.version !== first.version
        )
          throw new PeerRefusal('copy_changed', 'the copy changed during the transfer; try again');
        bytes.set(part.binary, offset);
        offset += part.binary.length;
      }
      if (createHash('sha256').update(bytes).digest('hex') !== first.sha256)
        throw new PeerRefusal('copy_corrupted', 'the copy does not match its SHA-256; try again');
      await this.keepCopy(owner, imageId, bytes);
      return 'received';
    });
  }

  private async fetchPart(
    session: PeerSession,
    imageId: string,
    offset: number,
  ): Promise<{ version: number; total_bytes: number; sha256: string; binary: Uint8Array }> {
    const reply = await session.request(
      { type: 'CopyFetch', image_id: imageId, offset, length: PULL_CHUNK_BYTES },
      { timeout_ms: CHUNK_TIMEOUT_MS },
    );
    const part = reply.message;
    if (part.type !== 'CopyPart' || part.image_id !== imageId || part.offset !== offset)
      throw new PeerRefusal('bad_reply', `expected CopyPart of ${imageId} at ${offset}`);
    if (part.total_bytes > PEER_LIMITS.max_copy_bytes)
      throw new PeerRefusal(
        'copy_too_large',
        `the copy is ${part.total_bytes} bytes; at most ${PEER_LIMITS.max_copy_bytes}`,
      );
    if (part.size_bytes === 0) throw new PeerRefusal('bad_reply', 'an empty chunk before the end');
    return {
      version: part.version,
      total_bytes: part.total_bytes,
      sha256: part.sha256,
      binary: reply.binary,
    };
  }

  /** Checks a copy from `owner` (signature with the pinned key, named viewer, sealed to me). */
  private async keepCopy(owner: PeerIdentity, imageId: string, png: Uint8Array): Promise<void> {
    const copy = await readCopy(png);
    if (copy.owner !== owner.username || copy.imageId !== imageId)
      throw new PeerRefusal(
        'wrong_copy',
        `the copy is of ${copy.owner}/${copy.imageId}, not ${owner.username}/${imageId}`,
      );
    checkCopySignature(copy, owner.public_key);
    const entry = viewerEntry(copy, this.ctx.me.username);
    openCopy(copy, this.ctx.me); // sealed to me? (cheap: AES-GCM over the image)
    const key = { owner_id: owner.user_id, image_id: imageId, owner_username: owner.username };
    const ledger = this.ctx.db.mergeLedger(
      key,
      { version: copy.version, quota: entry.quota, revoked: false },
      entry.consumed,
    );
    // The file carries the consumed count too: a fresh copy starts at ours, not at 0.
    const stored =
      ledger.consumed > entry.consumed
        ? await rewriteCopy(png, withConsumed(copy.payload, this.ctx.me.username, ledger.consumed))
        : png;
    writeFileAtomic(this.ctx.dataDir.receivedPath(owner.user_id, imageId), stored, 0o600);
    this.ctx.db.putReceived({
      owner_id: owner.user_id,
      image_id: imageId,
      owner_username: owner.username,
      file_version: copy.version,
      image_digest: copy.imageDigest,
      size_bytes: stored.length,
      received_at_ms: Date.now(),
      offline: signedOfflineAllowance(copy, this.ctx.me.username),
    });
    this.ctx.logger.info('copy received', {
      owner: owner.username,
      image: imageId,
      quota: entry.quota,
    });
    this.ctx.events.emit({
      type: 'image-received',
      owner: owner.username,
      image_id: imageId,
      views_left: viewsLeft(ledger),
    });
  }

  /** A signed rights update from the image's owner: checked, then kept in the ledger and file. */
  private async applyRightsUpdate(
    owner: PeerIdentity,
    update: Extract<PeerMessage, { type: 'RightsUpdate' }>,
  ): Promise<string> {
    return this.ctx.serialize(`receive:${owner.user_id}:${update.image_id}`, async () => {
      const held = this.ctx.db.received(owner.user_id, update.image_id);
      if (!held)
        throw new PeerRefusal(
          'no_copy',
          `${this.ctx.me.username} holds no copy of ${owner.username}/${update.image_id} yet`,
        );
      // The allowance signed into the copy stays as it was: the update is signed over it too.
      const path = this.ctx.dataDir.receivedPath(owner.user_id, update.image_id);
      let heldCopy: CopyInfo;
      try {
        heldCopy = await readCopy(readFileLimited(path, PEER_LIMITS.max_copy_bytes, 'copy'));
      } catch (err) {
        throw new PeerRefusal(
          'no_copy',
          `${this.ctx.me.username}'s copy of ${owner.username}/${update.image_id} cannot be read (${errorMessage(err)}); it will be fetched again`,
        );
      }
      const signed = rightsUpdateBytes({
        owner: owner.username,
        imageId: update.image_id,
        viewer: this.ctx.me.username,
        quota: update.quota,
        revoked: update.revoked,
        version: update.version,
        imageDigest: held.image_digest,
        offline: signedOfflineAllowance(heldCopy, this.ctx.me.username),
      });
      const signature = fromHex(update.signature, 64) as Uint8Array;
      if (!verify(owner.public_key, signed, signature))
        throw new PeerRefusal(
          'bad_signature',
          `the rights update is not signed by ${owner.username} for this copy`,
        );
      const key = {
        owner_id: owner.user_id,
        image_id: update.image_id,
        owner_username: owner.username,
      };
      const before = this.ctx.db.ledger(owner.user_id, update.image_id);
      const ledger = this.ctx.db.mergeLedger(key, update);
      if (update.version > held.file_version) {
        try {
          const copy = heldCopy;
          const consumed = Math.max(
            ledger.consumed,
            viewerEntry(copy, this.ctx.me.username).consumed,
          );
          const png = await rewriteCopy(
            readFileLimited(path, PEER_LIMITS.max_copy_bytes, 'copy'),
            withSignedRights(
              copy.payload,
              this.ctx.me.username,
              { ...update, signature, ownerKey: owner.public_key },
              consumed,
            ),
          );
          writeFileAtomic(path, png, 0o600);
          this.ctx.db.putReceived({
            ...held,
            file_version: update.version,
            size_bytes: png.length,
          });
        } catch (err) {
          // The ledger already holds the new rights; the file catches up on the next update.
          this.ctx.logger.warn('could not write the new rights into the copy', {
            error: errorMessage(err),
          });
        }
      }
      if (before && before.version >= update.version) return 'already up to date';
      this.ctx.events.emit({
        type: 'rights-changed',
        owner: owner.username,
        image_id: update.image_id,
        quota: ledger.quota,
        version: ledger.version,
        revoked: ledger.revoked,
        views_left: viewsLeft(ledger),
      });
      return 'applied';
    });
  }

  /** Grants I hold whose copy I lack: ask each online owner for it. */
  async pullMissingCopies(options: { force?: boolean } = {}): Promise<number> {
    let fetched = 0;
    const now = Date.now();
    for (const ledger of this.ctx.db.ledgers()) {
      if (ledger.revoked || ledger.version === 0) continue;
      const held = this.ctx.db.received(ledger.owner_id, ledger.image_id);
      if (held && existsSync(this.ctx.dataDir.receivedPath(ledger.owner_id, ledger.image_id)))
        continue;
      // An owner who is online but cannot serve the copy yet is asked again only later.
      const key = `${ledger.owner_id}/${ledger.image_id}`;
      if (!options.force && now - (this.failedPulls.get(key) ?? 0) < RETRY_AFTER_FAILURE_MS)
        continue;
      try {
        const peer = await this.ctx.onlinePeer(ledger.owner_id);
        if (!peer) continue;
        const session = await this.ctx.p2p.connect(peer);
        if ((await this.pullCopy(session, ledger.image_id)) === 'received') fetched++;
        this.failedPulls.delete(key);
      } catch (err) {
        if (this.failedPulls.size > MAX_FAILED_PULLS) this.failedPulls.clear();
        this.failedPulls.set(key, now);
        this.ctx.logger.info('copy not fetched yet', {
          owner: ledger.owner_username,
          image: ledger.image_id,
          reason: errorMessage(err),
        });
      }
    }
    return fetched;
  }
}
