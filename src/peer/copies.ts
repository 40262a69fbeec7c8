/**
 * The image copies users share (docs/SHARING.md): building them, checking them, and updating
 * the counters and rights inside them. A copy is a stego PNG (made by the cloud) whose hidden
 * container holds:
 *
 *   - the image sealed to one viewer (context "owner|image id|viewer"): only that viewer's
 *     agent can open it; a third party holding the file learns nothing of the image;
 *   - the rights {owner, image id, viewers: [{viewer, quota}]} and the consumed-views counter;
 *   - the owner's Ed25519 signature over the rights, a version and the sealed image's digest:
 *     a hand-edited quota, a replayed older version or rights moved onto another image fail.
 *
 * The owner's own copy uses the same format, sealed to the owner, with no viewers.
 */
import { createHash } from 'node:crypto';
import { sign, verify, type Identity } from '../identity/keys.js';
import { open, seal } from '../identity/seal.js';
import {
  StegoError,
  StegoErrorCode,
  embedContainer,
  encodeContainer,
  encodePng,
  extractImage,
  hiddenImageFromPlaintext,
  imageSectionDigest,
  openStegoImage,
  rightsSignedBytes,
  rightsSignedBytesFromDigest,
  sealablePlaintext,
} from '../stego/index.js';
import type {
  AccessRights,
  ContainerPayload,
  HiddenImage,
  OfflineGrant,
  SealedPayload,
} from '../stego/index.js';
import { DEFAULT_OFFLINE_ALLOWANCE, type OfflineAllowance } from './offline-allowance.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';

const encoder = new TextEncoder();

/** Why a copy cannot be shown; each has a sentence for people in `copyProblemText`. */
export type CopyProblem = 'damaged' | 'not_a_copy' | 'tampered' | 'wrong_owner_key' | 'not_named';

export class CopyError extends CloudP2PError {
  constructor(
    readonly problem: CopyProblem,
    message: string,
  ) {
    super(`copy_${problem}`, message, problem === 'damaged' ? ExitCode.corrupted : ExitCode.denied);
    this.name = 'CopyError';
  }
}

