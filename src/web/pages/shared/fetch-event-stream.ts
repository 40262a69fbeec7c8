/**
 * Server-sent events read with fetch(), for streams that need a header (the peer API's token):
 * EventSource cannot send headers, and a token in the URL would end up in history and logs.
 * Parses the text/event-stream format (event:, data:, comments, blank line = dispatch); a
 * comment (the server's keep-alive) counts as activity.
 */

export interface FetchEventStreamHandlers {
  onOpen(): void;
  onEvent(name: string, data: string): void;
  /** A comment line arrived (keep-alive). */
  onActivity(): void;
  /** The stream failed or ended; not called after close(). */
  onError(detail: string): void;
}

/** Longest event we hold while it arrives (the agent's events are a few kilobytes). */
const MAX_EVENT_CHARS = 1024 * 1024;

export function openFetchEventStream(
  url: string,
  headers: Record<string, string>,
  handlers: FetchEventStreamHandlers,
): { close(): void } {
  const abort = new AbortController();
  let closed = false;
  const fail = (detail: string): void => {
    if (closed) return;
    closed = true;
    abort.abort();
    handlers.onError(detail);
  };
  void (async () => {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { ...headers, accept: 'text/event-stream' },
        cache: 'no-store',
        signal: abort.signal,
      });
    } catch {
      fail('the connection dropped');
      return;
    }
    if (!response.ok || !response.body) {
      fail(`the server answered ${response.status}`);
      return;
    }
    handlers.onOpen();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let name = 'message';
    let data: string[] = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        if (buffer.length > MAX_EVENT_CHARS) {
          fail('an event was too large');
          return;
        }
        let newline: number;
        while ((newline = buffer.search(/\r?\n/)) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(buffer[newline] === '\r' ? newline + 2 : newline + 1);
          if (closed) return;
          if (line === '') {
            if (data.length > 0) handlers.onEvent(name, data.join('\n'));
            name = 'message';
            data = [];
          } else if (line.startsWith(':')) {
            handlers.onActivity();
          } else {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') name = text;
            else if (field === 'data') data.push(text);
          }
        }
      }
      fail('the server closed the stream');
    } catch {
      fail('the connection dropped');
    }
  })();
  return {
    close: () => {
      closed = true;
      abort.abort();
    },
  };
}
