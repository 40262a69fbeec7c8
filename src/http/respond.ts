/**
 * Answers with a whole body: text, JSON or bytes. Every answer is `no-store` (it describes
 * live state) and `nosniff` (the declared type is the only one a browser may assume).
 */
import type { ServerResponse } from 'node:http';

const COMMON_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

export function sendText(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...COMMON_HEADERS,
    ...headers,
  });
  res.end(body);
}

/** `indent` pretty-prints for people reading it with curl (the server's /status). */
export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  options: { indent?: number } = {},
): void {
  const body = `${JSON.stringify(value, null, options.indent)}\n`;
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...COMMON_HEADERS,
  });
  res.end(body);
}

export function sendBytes(
  res: ServerResponse,
  mediaType: string,
  bytes: Uint8Array,
  status = 200,
): void {
  res.writeHead(status, {
    'content-type': mediaType,
    'content-length': bytes.length,
    ...COMMON_HEADERS,
  });
  res.end(bytes);
}
