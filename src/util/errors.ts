import { exitCodeOf, type ErrorCode } from './error-codes.js';
import type { ExitCodeValue } from './exit-codes.js';

/**
 * Errors that reach a user. Every error the program can explain carries a stable
 * machine-readable `code` (for scripts and the wire protocol) and the process exit
 * code the CLI uses for it, so callers never have to parse messages.
 */

export { ExitCode, type ExitCodeValue } from './exit-codes.js';

export class CloudP2PError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: ExitCodeValue;

  /** `code` must be in the registry (src/util/error-codes.ts), which gives the exit code. */
  constructor(
    code: ErrorCode,
    message: string,
    exitCode: ExitCodeValue = exitCodeOf(code),
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CloudP2PError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** A bad command-line argument or configuration value. */
export class UsageError extends CloudP2PError {
  constructor(message: string) {
    super('usage', message);
    this.name = 'UsageError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
