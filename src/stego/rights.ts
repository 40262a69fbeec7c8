/**
 * Access rights in the container: who owns the image, its id, each viewer and their quota,
 * the views each has consumed. Canonical form (viewers sorted, every field within its limits),
 * the ACCESS_RIGHTS section bytes, and the bytes an owner signs over rights and image.
 */
import { ByteReader, ByteWriter } from './bytes.js';
import { corruptedPayload as corrupted, invalidPayload as invalid } from './errors.js';
import { imageSectionDigest } from './image-section.js';
import {
  IMAGE_ID_PATTERN,
  IMAGE_ID_RULE,
  MAX_OFFLINE_VIEWS,
  MAX_OFFLINE_WINDOW_SECONDS,
  MAX_VIEW_COUNT,
  MAX_VIEWERS,
  MIN_OFFLINE_WINDOW_SECONDS,
  USERNAME_PATTERN,
  USERNAME_RULE,
} from './limits.js';
import type {
  AccessRights,
  ContainerPayload,
  HiddenImage,
  OfflineGrant,
  PlainPayload,
  ViewerConsumption,
  ViewerGrant,
} from './types.js';

const RIGHTS_SIGNATURE_DOMAIN = new TextEncoder().encode('cloudp2p rights v1\0');
/** Marks the optional offline-allowance block after the viewers (one entry per viewer). */
const OFFLINE_BLOCK = 0x01;

export function validateUsername(username: unknown, what: string): string {
  if (typeof username !== 'string' || !USERNAME_PATTERN.test(username)) {
    throw invalid(`${what} ${JSON.stringify(username)} is not a valid username: ${USERNAME_RULE}`);
  }
  return username;
}

export function validateCount(value: unknown, what: string): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 0 ||
    value > MAX_VIEW_COUNT
  ) {
    throw invalid(`${what} must be an integer from 0 to ${MAX_VIEW_COUNT}, got ${String(value)}`);
  }
  return value;
}

/** Returns the rights in canonical form (viewers sorted by username) or throws. */
export function canonicalRights(rights: AccessRights): AccessRights {
  const owner = validateUsername(rights.owner, 'owner');
  if (typeof rights.imageId !== 'string' || !IMAGE_ID_PATTERN.test(rights.imageId)) {
    throw invalid(`image id ${JSON.stringify(rights.imageId)} is not valid: ${IMAGE_ID_RULE}`);
  }
  if (!Array.isArray(rights.viewers) || rights.viewers.length > MAX_VIEWERS) {
    throw invalid(`at most ${MAX_VIEWERS} viewers are allowed, got ${rights.viewers?.length}`);
  }
  const viewers: ViewerGrant[] = rights.viewers.map((viewer) => ({
    username: validateUsername(viewer.username, 'viewer'),
    quota: validateCount(viewer.quota, `quota of viewer ${viewer.username}`),
    ...(viewer.offline === undefined
      ? {}
      : { offline: validateOffline(viewer.offline, `offline allowance of ${viewer.username}`) }),
  }));
  // The allowance is one optional block after the viewers: all of them carry it, or none.
  const withOffline = viewers.filter((viewer) => viewer.offline !== undefined).length;
  if (withOffline !== 0 && withOffline !== viewers.length)
    throw invalid('either every viewer has an offline allowance or none has');
  viewers.sort((a, b) => compareAscii(a.username, b.username));
  for (let i = 1; i < viewers.length; i++) {
    if (viewers[i]?.username === viewers[i - 1]?.username) {
      throw invalid(`viewer ${viewers[i]?.username} is listed twice`);
    }
  }
  return { owner, imageId: rights.imageId, viewers };
}

export function validateOffline(value: OfflineGrant, what: string): OfflineGrant {
  const { views, windowSeconds } = value ?? {};
  if (
    typeof views !== 'number' ||
    !Number.isInteger(views) ||
    views < 0 ||
    views > MAX_OFFLINE_VIEWS
  )
    throw invalid(
      `${what}: views must be an integer from 0 to ${MAX_OFFLINE_VIEWS}, got ${String(views)}`,
    );
  if (
    typeof windowSeconds !== 'number' ||
    !Number.isInteger(windowSeconds) ||
    windowSeconds < MIN_OFFLINE_WINDOW_SECONDS ||
    windowSeconds > MAX_OFFLINE_WINDOW_SECONDS
  )
    throw invalid(
      `${what}: the window must be an integer number of seconds from ${MIN_OFFLINE_WINDOW_SECONDS} (1 hour) to ${MAX_OFFLINE_WINDOW_SECONDS} (7 days), got ${String(windowSeconds)}`,
    );
  return { views, windowSeconds };
}

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Consumed counters aligned with the (canonical) rights' viewer order. */
export function consumedCounters(
  rights: AccessRights,
  consumed: ViewerConsumption[] | undefined,
): number[] {
  const byViewer = new Map<string, number>();
  for (const entry of consumed ?? []) {
    const username = validateUsername(entry.username, 'consumed-views viewer');
    if (!rights.viewers.some((viewer) => viewer.username === username)) {
      throw invalid(`consumed views given for ${username}, who is not a viewer of this image`);
    }
    if (byViewer.has(username)) throw invalid(`consumed views for ${username} given twice`);
    byViewer.set(username, validateCount(entry.consumed, `consumed views of ${username}`));
  }
  return rights.viewers.map((viewer) => byViewer.get(viewer.username) ?? 0);
}

