/**
 * The viewer's side of sharing: asking for images and more views, receiving copies from owners
 * (pulled in chunks and checked before they are kept), applying signed rights updates, and
 * viewing — which opens the sealed image only while views are left and counts each view in
 * the ledger first, then inside the image file. Anything that does not check out shows the
 * default image and says why.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { verify } from '../identity/keys.js';
import { fromHex } from '../protocol/directory-protocol.js';
import { PEER_LIMITS, type PeerMessage } from '../protocol/peer-protocol.js';
import { packagePath } from '../util/package-info.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { LedgerRow } from './agent-db.js';
import type { ReceivedView, RequestCreated, ViewReason, ViewRecord } from './api-types.js';
import { notFound, requestView, type AgentContext } from './context.js';
import {
  CopyError,
  checkCopySignature,
  openCopy,
  readCopy,
  rewriteCopy,
  rightsUpdateBytes,
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

export interface ViewOutcome {
  record: ViewRecord;
  image: Uint8Array;
}

let defaultImage: Uint8Array | null = null;
function defaultImageBytes(): Uint8Array {
  defaultImage ??= readFileLimited(
    packagePath('assets', 'cover.png'),
    64 * 1024 * 1024,
    'default image',
  );
  return defaultImage;
}

function viewsLeft(ledger: Pick<LedgerRow, 'quota' | 'consumed' | 'revoked'>): number {
  return ledger.revoked ? 0 : Math.max(0, ledger.quota - ledger.consumed);
}

/** After a failed attempt, wait this long before asking an owner for a copy again. */
const RETRY_AFTER_FAILURE_MS = 15_000;

export class ViewerSide {
  private readonly failedPulls = new Map<string, number>();

  constructor(private readonly ctx: AgentContext) {}

  private receivedPath(ownerId: string, imageId: string): string {
    return this.ctx.dataDir.path('received', ownerId, `${imageId}.png`);
  }

  // ---- Use cases 5 and 8: ask for an image, or for more views ---------------------------------

  async request(ownerName: string, imageId: string, views: number): Promise<RequestCreated> {
    if (!Number.isSafeInteger(views) || views < 1 || views > 10_000)
      throw new CloudP2PError(
        'invalid_argument',
        'views must be an integer from 1 to 10000',
        ExitCode.usage,
      );
    const owner = await this.ctx.keys.byUsername(ownerName);
    if (owner.user_id === this.ctx.me.user_id)
      throw new CloudP2PError(
        'invalid_argument',
        'that is your own image: you can view it any time',
        ExitCode.usage,
      );
    const request = await this.ctx.directory.createRequest({
      owner_id: owner.user_id,
      image_id: imageId,
      views,
      request_id: randomUUID(),
    });
    let notified = false;
    try {
      const peer = await this.ctx.onlinePeer(owner.user_id);
      if (peer) {
        const session = await this.ctx.p2p.connect(peer);
        await session.request(
          { type: 'RequestNotice', request_id: request.request_id },
          { timeout_ms: 5000 },
        );
        notified = true;
      }
    } catch (err) {
      this.ctx.logger.info('owner not told at once; it will see the request at sign-in', {
        owner: ownerName,
        reason: errorMessage(err),
      });
    }
    return { request: requestView(request), owner_notified: notified };
  }

