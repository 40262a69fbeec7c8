/**
 * The owner's grants (use cases 6 and 9): answering requests, granting, changing and revoking
 * views in the directory, and keeping each viewer's copy in line with its grant — a copy is
 * made for a new viewer (sealed to them, rights signed, hidden by the cloud), retried every
 * heartbeat while it cannot be made, rebuilt from the directory after a lost local state, and
 * handed to delivery.
 */
import { existsSync } from 'node:fs';
import type { HiddenMediaType } from '../stego/index.js';
import { CloudP2PError, ExitCode, errorMessage } from '../util/errors.js';
import type { AnswerResult, GrantView, WithdrawResult } from './api-types.js';
import { requestView, type AgentContext } from './context.js';
import { buildCopyContainer, checkCloudResult, sha256Hex } from './copies.js';
import { readFileLimited, writeFileAtomic } from './data-dir.js';
import { DirectoryRequestError, type WireGrant } from './directory-client.js';
import { MAX_SHARED_IMAGE_BYTES } from './images.js';
import { grantView, grantViews, type CopyDelivery } from './owner-delivery.js';
import {
  checkOfflineAllowance,
  DEFAULT_OFFLINE_ALLOWANCE,
  describeAllowance,
  sameAllowance,
  type OfflineAllowance,
} from './offline-allowance.js';
import { hideThroughCloud, type OwnImages } from './owner-images.js';

/** Reads and tries again this many times while other changes move the grant under a change. */
const CHANGE_ATTEMPTS = 3;

export class OwnerGrants {
  /** Grants whose copy could not be made yet (and its allowance), by `copy:<image>:<viewer>`. */
  private readonly copiesToMake = new Map<
    string,
    { grant: WireGrant; offline: OfflineAllowance }
  >();

  constructor(
    private readonly ctx: AgentContext,
    private readonly images: OwnImages,
    private readonly delivery: CopyDelivery,
  ) {}

  /**
   * Accepts or rejects a request. `offline` is the viewer's offline allowance, signed into the
   * copy made now (default: DEFAULT_OFFLINE_ALLOWANCE); a viewer who already holds a copy keeps
   * the allowance signed into it.
   */
  async answer(
    requestId: string,
    decision: 'accepted' | 'rejected',
    offline?: OfflineAllowance,
    progress: (step: string) => void = () => undefined,
  ): Promise<AnswerResult> {
    const allowance = checkOfflineAllowance(offline);
    const result = await this.ctx.directory.answerRequest(requestId, decision);
    const request = requestView(result.request);
    if (result.request.owner_id !== this.ctx.me.user_id)
      throw new CloudP2PError('bad_directory_answer', 'the directory answered for another owner');
    progress(`${decision} in the directory`);
    if (decision === 'rejected' || !result.grant) return { request };
    const grant = await this.applyGrant(result.grant, allowance, progress);
    return { request, grant };
  }

  /** Grants or changes a viewer's quota; `offline` as in answer(), for a new copy only. */
  async setGrant(
    imageId: string,
    username: string,
    quota: number,
    offline?: OfflineAllowance,
  ): Promise<GrantView> {
    const allowance = checkOfflineAllowance(offline);
    this.images.ownImage(imageId);
    const viewer = await this.ctx.keys.byUsername(username);
    if (viewer.user_id === this.ctx.me.user_id)
      throw new CloudP2PError(
        'invalid_argument',
        'you are the owner: your own views are unlimited',
        ExitCode.usage,
      );
    const held = this.ctx.db.copy(imageId, viewer.user_id);
    if (offline && held && !sameAllowance(held.offline, allowance))
      throw new CloudP2PError(
        'invalid_argument',
        `${username}'s copy of ${imageId} already carries ${describeAllowance(held.offline ?? DEFAULT_OFFLINE_ALLOWANCE)}, signed into it when it was made; an allowance is set when a copy is made (accept or grant) and cannot be changed afterwards`,
        ExitCode.usage,
      );
    const grant = await this.fromCurrentVersion(imageId, viewer.user_id, (expected_version) =>
      this.ctx.directory.setGrant({
        image_id: imageId,
        viewer_id: viewer.user_id,
        quota,
        expected_version,
      }),
    );
    return this.applyGrant(grant, allowance);
  }

  async revoke(imageId: string, username: string): Promise<GrantView> {
    this.images.ownImage(imageId);
    const viewer = await this.ctx.keys.byUsername(username);
    const grant = await this.fromCurrentVersion(imageId, viewer.user_id, (expected_version) =>
      this.ctx.directory.revokeGrant({
        image_id: imageId,
        viewer_id: viewer.user_id,
        expected_version,
      }),
    );
    return this.applyGrant(grant);
  }

