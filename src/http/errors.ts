/**
 * HTTP errors as the peer agent's API (/api) and its page routes (/ui) answer them: an error
 * type that carries its status, the status of every other `CloudP2PError`, and one JSON shape
 * `{ "error": { "code", "message", "exit_code" } }`.
 */
import type { ServerResponse } from 'node:http';
import { httpStatusOf, type ErrorCode } from '../util/error-codes.js';
import { CloudP2PError, ExitCode } from '../util/errors.js';
import { sendJson } from './respond.js';

/** An error answered to the caller with a given HTTP status. */
export class ApiError extends CloudP2PError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    exitCode: number = ExitCode.usage,
  ) {
    super(code, message, exitCode as (typeof ExitCode)[keyof typeof ExitCode]);
  }
}

/** The HTTP status for an error the agent or the page routes report: from the code registry. */
export function statusFor(err: CloudP2PError): number {
  return err instanceof ApiError ? err.status : httpStatusOf(err.code);
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
