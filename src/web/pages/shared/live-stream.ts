/**
 * A server-sent-events connection that never gives up and says how it is doing. The browser's
 * EventSource retries some failures on its own but stops for good after an HTTP error, and it
 * cannot notice a server that is paused (the socket stays open, nothing arrives). So: every
 * failure closes the EventSource and a new one opens after a growing delay, and a watchdog
 * treats "nothing for a while" as a failure too. With `headers` (the peer API's token), the
 * stream is read with fetch() instead: EventSource cannot send headers.
 */
import { openFetchEventStream } from './fetch-event-stream.js';

export type StreamState =
  /** First connection attempt, nothing received yet. */
  | 'connecting'
  /** Data arrives. */
  | 'live'
  /** The connection dropped or went quiet; retrying. */
  | 'lost'
  /** The server said goodbye (clean shutdown); retrying in case it comes back. */
  | 'ended';

export interface StreamStatus {
  state: StreamState;
  /** Date.now() when this state began. */
  since_ms: number;
  /** Failed attempts since the stream was last live. */
  attempts: number;
  /** Milliseconds until the next attempt (when not live). */
  retry_in_ms: number | null;
  /** Why, in words (the server's goodbye reason, "no data for 6 s", ...). */
  detail: string | null;
}

export interface LiveStreamOptions {
  url: string;
  /** Sent with the request (then fetch() reads the stream; EventSource cannot send headers). */
  headers?: Record<string, string>;
  /** Named events to listen for; their data must be JSON. */
  events: readonly string[];
  onEvent: (name: string, data: unknown) => void;
  onStatus: (status: StreamStatus) => void;
  /** No event for this long while live (or no answer while connecting) counts as lost. */
  quiet_limit_ms?: number;
  first_retry_ms?: number;
  max_retry_ms?: number;
}

export class LiveStream {
  private source: { close(): void } | null = null;
  private status: StreamStatus = {
    state: 'connecting',
    since_ms: Date.now(),
    attempts: 0,
    retry_in_ms: null,
    detail: null,
  };
  private lastActivity_ms = Date.now();
  private retryTimer: number | null = null;
  private watchdog: number | null = null;
  private stopped = false;
  private readonly quiet_limit_ms: number;
  private readonly first_retry_ms: number;
  private readonly max_retry_ms: number;

  constructor(private readonly options: LiveStreamOptions) {
    this.quiet_limit_ms = options.quiet_limit_ms ?? 5000;
    this.first_retry_ms = options.first_retry_ms ?? 1000;
    this.max_retry_ms = options.max_retry_ms ?? 8000;
  }

  start(): void {
    this.stopped = false;
    this.open();
    this.watchdog = window.setInterval(() => this.checkQuiet(), 500);
  }

  stop(): void {
    this.stopped = true;
    this.closeSource();
    if (this.retryTimer !== null) window.clearTimeout(this.retryTimer);
    if (this.watchdog !== null) window.clearInterval(this.watchdog);
    this.retryTimer = null;
    this.watchdog = null;
  }

  /** Reconnects now instead of waiting for the next attempt (the "retry now" button). */
  retryNow(): void {
    if (this.status.state === 'live' || this.stopped) return;
    if (this.retryTimer !== null) window.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.open();
  }

  private open(): void {
    this.closeSource();
    this.lastActivity_ms = Date.now();
    if (this.options.headers) this.openWithFetch(this.options.headers);
    else this.openEventSource();
  }

  private openEventSource(): void {
    const source = new EventSource(this.options.url);
    this.source = source;
    source.onopen = () => this.alive();
    source.onerror = () => {
      if (this.source !== source) return;
      this.failed(this.status.state === 'ended' ? this.status.detail : 'the connection dropped');
    };
    for (const name of this.options.events) {
      source.addEventListener(name, (message) => {
        if (this.source !== source) return;
        this.received(name, (message as MessageEvent<string>).data);
      });
    }
  }

  private openWithFetch(headers: Record<string, string>): void {
    const source = openFetchEventStream(this.options.url, headers, {
      onOpen: () => {
        if (this.source === source) this.alive();
      },
      onActivity: () => {
        if (this.source === source) this.alive();
      },
      onEvent: (name, data) => {
        if (this.source === source && this.options.events.includes(name)) this.received(name, data);
      },
      onError: (detail) => {
        if (this.source !== source) return;
        this.failed(this.status.state === 'ended' ? this.status.detail : detail);
      },
    });
    this.source = source;
  }

  private received(name: string, text: string): void {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return; // a garbled event is skipped; the next snapshot repairs the view
    }
    if (name === 'bye') this.ended(data);
    else this.alive();
    this.options.onEvent(name, data);
  }

  private alive(): void {
    this.lastActivity_ms = Date.now();
    if (this.status.state !== 'live')
      this.setStatus({ state: 'live', attempts: 0, retry_in_ms: null, detail: null });
  }

  private ended(data: unknown): void {
    const reason =
      typeof data === 'object' &&
      data !== null &&
      typeof (data as { reason?: unknown }).reason === 'string'
        ? (data as { reason: string }).reason
        : 'the server closed the stream';
    this.setStatus({ state: 'ended', attempts: 0, retry_in_ms: null, detail: reason });
  }

  private failed(detail: string | null): void {
    this.closeSource();
    if (this.stopped) return;
    const attempts = this.status.attempts + 1;
    const delay = Math.min(this.max_retry_ms, this.first_retry_ms * 1.5 ** (attempts - 1));
    this.setStatus({
      state: this.status.state === 'ended' ? 'ended' : 'lost',
      attempts,
      retry_in_ms: Math.round(delay),
      detail,
    });
    if (this.retryTimer !== null) window.clearTimeout(this.retryTimer);
    this.retryTimer = window.setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  private checkQuiet(): void {
    if (!this.source || this.stopped) return;
    const quiet_ms = Date.now() - this.lastActivity_ms;
    if (quiet_ms > this.quiet_limit_ms)
      this.failed(
        this.status.state === 'live'
          ? `no data for ${Math.round(quiet_ms / 1000)} s (server paused or overloaded?)`
          : 'no answer',
      );
  }

  private closeSource(): void {
    if (!this.source) return;
    const source = this.source;
    this.source = null;
    if (source instanceof EventSource) {
      source.onopen = null;
      source.onerror = null;
    }
    source.close();
  }

  private setStatus(change: Omit<StreamStatus, 'since_ms'>): void {
    const since_ms = change.state === this.status.state ? this.status.since_ms : Date.now();
    this.status = { ...change, since_ms };
    this.options.onStatus(this.status);
  }
}
