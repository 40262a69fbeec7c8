/**
 * One HTTP request with node:http, answer read whole and bounded: for short-lived CLI
 * processes talking to a local agent. Global `fetch` costs such a process about 0.25 s more
 * (loading undici, and its timers keep the process alive after the last answer; measured:
 * docs/RESULTS.md, "The wait before a command does anything"), so the CLI's agent client
 * uses this instead.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';

export interface HttpAnswer {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  body: Uint8Array;
}

export interface HttpRequestOptions {
  method: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** The whole exchange (connect, send, answer) must end within this. */
  timeout_ms: number;
  /** Answers longer than this are refused (declared or as they arrive). */
  maxBytes: number;
}

/** Why a request got no usable answer: unreachable, timed out, or an answer too large. */
export class HttpRequestError extends Error {
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'timeout' | 'too_large',
  ) {
    super(message);
    this.name = 'HttpRequestError';
  }
}

export function requestBytes(url: string, options: HttpRequestOptions): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: HttpRequestError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(error);
    };
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined)
      headers['content-length'] = String(Buffer.byteLength(options.body));
    // One request per connection: nothing is left open to keep a CLI process alive.
    headers.connection = 'close';
    const req = httpRequest(url, { method: options.method, headers }, (res) => {
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        fail(
          new HttpRequestError(
            `the answer is ${declared} bytes (limit ${options.maxBytes})`,
            'too_large',
          ),
        );
        return;
      }
      const chunks: Buffer[] = [];
      let length = 0;
      res.on('data', (chunk: Buffer) => {
        length += chunk.length;
        if (length > options.maxBytes) {
          fail(new HttpRequestError(`the answer is over ${options.maxBytes} bytes`, 'too_large'));
          return;
        }
        chunks.push(chunk);
      });
      res.on('error', (err) => fail(new HttpRequestError(err.message, 'unreachable')));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({
          status: res.statusCode ?? 0,
          statusText: res.statusMessage ?? '',
          headers: res.headers,
          body: new Uint8Array(Buffer.concat(chunks, length)),
        });
      });
    });
    const timer = setTimeout(
      () => fail(new HttpRequestError(`no answer within ${options.timeout_ms} ms`, 'timeout')),
      options.timeout_ms,
    );
    req.on('error', (err) => fail(new HttpRequestError(err.message, 'unreachable')));
    req.end(options.body);
  });
}
