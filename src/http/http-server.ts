/**
 * A read-only HTTP port with exact-path routes: the cloud server's /healthz, /status (JSON),
 * /metrics (Prometheus text), and whatever extra routes the runtime adds (the dashboard and
 * its live event stream). It only answers GET and HEAD, so it needs no request bodies and no
 * authentication.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { sendText } from './respond.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export class HttpServer {
  private readonly server: Server;
  private readonly routes = new Map<string, RouteHandler>();

  constructor(private readonly onError: (err: unknown) => void = () => undefined) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.requestTimeout = 10_000;
    this.server.headersTimeout = 5_000;
    // Server-sent events keep connections open; the default keep-alive is fine for the rest.
  }

  route(path: string, handler: RouteHandler): this {
    this.routes.set(path, handler);
    return this;
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const hint =
          err.code === 'EADDRINUSE'
            ? ' (is another server already using it? set http_address)'
            : '';
        reject(new Error(`cannot listen for HTTP on ${host}:${port}: ${err.message}${hint}`));
      };
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', onError);
        const address = this.server.address();
        resolve({ host, port: typeof address === 'object' && address ? address.port : port });
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendText(res, 405, `method ${req.method} not allowed; this port only answers GET\n`, {
        allow: 'GET, HEAD',
      });
      return;
    }
    const handler = this.routes.get(path);
    if (!handler) {
      sendText(res, 404, `no such page: ${path}; try ${[...this.routes.keys()].join(', ')}\n`);
      return;
    }
    try {
      await handler(req, res);
    } catch (err) {
      this.onError(err);
      if (!res.headersSent) sendText(res, 500, 'internal error; see the server log\n');
      else res.destroy();
    }
  }
}
