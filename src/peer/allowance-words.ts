/**
 * The offline allowance in words, one wording for the agent, the CLI and the web page (which
 * may import this file: it is pure and imports nothing; eslint.config.js SHARED_FILES).
 */
import type { OfflineAllowance } from './api-types.js';

export const HOUR_MS = 60 * 60 * 1000;

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** "24 hours", "1 hour", "90 minutes". */
export function describeWindow(window_ms: number): string {
  return window_ms % HOUR_MS === 0
    ? count(window_ms / HOUR_MS, 'hour')
    : count(Math.round(window_ms / 60_000), 'minute');
}

/** The allowance in words, as both sides see it. */
export function describeAllowance(allowance: OfflineAllowance): string {
  return allowance.views === 0
    ? 'no offline views'
    : `${count(allowance.views, 'offline view')} within ${describeWindow(allowance.window_ms)} of the last contact with the cloud`;
}
