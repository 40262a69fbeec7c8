/**
 * A one-line live progress display for long CLI work (load runs, stress campaigns). On a
 * terminal it redraws one line in place; when stderr is not a terminal (CI logs, pipes) it
 * prints a plain line every `plainInterval_ms` instead, so logs stay readable.
 */
export interface ProgressOptions {
  /** Called for the text of the line; `fraction` in 0..1 draws the bar (null: no bar). */
  render(): { fraction: number | null; text: string };
  interval_ms?: number;
  plainInterval_ms?: number;
  stream?: NodeJS.WriteStream;
}

const BAR_WIDTH = 24;

export class ProgressLine {
  private timer: NodeJS.Timeout | null = null;
  private lastPlain_ms = 0;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;

  constructor(private readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
  }

  start(): this {
    this.timer = setInterval(() => this.draw(false), this.options.interval_ms ?? 250);
    this.timer.unref();
    return this;
  }

  /** Draws the final state and ends the line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.draw(true);
  }

  private draw(final: boolean): void {
    const { fraction, text } = this.options.render();
    const line = fraction === null ? text : `${bar(fraction)} ${text}`;
    if (this.tty) {
      this.stream.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
      return;
    }
    const now = Date.now();
    if (final || now - this.lastPlain_ms >= (this.options.plainInterval_ms ?? 5000)) {
      this.lastPlain_ms = now;
      this.stream.write(`${line}\n`);
    }
  }
}

export function bar(fraction: number): string {
  const clamped = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(clamped * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor(clamped * 100)).padStart(3)}%`;
}
