/**
 * Every limit the engine enforces, in one place (units in the names). The container
 * limits are part of the format (docs/STEGO-FORMAT.md); the image limits are defaults that
 * callers may lower or raise through options.
 */

/** Covers and stego images larger than this many pixels are refused from their header. */
export const DEFAULT_MAX_PIXELS = 40_000_000;
/** Files larger than this are refused before any decoding. */
export const DEFAULT_MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024;

export const MAX_HIDDEN_IMAGE_BYTES = 12 * 1024 * 1024;
export const MAX_MESSAGE_BYTES = 16 * 1024;
export const MAX_VIEWERS = 256;
export const MAX_VIEW_COUNT = 1_000_000;
/** The offline allowance an owner may sign into a viewer's rights (docs/SHARING.md). */
export const MAX_OFFLINE_VIEWS = 10;
export const MIN_OFFLINE_WINDOW_SECONDS = 3600;
export const MAX_OFFLINE_WINDOW_SECONDS = 7 * 24 * 3600;
export const MAX_USERNAME_LENGTH = 32;
export const MAX_IMAGE_ID_LENGTH = 64;
/** Usernames in a container (format v1; broader than protocol/ids.ts on purpose). */
export const USERNAME_PATTERN = new RegExp(
  `^[A-Za-z0-9][A-Za-z0-9._-]{0,${MAX_USERNAME_LENGTH - 1}}$`,
);
export const USERNAME_RULE = `use 1-${MAX_USERNAME_LENGTH} letters, digits, '.', '_' or '-', starting with a letter or digit`;
/** Image ids in a container (format v1). */
export const IMAGE_ID_PATTERN = new RegExp(
  `^[A-Za-z0-9][A-Za-z0-9._:-]{0,${MAX_IMAGE_ID_LENGTH - 1}}$`,
);
export const IMAGE_ID_RULE = `use 1-${MAX_IMAGE_ID_LENGTH} letters, digits, '.', '_', ':' or '-', starting with a letter or digit`;

/** Seed-text mode: longest text accepted, and the sanity bound when extracting. */
export const MAX_SEED_TEXT_BYTES = 16 * 1024 * 1024;