  // ---- Receiving copies and rights ----------------------------------------------------------------

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
        existsSync(this.receivedPath(owner.user_id, imageId))
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
    writeFileAtomic(this.receivedPath(owner.user_id, imageId), stored, 0o600);
    this.ctx.db.putReceived({
      owner_id: owner.user_id,
      image_id: imageId,
      owner_username: owner.username,
      file_version: copy.version,
      image_digest: copy.imageDigest,
      size_bytes: stored.length,
      received_at_ms: Date.now(),
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
      const signed = rightsUpdateBytes({
        owner: owner.username,
        imageId: update.image_id,
        viewer: this.ctx.me.username,
        quota: update.quota,
        revoked: update.revoked,
        version: update.version,
        imageDigest: held.image_digest,
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
        const path = this.receivedPath(owner.user_id, update.image_id);
        try {
          const copy = await readCopy(readFileLimited(path, PEER_LIMITS.max_copy_bytes, 'copy'));
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
      if (held && existsSync(this.receivedPath(ledger.owner_id, ledger.image_id))) continue;
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
        if (this.failedPulls.size > 10_000) this.failedPulls.clear();
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

  // ---- Use case 7: received images and viewing ------------------------------------------------

  received(): ReceivedView[] {
    return this.ctx.db.ledgers().map((ledger) => {
      const held = this.ctx.db.received(ledger.owner_id, ledger.image_id);
      const left = viewsLeft(ledger);
      return {
        owner: ledger.owner_username,
        owner_id: ledger.owner_id,
        image_id: ledger.image_id,
        quota: ledger.quota,
        consumed: ledger.consumed,
        views_left: left,
        revoked: ledger.revoked,
        version: ledger.version,
        state: !held
          ? ledger.revoked
            ? 'revoked'
            : 'waiting_for_copy'
          : ledger.revoked
            ? 'revoked'
            : left > 0
              ? 'viewable'
              : 'used_up',
        file_version: held?.file_version ?? null,
        size_bytes: held?.size_bytes ?? null,
      };
    });
  }

  /** Views `owner/imageId`: my own image, or a copy I received. */
  async view(ownerName: string, imageId: string, ownStego: () => Uint8Array): Promise<ViewOutcome> {
    if (ownerName === this.ctx.me.username) return this.viewOwn(imageId, ownStego());
    const owner = await this.ctx.keys.byUsername(ownerName);
    const held = this.ctx.db.received(owner.user_id, imageId);
    const path = this.receivedPath(owner.user_id, imageId);
    if (!held || !existsSync(path)) {
      const ledger = this.ctx.db.ledger(owner.user_id, imageId);
      if (!ledger)
        throw notFound(
          `you have no image ${ownerName}/${imageId}; ask for it with \`cloudp2p peer request ${ownerName} ${imageId} --views N\``,
        );
      return this.defaultView(
        ledger.revoked ? 'revoked' : 'no_copy',
        ledger.revoked
          ? `${ownerName} revoked your access to ${imageId}`
          : `${ownerName} granted ${imageId} but the copy has not arrived yet; it comes when both agents are online`,
        ownerName,
        imageId,
        ledger,
      );
    }
    const bytes = readFileLimited(path, PEER_LIMITS.max_copy_bytes, 'copy');
    return this.viewCopyBytes(bytes, path, { owner, imageId });
  }

  /** Views an image file someone holds (e.g. a copy made for another user). */
  async viewFile(bytes: Uint8Array): Promise<ViewOutcome> {
    return this.viewCopyBytes(bytes, null, null);
  }

  private async viewOwn(imageId: string, stego: Uint8Array): Promise<ViewOutcome> {
    const copy = await readCopy(stego);
    checkCopySignature(copy, this.ctx.me.keys.publicKey);
    const image = openCopy(copy, this.ctx.me);
    return {
      record: {
        verdict: 'shown',
        reason: 'own_image',
        message: `your own image ${imageId} (views unlimited)`,
        owner: this.ctx.me.username,
        image_id: imageId,
        views_left: null,
        quota: null,
        consumed: null,
        media_type: image.mediaType,
        size_bytes: image.bytes.length,
      },
      image: image.bytes,
    };
  }

  private async viewCopyBytes(
    bytes: Uint8Array,
    storedPath: string | null,
    expected: { owner: PeerIdentity; imageId: string } | null,
  ): Promise<ViewOutcome> {
    let copy: CopyInfo;
    let owner: PeerIdentity;
    try {
      copy = await readCopy(bytes);
      if (expected && (copy.owner !== expected.owner.username || copy.imageId !== expected.imageId))
        throw new CopyError('tampered', `the stored file now holds ${copy.owner}/${copy.imageId}`);
      if (copy.owner === this.ctx.me.username && !expected) {
        const own = this.ctx.db.ownImage(copy.imageId);
        if (own && copy.payload.rights.viewers.length === 0)
          return this.viewOwn(copy.imageId, bytes);
      }
      owner = expected?.owner ?? (await this.ownerOf(copy));
      checkCopySignature(copy, owner.public_key);
      viewerEntry(copy, this.ctx.me.username);
    } catch (err) {
      if (err instanceof CopyError)
        return this.defaultView(err.problem, err.message, null, null, null);
      throw err;
    }
    return this.consumeOne(copy, owner, bytes, storedPath);
  }

  private async ownerOf(copy: CopyInfo): Promise<PeerIdentity> {
    try {
      return await this.ctx.keys.byUsername(copy.owner);
    } catch (err) {
      if (err instanceof CloudP2PError && err.code === 'not_found')
        throw new CopyError(
          'tampered',
          `the rights name an owner ${copy.owner} the directory does not know`,
        );
      throw err;
    }
  }

  /** The copy checked out and names me: count one view (ledger first), then open it. */
  private async consumeOne(
    copy: CopyInfo,
    owner: PeerIdentity,
    bytes: Uint8Array,
    storedPath: string | null,
  ): Promise<ViewOutcome> {
    const me = this.ctx.me.username;
    const entry = viewerEntry(copy, me);
    const key = { owner_id: owner.user_id, image_id: copy.imageId, owner_username: owner.username };
    return this.ctx.serialize(`receive:${owner.user_id}:${copy.imageId}`, async () => {
      // The file's signed rights and counter count too: whichever is newer / higher wins.
      let ledger = this.ctx.db.mergeLedger(
        key,
        { version: copy.version, quota: entry.quota, revoked: false },
        entry.consumed,
      );
      if (storedPath === null) {
        // A valid copy for me that arrived as a file: keep it like a delivered one (unless one
        // is kept already); the view is counted in the kept copy.
        storedPath = this.receivedPath(owner.user_id, copy.imageId);
        if (!this.ctx.db.received(owner.user_id, copy.imageId) || !existsSync(storedPath)) {
          writeFileAtomic(storedPath, bytes, 0o600);
          this.ctx.db.putReceived({
            owner_id: owner.user_id,
            image_id: copy.imageId,
            owner_username: owner.username,
            file_version: copy.version,
            image_digest: copy.imageDigest,
            size_bytes: bytes.length,
            received_at_ms: Date.now(),
          });
        }
      }
      if (ledger.revoked)
        return this.defaultView(
          'revoked',
          `${owner.username} revoked your access to ${copy.imageId}`,
          owner.username,
          copy.imageId,
          ledger,
        );
      if (viewsLeft(ledger) === 0)
        return this.defaultView(
          'quota_used',
          `you have used all ${ledger.quota} views of ${owner.username}/${copy.imageId}; ask for more with \`cloudp2p peer more-views ${owner.username}/${copy.imageId} --views N\``,
          owner.username,
          copy.imageId,
          ledger,
        );
      let image;
      try {
        image = openCopy(copy, this.ctx.me);
      } catch (err) {
        if (err instanceof CopyError)
          return this.defaultView(err.problem, err.message, owner.username, copy.imageId, ledger);
        throw err;
      }
      const after = this.ctx.db.consumeView(owner.user_id, copy.imageId);
      if (!after)
        return this.defaultView(
          'quota_used',
          `no views of ${owner.username}/${copy.imageId} are left`,
          owner.username,
          copy.imageId,
          ledger,
        );
      ledger = after;
      if (storedPath) await this.writeConsumed(storedPath, ledger.consumed);
      // The directory keeps the count too, so a lost ledger cannot give views back.
      this.ctx.inBackground(
        this.ctx.directory.recordViews({
          owner_id: owner.user_id,
          image_id: copy.imageId,
          consumed: ledger.consumed,
        }),
      );
      this.ctx.events.emit({
        type: 'image-viewed',
        owner: owner.username,
        image_id: copy.imageId,
        views_left: viewsLeft(ledger),
      });
      return {
        record: {
          verdict: 'shown',
          reason: 'ok',
          message: `${owner.username}/${copy.imageId}: ${viewsLeft(ledger)} of ${ledger.quota} views left`,
          owner: owner.username,
          image_id: copy.imageId,
          views_left: viewsLeft(ledger),
          quota: ledger.quota,
          consumed: ledger.consumed,
          media_type: image.mediaType,
          size_bytes: image.bytes.length,
        },
        image: image.bytes,
      };
    });
  }

  /** Writes the ledger's count into the stored copy (the ledger already holds it). */
  private async writeConsumed(path: string, consumed: number): Promise<void> {
    try {
      const bytes = readFileLimited(path, PEER_LIMITS.max_copy_bytes, 'copy');
      const copy = await readCopy(bytes);
      const current = viewerEntry(copy, this.ctx.me.username).consumed;
      if (current >= consumed) return;
      writeFileAtomic(
        path,
        await rewriteCopy(bytes, withConsumed(copy.payload, this.ctx.me.username, consumed)),
        0o600,
      );
    } catch (err) {
      this.ctx.logger.warn(
        'could not write the view count into the image file; the ledger has it',
        {
          error: errorMessage(err),
        },
      );
    }
  }

  private defaultView(
    reason: ViewReason,
    message: string,
    owner: string | null,
    imageId: string | null,
    ledger: Pick<LedgerRow, 'quota' | 'consumed' | 'revoked'> | null,
  ): ViewOutcome {
    const image = defaultImageBytes();
    return {
      record: {
        verdict: 'default',
        reason,
        message,
        owner,
        image_id: imageId,
        views_left: ledger ? viewsLeft(ledger) : null,
        quota: ledger?.quota ?? null,
        consumed: ledger?.consumed ?? null,
        media_type: 'image/png',
        size_bytes: image.length,
      },
      image,
    };
  }

  /**
   * Exchanges view counts with the directory for every grant I hold: reports views it has not
   * seen (used while offline) and takes back a higher count (after this agent lost its ledger).
   */
  async reconcileViews(
    grants: Array<{
      owner_id: string;
      owner_username: string;
      image_id: string;
      viewer_id: string;
    }>,
  ): Promise<void> {
    for (const grant of grants) {
      if (grant.viewer_id !== this.ctx.me.user_id) continue;
      const local = this.ctx.db.ledger(grant.owner_id, grant.image_id)?.consumed ?? 0;
      try {
        const known = await this.ctx.directory.recordViews({
          owner_id: grant.owner_id,
          image_id: grant.image_id,
          consumed: local,
        });
        if (known > local)
          this.ctx.db.mergeLedger(
            {
              owner_id: grant.owner_id,
              image_id: grant.image_id,
              owner_username: grant.owner_username,
            },
            null,
            known,
          );
      } catch (err) {
        this.ctx.logger.warn('could not exchange view counts with the directory', {
          image: grant.image_id,
          error: errorMessage(err),
        });
      }
    }
  }

  // ---- Updates from the directory ------------------------------------------------------------------

  /** A grant as the directory reports it to me as the viewer. */
  applyDirectoryGrant(grant: {
    owner_id: string;
    owner_username: string;
    image_id: string;
    viewer_id: string;
    quota: number;
    version: number;
    revoked: boolean;
  }): boolean {
    if (grant.viewer_id !== this.ctx.me.user_id) return false;
    const before = this.ctx.db.ledger(grant.owner_id, grant.image_id);
    const ledger = this.ctx.db.mergeLedger(
      { owner_id: grant.owner_id, image_id: grant.image_id, owner_username: grant.owner_username },
      grant,
    );
    if (before && before.version >= grant.version) return false;
    this.ctx.events.emit({
      type: 'rights-changed',
      owner: grant.owner_username,
      image_id: grant.image_id,
      quota: ledger.quota,
      version: ledger.version,
      revoked: ledger.revoked,
      views_left: viewsLeft(ledger),
    });
    return true;
  }
}