export function sealContext(owner: string, imageId: string, viewer: string): Uint8Array {
  return encoder.encode(`${owner}|${imageId}|${viewer}`);
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface BuiltContainer {
  container: Uint8Array;
  /** What later rights updates for this copy are signed over. */
  imageDigest: Uint8Array;
}

/** The container of a copy of `original` for `viewer` (the owner's own copy: viewer = owner). */
export function buildCopyContainer(args: {
  owner: { username: string; keys: Identity };
  imageId: string;
  original: HiddenImage;
  viewer: { username: string; publicKey: Uint8Array };
  quota: number;
  version: number;
  /** The viewer's offline allowance, signed with the rights (viewer copies only). */
  offline?: OfflineAllowance;
}): BuiltContainer {
  const { owner, imageId, viewer } = args;
  const sealedImage = seal(
    sealablePlaintext(args.original),
    viewer.publicKey,
    sealContext(owner.username, imageId, viewer.username),
  );
  const ownCopy = viewer.username === owner.username;
  const rights: AccessRights = {
    owner: owner.username,
    imageId,
    viewers: ownCopy
      ? []
      : [{ username: viewer.username, quota: args.quota, ...offlineGrant(args.offline) }],
  };
  const signature = sign(owner.keys, rightsSignedBytes({ rights, sealedImage }, args.version));
  const payload: SealedPayload = {
    sealedImage,
    rights,
    consumedViews: [],
    ownerSignature: { version: args.version, publicKey: owner.keys.publicKey, signature },
  };
  return { container: encodeContainer(payload), imageDigest: imageSectionDigest({ sealedImage }) };
}

/** Checks that the PNG the cloud returned hides exactly the container we sent. */
export async function checkCloudResult(png: Uint8Array, container: Uint8Array): Promise<void> {
  let payload: ContainerPayload;
  try {
    payload = await extractImage(png);
  } catch (err) {
    throw new CloudP2PError(
      'cloud_result_bad',
      `the cloud returned an image that does not carry our container: ${(err as Error).message}`,
      ExitCode.corrupted,
    );
  }
  if (!Buffer.from(encodeContainer(payload)).equals(Buffer.from(container)))
    throw new CloudP2PError(
      'cloud_result_bad',
      'the cloud returned an image whose hidden container differs from the one sent',
      ExitCode.corrupted,
    );
}

/** What a copy file says about itself, after the structural checks. */
export interface CopyInfo {
  payload: SealedPayload & { rights: AccessRights };
  owner: string;
  imageId: string;
  version: number;
  ownerPublicKey: Uint8Array;
  imageDigest: Uint8Array;
}

/** Reads a copy: a signed container with rights and a sealed image. No key checks yet. */
export async function readCopy(png: Uint8Array): Promise<CopyInfo> {
  let payload: ContainerPayload;
  try {
    payload = await extractImage(png);
  } catch (err) {
    if (err instanceof StegoError && err.code === StegoErrorCode.noPayload)
      throw new CopyError('not_a_copy', 'this image carries no cloudp2p container');
    throw new CopyError('damaged', `the image is damaged or was edited: ${(err as Error).message}`);
  }
  if (!payload.rights || !payload.ownerSignature || payload.sealedImage === undefined)
    throw new CopyError(
      'not_a_copy',
      'this image is not a shared copy (it needs owner-signed rights and a sealed image)',
    );
  return {
    payload: payload as SealedPayload & { rights: AccessRights },
    owner: payload.rights.owner,
    imageId: payload.rights.imageId,
    version: payload.ownerSignature.version,
    ownerPublicKey: payload.ownerSignature.publicKey,
    imageDigest: imageSectionDigest(payload),
  };
}

/**
 * Checks the owner's signature with the owner's key as the directory knows it (pinned). A key
 * in the file that is not the owner's is refused even if it signs correctly: anyone can sign
 * with their own key.
 */
export function checkCopySignature(copy: CopyInfo, ownerKey: Uint8Array): void {
  if (!Buffer.from(copy.ownerPublicKey).equals(Buffer.from(ownerKey)))
    throw new CopyError(
      'wrong_owner_key',
      `the rights claim owner ${copy.owner} but are signed with a key that is not ${copy.owner}'s: refused as tampered`,
    );
  const signature = copy.payload.ownerSignature;
  if (
    !signature ||
    !verify(ownerKey, rightsSignedBytes(copy.payload, signature.version), signature.signature)
  )
    throw new CopyError(
      'tampered',
      `the rights record was altered after ${copy.owner} signed it (quota, viewer or version edited): refused`,
    );
}

/** This viewer's entry in the copy's rights, or a `not_named` error. */
export function viewerEntry(copy: CopyInfo, viewer: string): { quota: number; consumed: number } {
  const grant = copy.payload.rights.viewers.find((v) => v.username === viewer);
  if (!grant)
    throw new CopyError(
      'not_named',
      `this copy of ${copy.owner}/${copy.imageId} was made for ${copy.payload.rights.viewers.map((v) => v.username).join(', ') || 'its owner'}, not for ${viewer}`,
    );
  const consumed = copy.payload.consumedViews?.find((c) => c.username === viewer)?.consumed ?? 0;
  return { quota: grant.quota, consumed };
}

/** The allowance as the rights carry it (whole seconds), or nothing for a legacy copy. */
function offlineGrant(allowance: OfflineAllowance | null | undefined): {
  offline?: OfflineGrant;
} {
  return allowance
    ? { offline: { views: allowance.views, windowSeconds: Math.round(allowance.window_ms / 1000) } }
    : {};
}

/**
 * The offline allowance the owner signed into this copy for `viewer`, or the default for a
 * copy made before allowances existed (its signature covers no allowance at all).
 */
export function offlineAllowanceOf(copy: CopyInfo, viewer: string): OfflineAllowance {
  return signedOfflineAllowance(copy, viewer) ?? DEFAULT_OFFLINE_ALLOWANCE;
}

/** The allowance signed into this copy for `viewer`; null for a copy made before allowances. */
export function signedOfflineAllowance(copy: CopyInfo, viewer: string): OfflineAllowance | null {
  const signed = copy.payload.rights.viewers.find((v) => v.username === viewer)?.offline;
  return signed ? { views: signed.views, window_ms: signed.windowSeconds * 1000 } : null;
}

/** Opens the sealed image for `me` (the viewer named in the copy, or the owner's own copy). */
export function openCopy(copy: CopyInfo, me: { username: string; keys: Identity }): HiddenImage {
  try {
    const plaintext = open(
      copy.payload.sealedImage,
      me.keys.seed,
      me.keys.publicKey,
      sealContext(copy.owner, copy.imageId, me.username),
    );
    return hiddenImageFromPlaintext(plaintext);
  } catch {
    throw new CopyError(
      'tampered',
      `the sealed image of ${copy.owner}/${copy.imageId} does not open with ${me.username}'s key (sealed for someone else, or altered)`,
    );
  }
}

/** The bytes a RightsUpdate signature covers for one viewer's copy. */
export function rightsUpdateBytes(args: {
  owner: string;
  imageId: string;
  viewer: string;
  quota: number;
  revoked: boolean;
  version: number;
  imageDigest: Uint8Array;
  /** The allowance signed into the copy (it stays as it was; absent for a legacy copy). */
  offline?: OfflineAllowance | null;
}): Uint8Array {
  return rightsSignedBytesFromDigest(
    {
      owner: args.owner,
      imageId: args.imageId,
      viewers: [
        {
          username: args.viewer,
          quota: args.revoked ? 0 : args.quota,
          ...offlineGrant(args.offline),
        },
      ],
    },
    args.version,
    args.imageDigest,
  );
}

/**
 * Re-embeds a changed payload into the same stego PNG (same pixels, same size): used to write
 * a new consumed-views counter or a newer owner-signed rights record into the viewer's copy.
 */
export async function rewriteCopy(png: Uint8Array, payload: ContainerPayload): Promise<Uint8Array> {
  const source = await openStegoImage(png);
  const raster = source.decodeRows(source.height);
  return encodePng(embedContainer(raster, payload).raster);
}

/** The payload with new signed rights for `viewer` (quota' as signed) and a consumed count. */
export function withSignedRights(
  payload: SealedPayload & { rights: AccessRights },
  viewer: string,
  update: {
    quota: number;
    revoked: boolean;
    version: number;
    signature: Uint8Array;
    ownerKey: Uint8Array;
  },
  consumed: number,
): SealedPayload {
  return {
    ...payload,
    rights: {
      ...payload.rights,
      viewers: payload.rights.viewers
        .filter((v) => v.username === viewer)
        .map((v) => ({ ...v, quota: update.revoked ? 0 : update.quota })),
    },
    consumedViews: [{ username: viewer, consumed }],
    ownerSignature: {
      version: update.version,
      publicKey: update.ownerKey,
      signature: update.signature,
    },
  };
}

/** The payload with `viewer`'s consumed-views counter set. */
export function withConsumed(
  payload: SealedPayload & { rights: AccessRights },
  viewer: string,
  consumed: number,
): SealedPayload {
  return {
    ...payload,
    consumedViews: payload.rights.viewers.map((v) => ({
      username: v.username,
      consumed:
        v.username === viewer
          ? consumed
          : (payload.consumedViews?.find((c) => c.username === v.username)?.consumed ?? 0),
    })),
  };
}