/** The canonical ACCESS_RIGHTS section value: the exact bytes a later owner signature covers. */
export function encodeRights(rights: AccessRights): Uint8Array {
  const canonical = canonicalRights(rights);
  const writer = new ByteWriter(64 + canonical.viewers.length * 40);
  writer.shortAscii(canonical.owner);
  writer.shortAscii(canonical.imageId);
  writer.u16(canonical.viewers.length);
  for (const viewer of canonical.viewers) {
    writer.shortAscii(viewer.username);
    writer.u32(viewer.quota);
  }
  if (canonical.viewers.some((viewer) => viewer.offline)) {
    writer.u8(OFFLINE_BLOCK);
    for (const viewer of canonical.viewers) {
      writer.u16(viewer.offline?.views ?? 0);
      writer.u32(viewer.offline?.windowSeconds ?? 0);
    }
  }
  return writer.result();
}

export function decodeRights(value: Uint8Array): AccessRights {
  const reader = new ByteReader(value);
  const owner = reader.shortAscii('owner');
  const imageId = reader.shortAscii('image id');
  const count = reader.u16('viewer count');
  const viewers: ViewerGrant[] = [];
  for (let i = 0; i < count; i++) {
    const username = reader.shortAscii('viewer name');
    viewers.push({ username, quota: reader.u32('viewer quota') });
  }
  if (reader.remaining !== 0) {
    if (reader.u8('rights block') !== OFFLINE_BLOCK)
      throw corrupted('unknown block after the viewers in the access rights');
    for (const viewer of viewers)
      viewer.offline = {
        views: reader.u16('offline views'),
        windowSeconds: reader.u32('offline window'),
      };
  }
  if (reader.remaining !== 0) throw corrupted('extra bytes after the access rights');
  const rights = { owner, imageId, viewers };
  let canonical: AccessRights;
  try {
    canonical = canonicalRights(rights);
  } catch (err) {
    throw corrupted(`the access rights break the format rules (${(err as Error).message})`);
  }
  if (canonical.viewers.some((viewer, i) => viewer.username !== viewers[i]?.username)) {
    throw corrupted('the viewers are not in canonical (sorted) order');
  }
  return rights;
}

/**
 * The bytes the owner signs: a domain tag, the canonical rights, the rights version, and the
 * SHA-256 of the image section's value (plain or sealed), so a signed record cannot be moved
 * onto another image. The consumed-views counters are deliberately not covered: the viewer's
 * agent updates them.
 */
export function rightsSignedBytes(
  payload: Pick<PlainPayload, 'rights'> & { image?: HiddenImage; sealedImage?: Uint8Array },
  version: number,
): Uint8Array {
  if (!payload.rights) throw invalid('there are no access rights to sign');
  return rightsSignedBytesFromDigest(payload.rights, version, imageSectionDigest(payload));
}

/**
 * rightsSignedBytes for an image known only by its section digest: lets an owner re-sign a
 * viewer copy's rights (a new quota or version) without keeping the copy's sealed bytes.
 * Same bytes as rightsSignedBytes({rights, image or sealedImage}, version).
 */
export function rightsSignedBytesFromDigest(
  rights: AccessRights,
  version: number,
  imageDigest: Uint8Array,
): Uint8Array {
  if (!Number.isInteger(version) || version < 1 || version > 0xffff_ffff)
    throw invalid(`the rights version must be an integer from 1 to ${0xffff_ffff}`);
  if (!(imageDigest instanceof Uint8Array) || imageDigest.length !== 32)
    throw invalid('the image digest must be 32 bytes (SHA-256)');
  const encoded = encodeRights(rights);
  const out = new ByteWriter(RIGHTS_SIGNATURE_DOMAIN.length + encoded.length + 4 + 32);
  out.bytes(RIGHTS_SIGNATURE_DOMAIN);
  out.bytes(encoded);
  out.u32(version);
  out.bytes(imageDigest);
  return out.result();
}

/** How many views `username` has left (0 if not a viewer). */
export function viewsLeft(payload: ContainerPayload, username: string): number {
  const grant = payload.rights?.viewers.find((viewer) => viewer.username === username);
  if (!grant) return 0;
  const used = payload.consumedViews?.find((entry) => entry.username === username)?.consumed ?? 0;
  return Math.max(0, grant.quota - used);
}
