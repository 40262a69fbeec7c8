/**
 * The offline allowance (issue 11): how many views a viewer may use while the agent cannot
 * reach the cloud, and within how long of the directory's last confirmation of the count.
 * The owner sets it per grant; it is signed into the viewer's copy with the rights, so the
 * viewer cannot raise it. Copies made before it existed carry none and get the default.
 *
 * Why this bounds a replay: an offline view is allowed only within `window_ms` of the last
 * time the directory confirmed this grant's count on this agent (ledger `online_at_ms`), and
 * at most `views` of them until the next confirmation. A data directory restored from a
 * backup brings back its own record: at most `views` more views, and only inside its window.
 * An agent without a record (agent.sqlite deleted) has no confirmation: nothing offline.
 */
import type { LedgerRow } from './agent-db.js';
import { HOUR_MS, describeAllowance, describeWindow } from './allowance-words.js';
import {
  DEFAULT_OFFLINE_VIEWS,
  DEFAULT_OFFLINE_WINDOW_MS,
  MAX_OFFLINE_VIEWS,
  OFFLINE_WINDOW_LIMITS_MS,
  type OfflineAllowance,
  type ViewReason,
} from './api-types.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import { count } from '../util/words.js';

export type { OfflineAllowance };

export { HOUR_MS, describeAllowance, describeWindow };

export const OFFLINE_LIMITS = {
  max_views: MAX_OFFLINE_VIEWS,
  min_window_ms: OFFLINE_WINDOW_LIMITS_MS.min,
  max_window_ms: OFFLINE_WINDOW_LIMITS_MS.max,
} as const;

export const DEFAULT_OFFLINE_ALLOWANCE: OfflineAllowance = {
  views: DEFAULT_OFFLINE_VIEWS,
  window_ms: DEFAULT_OFFLINE_WINDOW_MS,
};

/** The owner's choice checked against the limits (the default when none was given). */
export function checkOfflineAllowance(offline: OfflineAllowance | undefined): OfflineAllowance {
  if (offline === undefined) return DEFAULT_OFFLINE_ALLOWANCE;
  const { views, window_ms } = offline;
  if (!Number.isInteger(views) || views < 0 || views > OFFLINE_LIMITS.max_views)
    throw new CloudP2PError(
      'invalid_argument',
      `offline views must be an integer from 0 to ${OFFLINE_LIMITS.max_views}, got ${String(views)}`,
      ExitCode.usage,
    );
  if (
    !Number.isInteger(window_ms) ||
    window_ms % 1000 !== 0 ||
    window_ms < OFFLINE_LIMITS.min_window_ms ||
    window_ms > OFFLINE_LIMITS.max_window_ms
  )
    throw new CloudP2PError(
      'invalid_argument',
      `the offline window must be whole seconds from 1 hour to ${describeWindow(OFFLINE_LIMITS.max_window_ms)}, got ${String(window_ms)} ms`,
      ExitCode.usage,
    );
  return { views, window_ms };
}

export function sameAllowance(a: OfflineAllowance | null, b: OfflineAllowance): boolean {
  const held = a ?? DEFAULT_OFFLINE_ALLOWANCE;
  return held.views === b.views && held.window_ms === b.window_ms;
}

/** Where an offline view stands against the allowance: allowed, or why not, in words. */
export function offlineRefusal(
  ledger: Pick<LedgerRow, 'online_at_ms' | 'offline_used'>,
  allowance: OfflineAllowance,
  now_ms: number,
  image: string,
): { reason: ViewReason; message: string } | null {
  const reach = 'reach the cloud (`cloudp2p peer sync` or sign in) to view it again';
  if (ledger.online_at_ms === null)
    return {
      reason: 'not_synced',
      message: `the cloud cannot be reached and this agent has no record of the cloud confirming your views of ${image}: it shows it only after it has reached the cloud once`,
    };
  const until = ledger.online_at_ms + allowance.window_ms;
  if (now_ms >= until || now_ms < ledger.online_at_ms)
    return {
      reason: 'not_synced',
      message: `the cloud cannot be reached, and offline views of ${image} were allowed only until ${new Date(until).toISOString()} (${describeWindow(allowance.window_ms)} after the cloud last confirmed your views); ${reach}`,
    };
  if (ledger.offline_used >= allowance.views)
    return {
      reason: 'offline_used',
      message:
        allowance.views === 0
          ? `the cloud cannot be reached and the owner allows no offline views of ${image}; ${reach}`
          : `the cloud cannot be reached and you used the ${count(allowance.views, 'offline view')} the owner allows between two contacts with the cloud; ${reach}`,
    };
  return null;
}
