/**
 * The identifier rules (src/util/ids.ts) as schemas, for message and argument tables; the
 * patterns, limits and sentences themselves live on the ground floor so the core and the
 * directory apply the same ones. Re-exported here so protocol users need one import.
 *
 * Pure and browser-safe (no node:*): the peer web page imports it.
 */
import {
  ERROR_CODE_PATTERN,
  ERROR_CODE_RULE,
  HEX_32_BYTES_PATTERN,
  HEX_32_BYTES_RULE,
  HEX_64_BYTES_PATTERN,
  HEX_64_BYTES_RULE,
  IMAGE_ID_PATTERN,
  IMAGE_ID_RULE,
  TASK_ID_PATTERN,
  TASK_ID_RULE,
  USERNAME_PATTERN,
  USERNAME_RULE,
  UUID_PATTERN,
  UUID_RULE,
} from '../util/ids.js';
import { Pattern, checker } from './schema.js';

export * from '../util/ids.js';

// ---- Schemas --------------------------------------------------------------------------------

export const Username = Pattern(USERNAME_PATTERN, USERNAME_RULE);
export const UserId = Pattern(UUID_PATTERN, UUID_RULE);
export const RequestId = Pattern(UUID_PATTERN, UUID_RULE);
/** Chosen by the viewer's agent once per view: a retry of that view is not a second view. */
export const ViewId = Pattern(UUID_PATTERN, UUID_RULE);
export const ImageId = Pattern(IMAGE_ID_PATTERN, IMAGE_ID_RULE);
export const ClientId = Pattern(TASK_ID_PATTERN, TASK_ID_RULE);
export const TaskId = Pattern(TASK_ID_PATTERN, TASK_ID_RULE);
export const Nonce = Pattern(HEX_32_BYTES_PATTERN, `${HEX_32_BYTES_RULE} (32 bytes)`);
export const Sha256Hex = Pattern(HEX_32_BYTES_PATTERN, `${HEX_32_BYTES_RULE} (a SHA-256)`);
export const PublicKeyHex = Pattern(
  HEX_32_BYTES_PATTERN,
  `${HEX_32_BYTES_RULE} (an Ed25519 public key)`,
);
export const SignatureHex = Pattern(
  HEX_64_BYTES_PATTERN,
  `${HEX_64_BYTES_RULE} (an Ed25519 signature)`,
);
export const ErrorCode = Pattern(ERROR_CODE_PATTERN, ERROR_CODE_RULE);

/** "username: expected 3–32 characters …" or null: for forms and command-line arguments. */
export const usernameProblem = (value: unknown): string | null =>
  checker(Username).problem(value, 'username');
