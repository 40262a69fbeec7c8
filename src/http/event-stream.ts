/**
 * Server-sent events (text/event-stream) for the web pages' live updates: a bounded set of
 * stream clients, one serialisation per broadcast, keep-alive comments, a slow-reader limit
 * and a clean close. Used by the cloud dashboard (src/server/dashboard.ts) and the peer
 * agent's API (`/api/events`, src/peer/api-server.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface EventStreamOptions {
  /** Most clients at once; one more gets 503 and tries again after `retry_ms`. */
  max_clients: number;
  /** A comment line this often keeps idle proxies and browsers from closing the stream. */
  heartbeat_interval_ms: number;
  /** Sent as `retry:`: how long a browser waits before it reconnects. */
  retry_ms: number;
  /** A client whose unsent data grows past this is too slow to follow: it is dropped. */
  max_buffered_bytes: number;
}

export const DEFAULT_EVENT_STREAM_OPTIONS: EventStreamOptions = {
  max_clients: 32,
  heartbeat_interval_ms: 15_000,
  retry_ms: 2_000,
  max_buffered_bytes: 1024 * 1024,
};

const EVENT_NAME = /^[a-z][a-z0-9-]{0,31}$/;

/** One `event:`/`data:` block; JSON.stringify never emits a raw newline, so one data line. */
export function formatEvent(event: string, data: unknown): string {
  if (!EVENT_NAME.test(event))
    throw new RangeError(`event name ${JSON.stringify(event)} must match ${EVENT_NAME}`);
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class EventStreamClient {
  private open = true;

  constructor(
    private readonly res: ServerResponse,
    private readonly max_buffered_bytes: number,
    private readonly onClosed: (client: EventStreamClient) => void,
  ) {}

  get isOpen(): boolean {
    return this.open;
  }

  /** Sends one event; false if the client is gone (or was just dropped as too slow). */
  send(event: string, data: unknown): boolean {
    return this.write(formatEvent(event, data));
  }

  /** Writes an already formatted block (see {@link formatEvent}). */
  write(text: string): boolean {
    if (!this.open) return false;
    if (this.res.destroyed || this.res.writableEnded) {
      this.closed(); // the socket went away; its 'close' event has not arrived yet
      return false;
    }
    this.res.write(text);
    if (this.res.writableLength > this.max_buffered_bytes) {
      // It stopped reading (a frozen tab, a dead link): better a reconnect than unbounded memory.
      this.res.destroy();
      this.closed();
      return false;
    }
    return true;
  }

  /** Ends the stream after `text` (e.g. a goodbye event). */
  end(text = ''): void {
    if (!this.open) return;
    this.res.end(text);
    this.closed();
  }

  /** Called when the connection closes from either side. */
  closed(): void {
    if (!this.open) return;
    this.open = false;
    this.onClosed(this);
  }
}

export class EventStreamHub {
  private readonly clients = new Set<EventStreamClient>();
  private heartbeat: NodeJS.Timeout | null = null;
  private closing = false;
  readonly options: EventStreamOptions;

  constructor(
    options: Partial<EventStreamOptions> = {},
    private readonly hooks: { onFirstClient?: () => void; onLastClientGone?: () => void } = {},
  ) {
    this.options = { ...DEFAULT_EVENT_STREAM_OPTIONS, ...options };
    const { max_clients, heartbeat_interval_ms, retry_ms, max_buffered_bytes } = this.options;
    for (const [name, value] of Object.entries({
      max_clients,
      heartbeat_interval_ms,
      retry_ms,
      max_buffered_bytes,
    })) {
      if (!Number.isInteger(value) || value < 1)
        throw new RangeError(
          `event stream option ${name} must be a positive integer, not ${value}`,
        );
    }
  }

  get size(): number {
    return this.clients.size;
  }

  /**
   * Turns a request into a stream client and returns it, or answers 503 (full or closing) or
   * a header-only 200 (HEAD) and returns null.
   */
  accept(req: IncomingMessage, res: ServerResponse): EventStreamClient | null {
    if (this.closing || this.clients.size >= this.options.max_clients) {
      const why = this.closing
        ? 'the server is shutting down'
        : `too many live viewers (at most ${this.options.max_clients})`;
      res.writeHead(503, {
        'content-type': 'text/plain; charset=utf-8',
        'cache-control': 'no-store',
        'retry-after': String(Math.ceil(this.options.retry_ms / 1000)),
      });
      res.end(`${why}; try again shortly\n`);
      return null;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      // Reverse proxies such as nginx would otherwise buffer the stream.
      'x-accel-buffering': 'no',
    });
    if (req.method === 'HEAD') {
      res.end();
      return null;
    }
    res.socket?.setNoDelay(true);
    const client = new EventStreamClient(res, this.options.max_buffered_bytes, (gone) =>
      this.forget(gone),
    );
    res.on('close', () => client.closed());
    this.clients.add(client);
    client.write(`retry: ${this.options.retry_ms}\n\n`);
    if (this.clients.size === 1) {
      this.startHeartbeat();
      this.hooks.onFirstClient?.();
    }
    return client;
  }

  /** Sends one event to every client; serialises it once. */
  broadcast(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const text = formatEvent(event, data);
    for (const client of [...this.clients]) client.write(text);
  }

  /** Says goodbye to every client with `event`, ends their streams and refuses new ones. */
  close(event?: { name: string; data: unknown }): void {
    this.closing = true;
    const text = event ? formatEvent(event.name, event.data) : '';
    for (const client of [...this.clients]) client.end(text);
    this.stopHeartbeat();
  }

  private forget(client: EventStreamClient): void {
    if (!this.clients.delete(client)) return;
    if (this.clients.size === 0) {
      this.stopHeartbeat();
      this.hooks.onLastClientGone?.();
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      for (const client of [...this.clients]) client.write(': keep-alive\n\n');
    }, this.options.heartbeat_interval_ms);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}
