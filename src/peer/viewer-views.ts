/**
 * Viewing (use case 7): a view opens the sealed image only while views are left. Online the view
 * is used at the directory first (the count's truth), then counted in the ledger and inside the
 * image file; offline the ledger decides and the directory hears of it later. Anything
 * that does not check out — used up, revoked, not named, tampered, damaged — shows the default
 * image and says why. Also the list of images received, with the views left.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { PEER_LIMITS } from '../protocol/peer-protocol.js';
import { packagePath } from '../util/package-info.js';
import { CloudP2PError, errorMessage } from '../util/errors.js';
import { viewsLeft, type LedgerRow } from './agent-db.js';
import type { ReceivedView, ViewReason, ViewRecord } from './api-types.js';
import { notFound, type AgentContext } from './context.js';
import {
  CopyError,
  checkCopySignature,
  openCopy,
  readCopy,
  rewriteCopy,
  viewerEntry,
  withConsumed,
  type CopyInfo,
} from './copies.js';
import { readFileLimited, writeFileAtomic } from './data-dir.js';
import type { ViewAtDirectory } from './directory.js';
import { DirectoryOutcomeUnknown, DirectoryRequestError } from './directory-client.js';
import { offlineAllowanceOf, signedOfflineAllowance } from './copies.js';
import { DEFAULT_OFFLINE_ALLOWANCE, offlineRefusal } from './offline-allowance.js';
import type { PeerIdentity } from './p2p-session.js';
import { count } from '../util/words.js';

/** The default image is the cover; bounded like any image file read. */
const MAX_DEFAULT_IMAGE_BYTES = 64 * 1024 * 1024;

export interface ViewOutcome {
  record: ViewRecord;
  image: Uint8Array;
}

let defaultImage: Uint8Array | null = null;
function defaultImageBytes(): Uint8Array {
  defaultImage ??= readFileLimited(
    packagePath('assets', 'cover.png'),
    MAX_DEFAULT_IMAGE_BYTES,
    'default image',
  );
  return defaultImage;
}

/**
 * Rounds of servers a view is asked at while the outcome stays unknown (a server took it but did
 * not answer in time: on Galera, commits stall for a few seconds after a node dies). The view
 * keeps its id, so a round that reaches the directory again never uses a second view.
 */
const CONSUME_ROUNDS = 2;

