/**
 * What the agent's local HTTP API (/api) and its page routes (/ui) share: the error type that
 * carries an HTTP status, the status of every other error, and bounded request-body readers.
 */
import type { IncomingMessage } from 'node:http';
import { CloudP2PError, ExitCode } from '../util/errors.js';

/** Largest JSON request body either accepts by default. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

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

/** Reads a body of at most `maxBytes`, refusing longer ones before reading them all. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.reject(
      new ApiError(
        413,
        'body_too_large',
        `the body is ${declared} bytes; at most ${maxBytes} are accepted`,
        ExitCode.badInput,
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(
          new ApiError(
            413,
            'body_too_large',
            `the body is over ${maxBytes} bytes`,
            ExitCode.badInput,
          ),
        );
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on('error', reject);
  });
}

/** A JSON object body with only `allowed` keys (an empty body counts as {} when `optional`). */
export async function readJson(
  req: IncomingMessage,
  allowed: string[],
  optional = false,
  maxBytes = MAX_JSON_BODY_BYTES,
): Promise<Record<string, unknown>> {
  const bytes = await readBody(req, maxBytes);
  if (bytes.length === 0 && optional) return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    throw new ApiError(
      415,
      'unsupported_media_type',
      'send a JSON body with content-type application/json',
    );
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new ApiError(400, 'bad_json', 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ApiError(400, 'bad_json', 'the body must be a JSON object');
  for (const key of Object.keys(value))
    if (!allowed.includes(key))
      throw new ApiError(
        400,
        'invalid_argument',
        `unknown field ${JSON.stringify(key.slice(0, 40))}; allowed: ${allowed.join(', ') || 'none'}`,
      );
  return value as Record<string, unknown>;
}
