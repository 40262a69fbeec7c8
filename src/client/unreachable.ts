/**
 * The words for "no cloud server can be reached": which addresses were tried, what each said,
 * and what to check. Shared by the cloud client (encrypt) and the directory client (peer).
 */
import { DialError } from '../transport/framed-connection.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';

export interface DialFailure {
  endpoint: string;
  error: unknown;
}

/** True when every failure is one known at once (refused, unknown host, unreachable). */
export function allImmediate(failures: readonly DialFailure[]): boolean {
  return (
    failures.length > 0 &&
    failures.every(({ error }) => error instanceof DialError && error.immediate)
  );
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
};

/** The error for a cloud none of whose servers accepts connections. */
export function cloudUnreachable(
  code: 'cloud_unreachable' | 'directory_unreachable',
  failures: readonly DialFailure[],
): CloudP2PError {
  const tried = failures
    .map(({ endpoint, error }) => {
      const code = error instanceof DialError ? error.code : undefined;
      return `${endpoint} (${(code && REASONS[code]) ?? 'cannot connect'})`;
    })
    .join(', ');
  return new CloudP2PError(
    code,
    `cannot reach the cloud: tried ${tried}. Check that the cloud is running ` +
      '(`cloudp2p start` runs the local one) and that these are its addresses ' +
      '(--servers, CLOUDP2P_SERVERS, or the ones saved at register)',
    ExitCode.unavailable,
  );
}