export class ViewerViews {
  // A view whose use at the directory has an unknown outcome and that was not shown keeps its
  // id in the ledger (agent.sqlite, `pending_view_id`): the next view of that grant asks with the
  // same id, also after a restart, so a view the directory counted is shown then instead of being
  // lost. Calls for one grant are serialised, so no two views share an id.
  constructor(private readonly ctx: AgentContext) {}

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
        offline: held ? (held.offline ?? DEFAULT_OFFLINE_ALLOWANCE) : null,
        offline_used: ledger.offline_used,
        offline_until_ms:
          ledger.online_at_ms === null
            ? null
            : ledger.online_at_ms + (held?.offline ?? DEFAULT_OFFLINE_ALLOWANCE).window_ms,
      };
    });
  }

  /** Views `owner/imageId`: my own image, or a copy I received. */
  async view(ownerName: string, imageId: string, ownStego: () => Uint8Array): Promise<ViewOutcome> {
    if (ownerName === this.ctx.me.username) return this.viewOwn(imageId, ownStego());
    const owner = await this.ctx.keys.byUsername(ownerName);
    const held = this.ctx.db.received(owner.user_id, imageId);
    const path = this.ctx.dataDir.receivedPath(owner.user_id, imageId);
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
      // The owner's key is not pinned here (a new or wiped agent) and the cloud cannot be
      // reached to learn it: nothing is shown offline until the agent has synced.
      if (err instanceof CloudP2PError && err.code === 'directory_unreachable')
        return this.defaultView(
          'not_synced',
          `the cloud cannot be reached and this agent has no record of this copy (${errorMessage(err)}); it shows it only after it has reached the cloud`,
          null,
          null,
          null,
        );
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

  /** The copy checked out and names me: use one view (at the directory when online), then show it. */
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
        storedPath = this.ctx.dataDir.receivedPath(owner.user_id, copy.imageId);
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
            offline: signedOfflineAllowance(copy, me),
          });
        }
      }
      let image;
      try {
        image = openCopy(copy, this.ctx.me);
      } catch (err) {
        if (err instanceof CopyError)
          return this.defaultView(err.problem, err.message, owner.username, copy.imageId, ledger);
        throw err;
      }
      // Online, the count's truth is the directory: one view is used there first, atomically
      // (two devices of this user viewing at once can never pass the grant together), and only
      // then is the image shown; the ledger and the file follow the directory's count. Views
      // used offline since the last contact are reported first, so they count there too.
      const viewId = this.ctx.db.pendingView(owner.user_id, copy.imageId) ?? randomUUID();
      const atDirectory = await this.consumeAtDirectory(ledger, viewId);
      if (atDirectory === 'no_grant')
        return this.defaultView(
          'revoked',
          `the directory holds no grant of ${owner.username}/${copy.imageId} to you`,
          owner.username,
          copy.imageId,
          ledger,
        );
      if (atDirectory !== 'offline') {
        ledger = this.ctx.db.mergeLedger(
          key,
          {
            version: atDirectory.version,
            quota: atDirectory.quota,
            revoked: atDirectory.revoked,
          },
          atDirectory.consumed,
        );
        this.ctx.db.markOnline(owner.user_id, copy.imageId);
        if (storedPath) await this.writeConsumed(storedPath, ledger.consumed);
        if (!atDirectory.granted) return this.refused(ledger, owner.username, copy.imageId);
        return this.shown(ledger, owner.username, copy.imageId, image);
      }
      // Offline: the local record decides, within the owner's offline allowance (views and
      // window since the directory last confirmed the count); the directory hears of the view
      // when back online.
      if (ledger.revoked || viewsLeft(ledger) === 0)
        return this.refused(ledger, owner.username, copy.imageId);
      const allowance = offlineAllowanceOf(copy, me);
      const name = `${owner.username}/${copy.imageId}`;
      const refusal = offlineRefusal(ledger, allowance, this.ctx.db.now(), name);
      const after = refusal
        ? null
        : this.ctx.db.consumeOfflineView(owner.user_id, copy.imageId, allowance);
      if (!after) {
        const why = refusal ??
          offlineRefusal(
            this.ctx.db.ledger(owner.user_id, copy.imageId) ?? ledger,
            allowance,
            this.ctx.db.now(),
            name,
          ) ?? { reason: 'quota_used' as const, message: `no views of ${name} are left` };
        return this.defaultView(why.reason, why.message, owner.username, copy.imageId, ledger);
      }
      ledger = after;
      // Shown offline: this view stands for a pending one the directory may have counted (the
      // report below is an absolute count, so it is not counted twice).
      this.ctx.db.setPendingView(owner.user_id, copy.imageId, null);
      if (storedPath) await this.writeConsumed(storedPath, ledger.consumed);
      this.ctx.inBackground(
        this.ctx.directory.recordViews({
          owner_id: owner.user_id,
          image_id: copy.imageId,
          consumed: ledger.consumed,
        }),
      );
      return this.shown(ledger, owner.username, copy.imageId, image);
    });
  }

  /**
   * Uses one view at the directory under `viewId`. 'offline' when no cloud server answered (then
   * the local record decides); 'no_grant' when the directory has none for this copy. While the
   * outcome is unknown the same view is asked again (CONSUME_ROUNDS) and stays pending.
   */
  private async consumeAtDirectory(
    ledger: LedgerRow,
    viewId: string,
  ): Promise<ViewAtDirectory | 'offline' | 'no_grant'> {
    const grant = { owner_id: ledger.owner_id, image_id: ledger.image_id };
    const pending = (id: string | null): void =>
      this.ctx.db.setPendingView(grant.owner_id, grant.image_id, id);
    for (let round = 1; ; round++) {
      try {
        if (ledger.offline_used > 0)
          await this.ctx.directory.recordViews({ ...grant, consumed: ledger.consumed });
        const answer = await this.ctx.directory.consumeView({ ...grant, view_id: viewId });
        pending(null);
        return answer;
      } catch (err) {
        const unknown = err instanceof DirectoryOutcomeUnknown;
        if (unknown) pending(viewId);
        if (unknown && round < CONSUME_ROUNDS) continue;
        if (err instanceof CloudP2PError && err.code === 'directory_unreachable') {
          this.ctx.logger.info('directory unreachable: the view is decided offline', {
            error: errorMessage(err),
            ...(unknown ? { pending_view: viewId } : {}),
          });
          return 'offline';
        }
        if (err instanceof DirectoryRequestError && err.code === 'not_found') {
          pending(null);
          return 'no_grant';
        }
        throw err;
      }
    }
  }

  private refused(ledger: LedgerRow, owner: string, imageId: string): ViewOutcome {
    return ledger.revoked
      ? this.defaultView(
          'revoked',
          `${owner} revoked your access to ${imageId}`,
          owner,
          imageId,
          ledger,
        )
      : this.defaultView(
          'quota_used',
          `you have used ${ledger.quota === 1 ? 'the only view' : `all ${ledger.quota} views`} of ${owner}/${imageId}; ask for more with \`cloudp2p peer more-views ${owner}/${imageId} --views N\``,
          owner,
          imageId,
          ledger,
        );
  }

  private shown(
    ledger: LedgerRow,
    owner: string,
    imageId: string,
    image: { bytes: Uint8Array; mediaType: ViewRecord['media_type'] },
  ): ViewOutcome {
    this.ctx.events.emit({
      type: 'image-viewed',
      owner,
      image_id: imageId,
      views_left: viewsLeft(ledger),
    });
    return {
      record: {
        verdict: 'shown',
        reason: 'ok',
        message: `${owner}/${imageId}: ${viewsLeft(ledger)} of ${count(ledger.quota, 'view')} left`,
        owner,
        image_id: imageId,
        views_left: viewsLeft(ledger),
        quota: ledger.quota,
        consumed: ledger.consumed,
        media_type: image.mediaType,
        size_bytes: image.bytes.length,
      },
      image: image.bytes,
    };
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
}
