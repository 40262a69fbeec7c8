/**
 * Bounded request-body readers: a body is refused (413) as soon as it is known to be too
 * long, and a JSON body must be an object with only the fields the route allows.
 */
import type { IncomingMessage } from 'node:http';
import { ExitCode } from '../util/errors.js';
import { ApiError } from './errors.js';

/** Largest JSON request body either accepts by default. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

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