  /**
   * Makes a change from the grant's version as the directory holds it now. A change whose answer
   * was lost may still be applied by a stalled database seconds later; naming the version it
   * starts from makes such a late change fail instead of overwriting a newer one. When the grant
   * moved in between (another device of the owner, or such a late change refused by now), the
   * change is read and made again: the owner's latest word wins.
   */
  private async fromCurrentVersion(
    imageId: string,
    viewerId: string,
    change: (expected_version: number) => Promise<WireGrant>,
  ): Promise<WireGrant> {
    const key = { owner_id: this.ctx.me.user_id, image_id: imageId, viewer_id: viewerId };
    for (let attempt = 1; ; attempt++) {
      const current = await this.ctx.directory.grant(key);
      try {
        return await change(current?.version ?? 0);
      } catch (err) {
        const moved = err instanceof DirectoryRequestError && err.code === 'conflict';
        if (!moved || attempt >= CHANGE_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * Stops offering an own image (OwnImages.withdraw); with `revokeGrants`, also revokes every
   * viewer's grant of it, else viewers keep the views they were given (docs/SHARING.md).
   */
  async withdraw(
    imageId: string,
    options: { revokeGrants?: boolean } = {},
  ): Promise<WithdrawResult> {
    const row = await this.images.withdraw(imageId);
    const revoked: GrantView[] = [];
    if (options.revokeGrants)
      for (const grant of await this.grantsOf(imageId))
        if (!grant.revoked) revoked.push(await this.revoke(imageId, grant.viewer));
    return {
      image: this.images.imageView(row, false, await this.grantsOf(imageId)),
      revoked,
    };
  }

  private async grantsOf(imageId: string): Promise<GrantView[]> {
    return (await this.grants()).filter((g) => g.image_id === imageId);
  }

  async grants(): Promise<GrantView[]> {
    return grantViews(this.ctx.db, await this.ctx.directory.grants('owner'));
  }

  /**
   * Brings a viewer's copy in line with a grant the directory reports: builds the copy when
   * there is none, records the new state, and delivers what the viewer lacks if online.
   */
  async applyGrant(
    grant: WireGrant,
    offline: OfflineAllowance = DEFAULT_OFFLINE_ALLOWANCE,
    progress: (step: string) => void = () => undefined,
  ): Promise<GrantView> {
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
          await this.buildCopy(grant, offline, progress);
          this.copiesToMake.delete(key);
        } catch (err) {
          // The grant stands in the directory: keep trying to make the copy (every heartbeat,
          // and at every sync) instead of failing an accept that already happened.
          problem = `the copy could not be made yet (${errorMessage(err)}); it is retried`;
          this.copiesToMake.set(key, { grant, offline });
          this.ctx.logger.warn('copy not made; retrying later', {
            image: grant.image_id,
            viewer: grant.viewer_username,
            error: errorMessage(err),
          });
        }
      }
    });
    if (!problem) await this.delivery.deliver(grant.image_id, grant.viewer_id);
    const view = grantView(grant, this.ctx.db.copy(grant.image_id, grant.viewer_id));
    progress(
      problem
        ? `${grant.viewer_username}'s copy not made yet: retried later`
        : view.delivery === 'delivered'
          ? `${grant.viewer_username} has the copy and the rights`
          : `${grant.viewer_username} gets it when both agents are online`,
    );
    if (problem) view.problem = problem;
    this.ctx.events.emit({ type: 'grant-changed', grant: view });
    return view;
  }

  /** Makes the copies that failed earlier (e.g. the cloud was unreachable); returns how many. */
  async retryCopies(): Promise<number> {
    let made = 0;
    for (const { grant, offline } of [...this.copiesToMake.values()]) {
      const view = await this.applyGrant(grant, offline);
      if (!view.problem) made++;
    }
    return made;
  }

  private async buildCopy(
    grant: WireGrant,
    offline: OfflineAllowance,
    progress: (step: string) => void = () => undefined,
  ): Promise<void> {
    const row = this.images.ownImage(grant.image_id);
    const viewer = await this.ctx.keys.byId(grant.viewer_id);
    const original = readFileLimited(
      this.ctx.dataDir.originalPath(row.image_id),
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
      offline,
    });
    progress(
      `${viewer.username}'s copy sealed and signed; sending ${built.container.length} bytes to the cloud`,
    );
    const result = await hideThroughCloud(
      this.ctx,
      `copy-${row.image_id}`,
      built.container,
      (step) => {
        progress(step);
        this.ctx.logger.debug('copy for viewer', {
          image: row.image_id,
          viewer: viewer.username,
          step,
        });
      },
    );
    await checkCloudResult(result.png, built.container);
    progress(`hidden by server ${result.serverId} in ${Math.round(result.latency_ms)} ms; checked`);
    writeFileAtomic(this.ctx.dataDir.copyPath(row.image_id, viewer.user_id), result.png, 0o600);
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
      offline,
    });
    this.ctx.logger.info('copy made for a viewer', {
      image: row.image_id,
      viewer: viewer.username,
      quota: grant.quota,
      version: grant.version,
      bytes: result.png.length,
    });
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
      const copyPath = this.ctx.dataDir.copyPath(grant.image_id, grant.viewer_id);
      if (had && !existsSync(copyPath)) {
        this.ctx.logger.warn('copy file missing; it will be made again', { image: grant.image_id });
      }
      try {
        await this.ctx.serialize(`copy:${grant.image_id}:${grant.viewer_id}`, async () => {
          const copy = this.ctx.db.copy(grant.image_id, grant.viewer_id);
          if (copy && existsSync(copyPath))
            this.ctx.db.updateCopyGrant(grant.image_id, grant.viewer_id, grant);
          else if (!grant.revoked) {
            // Made again after a lost state: the allowance it had, when the record survived.
            await this.buildCopy(grant, copy?.offline ?? DEFAULT_OFFLINE_ALLOWANCE);
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
}
