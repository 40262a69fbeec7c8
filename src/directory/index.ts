/**
 * The directory of service: users, sign-in challenges, presence, offered images, requests,
 * access grants and queued updates, in SQLite, PostgreSQL or MySQL/MariaDB. See README.md here
 * and docs/DIRECTORY.md.
 */
export { openDirectory, type OpenDirectoryOptions } from './open.js';
export type * from './store.js';
export {
  DirectoryError,
  DIRECTORY_ERROR_EXIT_CODES,
  isDirectoryError,
  type DirectoryErrorCode,
} from './errors.js';
export { DEFAULT_LIMITS, FIELD_LIMITS, LIMIT_RANGES, type DirectoryLimits } from './limits.js';
export { parseDirectoryUrl, redactUrl, type DirectoryTarget } from './url.js';
export { LATEST_MIGRATION } from './migrations.js';
