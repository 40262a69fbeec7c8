/**
 * HTTP errors as the peer agent's API (/api) and its page routes (/ui) answer them: an error
 * type that carries its status, the status of every other `CloudP2PError`, and one JSON shape
 * `{ "error": { "code", "message", "exit_code" } }`.
 */
import type { ServerResponse } from 'node:http';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import { sendJson } from './respond.js';

/** An error answered to the caller with a given HTTP status. */
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

/**
 * Answers `err` as `{ error: { code, message, exit_code } }`. An error that is not a
 * `CloudP2PError` is a bug: the caller learns only that the agent failed, and `onUnexpected`
 * (the log) gets the details. After the headers went out, the connection is cut instead.
 */
export function answerError(
  res: ServerResponse,
  err: unknown,
  onUnexpected: (err: unknown) => void = () => undefined,
): void {
  let status = 500;
  let body = {
    code: 'internal',
    message: 'the agent failed; see its log',
    exit_code: ExitCode.failure as number,
  };
  if (err instanceof CloudP2PError) {
    status = statusFor(err);
    body = { code: err.code, message: err.message, exit_code: err.exitCode };
  } else {
    onUnexpected(err);
  }
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: body });
}
