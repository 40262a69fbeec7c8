/**
 * Every limit the directory enforces. `FIELD_LIMITS` are part of the schema and the wire
 * contract (column widths, charsets) and never change at run time: they live with the
 * directory protocol (src/protocol/directory-limits.ts), whose op table checks them too.
 * `DirectoryLimits` are policy that a deployment (or a test) may tune through
 * `openDirectory(url, { limits })`.
 */

import { FIELD_LIMITS } from '../protocol/directory-limits.js';

export { FIELD_LIMITS };

export interface DirectoryLimits {
  /** Offered images one user may list at once. */
  max_images_per_user: number;
  /** Grants (active or revoked) one owner may hold. */
  max_grants_per_owner: number;
  /** Pending requests waiting for one owner. */
  max_pending_requests_per_owner: number;
  /** Pending requests one requester may have open. */
  max_pending_requests_per_requester: number;
  /** Undelivered queued updates per recipient. */
  max_queued_updates_per_user: number;
  /** Unused sign-in challenges kept per user; issuing more drops the oldest. */
  max_challenges_per_user: number;
  /** A peer whose last heartbeat is older than this is offline. */
  presence_ttl_ms: number;
  /** How long a sign-in challenge may be answered. */
  challenge_ttl_ms: number;
  /** Answered requests older than this are deleted by `sweep()`. */
  answered_request_retention_ms: number;
}

export const DEFAULT_LIMITS: Readonly<DirectoryLimits> = Object.freeze({
  max_images_per_user: 1000,
  max_grants_per_owner: 10_000,
  max_pending_requests_per_owner: 1000,
  max_pending_requests_per_requester: 200,
  max_queued_updates_per_user: 1000,
  max_challenges_per_user: 8,
  presence_ttl_ms: 15_000,
  challenge_ttl_ms: 60_000,
  answered_request_retention_ms: 30 * 24 * 60 * 60 * 1000,
});

/** The range each tunable limit may be set to. */
export const LIMIT_RANGES: Readonly<Record<keyof DirectoryLimits, readonly [number, number]>> = {
  max_images_per_user: [1, 100_000],
  max_grants_per_owner: [1, 1_000_000],
  max_pending_requests_per_owner: [1, 100_000],
  max_pending_requests_per_requester: [1, 100_000],
  max_queued_updates_per_user: [1, 100_000],
  max_challenges_per_user: [1, 1000],
  presence_ttl_ms: [100, 24 * 60 * 60 * 1000],
  challenge_ttl_ms: [100, 60 * 60 * 1000],
  answered_request_retention_ms: [1000, 10 * 365 * 24 * 60 * 60 * 1000],
};
