/**
 * Incremental frame decoder: feed it whatever byte chunks the socket delivers (split anywhere,
 * one byte at a time or many frames at once) and it yields complete frames in order.
 *
 * Limits are checked as soon as the 28-byte header is complete, so an oversize frame is refused
 * before its body is buffered, and garbage is refused from its first two bytes. After a fatal
 * FrameError the decoder stays failed: the stream has lost its framing and the connection must
 * be closed.
 */
import {
  DEFAULT_FRAME_LIMITS,
  FRAME_HEADER_SIZE_BYTES,
  FrameError,
  checkFrameLimits,
  checkMagic,
  parseHeader,
  type Frame,
  type FrameLimits,
  type ParsedHeader,
} from './frame.js';

export class FrameDecoder {
  private readonly limits: FrameLimits;
  /** Received chunks; `chunks[head]` is the oldest unconsumed one (an index, so consuming is O(1)). */
  private chunks: Uint8Array[] = [];
  private head = 0;
  private bufferedBytes = 0;
  private pendingHeader: ParsedHeader | null = null;
  private failure: FrameError | null = null;

  constructor(limits: FrameLimits = DEFAULT_FRAME_LIMITS) {
    this.limits = checkFrameLimits(limits);
  }

  /** Bytes received but not yet returned as part of a frame. */
  get buffered(): number {
    return this.bufferedBytes;
  }

  /** True when a frame has started but not finished. */
  get inFrame(): boolean {
    return this.bufferedBytes > 0 || this.pendingHeader !== null;
  }

  /**
   * Adds bytes and returns every frame now complete. Throws a fatal FrameError on garbage,
   * and keeps throwing it on later calls.
   */
  push(chunk: Uint8Array): Frame[] {
    if (this.failure) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.bufferedBytes += chunk.length;
    }
    const frames: Frame[] = [];
    try {
      for (let frame = this.nextFrame(); frame; frame = this.nextFrame()) frames.push(frame);
    } catch (err) {
      if (err instanceof FrameError) this.fail(err);
      throw err;
    }
    return frames;
  }

  /** Call when the stream ends: throws a FrameError if it ended in the middle of a frame. */
  end(): void {
    if (this.failure || !this.inFrame) return;
    const expected = FRAME_HEADER_SIZE_BYTES + (this.pendingHeader?.bodyLength ?? 0);
    const got = (this.pendingHeader ? FRAME_HEADER_SIZE_BYTES : 0) + this.bufferedBytes;
    const err = new FrameError(
      'truncated_frame',
      `stream ended inside a frame: got ${got} of ${this.pendingHeader ? expected : `at least ${expected}`} bytes`,
      true,
    );
    this.fail(err);
    throw err;
  }

  private fail(err: FrameError): void {
    this.failure = err;
    this.chunks = [];
    this.head = 0;
    this.bufferedBytes = 0;
    this.pendingHeader = null;
  }

  private nextFrame(): Frame | null {
    if (!this.pendingHeader) {
      if (this.bufferedBytes < FRAME_HEADER_SIZE_BYTES) {
        if (this.bufferedBytes > 0) checkMagic(this.peekByte(0), this.peekByte(1));
        return null;
      }
      this.pendingHeader = parseHeader(this.take(FRAME_HEADER_SIZE_BYTES), this.limits);
    }
    const header = this.pendingHeader;
    if (this.bufferedBytes < header.bodyLength) return null;
    const body = this.take(header.bodyLength);
    this.pendingHeader = null;
    return {
      version: header.version,
      type: header.type,
      clusterId: header.clusterId,
      requestId: header.requestId,
      epoch: header.epoch,
      meta: body.subarray(0, header.metaLength),
      binary: body.subarray(header.metaLength),
    };
  }

  private peekByte(offset: number): number | undefined {
    let remaining = offset;
    for (let i = this.head; i < this.chunks.length; i++) {
      const chunk = this.chunks[i] as Uint8Array;
      if (remaining < chunk.length) return chunk[remaining];
      remaining -= chunk.length;
    }
    return undefined;
  }

  /** Removes and returns exactly `count` bytes from the front, copying only when they span chunks. */
  private take(count: number): Uint8Array {
    this.bufferedBytes -= count;
    const first = this.chunks[this.head] as Uint8Array | undefined;
    let out: Uint8Array;
    if (first && first.length >= count) {
      out = first.subarray(0, count);
      this.consumeFromHead(count);
    } else {
      out = new Uint8Array(count);
      let filled = 0;
      while (filled < count) {
        const chunk = this.chunks[this.head] as Uint8Array;
        const used = Math.min(chunk.length, count - filled);
        out.set(chunk.subarray(0, used), filled);
        filled += used;
        this.consumeFromHead(used);
      }
    }
    this.compact();
    return out;
  }

  private consumeFromHead(count: number): void {
    const chunk = this.chunks[this.head] as Uint8Array;
    if (count === chunk.length) this.head++;
    else this.chunks[this.head] = chunk.subarray(count);
  }

  /** Drops consumed chunk slots once they dominate, keeping memory bounded. */
  private compact(): void {
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
