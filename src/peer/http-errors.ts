/** Errors of the agent's local HTTP API (/api) and page routes (/ui), and their HTTP statuses. */
import { CloudP2PError, ExitCode } from '../util/errors.js';

/** An error answered to the API caller with a given HTTP status. */
export class ApiError extends CloudP2PError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    exitCode: number = ExitCode.usage,
  ) {
    super(code, message, exitCode as (typeof ExitCode)[keyof typeof ExitCode]);
  }
}

/** The HTTP status for an error the agent or the page routes report (shared by /api and /ui). */
export function statusFor(err: CloudP2PError): number {
  if (err instanceof ApiError) return err.status;
  if (err.code === 'not_found') return 404;
  if (err.code === 'conflict' || err.code === 'already_registered') return 409;
  switch (err.exitCode) {
    case ExitCode.usage:
    case ExitCode.badInput:
      return 400;
    case ExitCode.denied:
      return 403;
    case ExitCode.unavailable:
      return 503;
    case ExitCode.capacity:
    case ExitCode.corrupted:
    case ExitCode.noPayload:
      return 422;
    default:
      return 500;
  }
}
