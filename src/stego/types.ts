/**
 * Data types of the steganography engine. Everything here is plain data on typed arrays so
 * it can cross a worker_threads boundary (structured clone) unchanged.
 */

/** An 8-bit, non-premultiplied, row-major image: RGB (3) or RGBA (4) bytes per pixel. */
export interface Raster {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
}

/** Media types a hidden image may have (checked against the file's magic bytes). */
export type HiddenMediaType = 'image/png' | 'image/jpeg';

export interface HiddenImage {
  mediaType: HiddenMediaType;
  /** The original file bytes, carried unchanged (never re-encoded). */
  bytes: Uint8Array;
}

export interface ViewerGrant {
  username: string;
  /** How many times this viewer may open the image in total. */
  quota: number;
  /**
   * How many of those views the viewer's agent may use while it cannot reach the cloud, within
   * how long of the directory's last confirmation of the count. Signed with the rights; absent
   * in copies made before it existed (the agent then applies its default).
   */
  offline?: OfflineGrant;
}

export interface OfflineGrant {
  views: number;
  windowSeconds: number;
}

/**
 * Who may see the hidden image. This record (and only this record: not the consumed-views
 * counters) is what a later owner signature will cover; see docs/STEGO-FORMAT.md.
 */
export interface AccessRights {
  owner: string;
  imageId: string;
  viewers: ViewerGrant[];
}

export interface ViewerConsumption {
  username: string;
  /** Views already used by this viewer; updated by the viewer's agent on each view. */
  consumed: number;
}

/**
 * The owner's Ed25519 signature over the access rights (see `rightsSignedBytes`): makes a
 * hand-edited quota or viewer list detectable. `version` orders successive rights records of
 * one image copy: a viewer's agent never goes back to a lower version.
 */
export interface OwnerSignature {
  version: number;
  /** The owner's raw 32-byte Ed25519 public key (checked against the directory by viewers). */
  publicKey: Uint8Array;
  /** 64-byte Ed25519 signature. */
  signature: Uint8Array;
}

interface PayloadCommon {
  rights?: AccessRights;
  /** Present only in signed containers; requires `rights`. */
  ownerSignature?: OwnerSignature;
  /**
   * Views consumed so far, only for viewers listed in `rights`. Viewers not listed here
   * have consumed 0. Decoded payloads list every viewer of `rights`, in the same order.
   */
  consumedViews?: ViewerConsumption[];
  /** An optional UTF-8 text message. */
  message?: string;
}

/** A container whose hidden image is readable by anyone who extracts it. */
export interface PlainPayload extends PayloadCommon {
  image: HiddenImage;
  sealedImage?: undefined;
}

/**
 * A container whose hidden image is sealed to one viewer (src/identity/seal.ts): the bytes
 * are `[media code u8][original file]`, encrypted; only that viewer's agent can open them.
 */
export interface SealedPayload extends PayloadCommon {
  sealedImage: Uint8Array;
  image?: undefined;
}

/** Everything a container carries. */
export type ContainerPayload = PlainPayload | SealedPayload;

/**
 * Where extraction reads pixels from: a whole raster, or a decoder that can produce just the
 * first rows (extraction usually needs only the top of the image).
 */
export interface RasterRowSource {
  width: number;
  height: number;
  channels: 3 | 4;
  /** A raster whose first `rowCount` rows are decoded (its height may be larger). */
  decodeRows(rowCount: number): Raster;
}
