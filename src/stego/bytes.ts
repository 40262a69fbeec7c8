/**
 * Big-endian byte writing and reading for the container format. The reader refuses to run past
 * the end of what it reads (a damaged length is a clear error, never an out-of-range read).
 */
import { corruptedPayload } from './errors.js';

export class ByteWriter {
  private buffer: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialCapacity: number) {
    this.buffer = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buffer.buffer);
  }
  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const grown = new Uint8Array(Math.max(this.buffer.length * 2, this.length + extra));
    grown.set(this.buffer.subarray(0, this.length));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }
  u8(value: number): void {
    this.reserve(1);
    this.view.setUint8(this.length, value);
    this.length += 1;
  }
  u16(value: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, value);
    this.length += 2;
  }
  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, value);
    this.length += 4;
  }
  bytes(value: Uint8Array): void {
    this.reserve(value.length);
    this.buffer.set(value, this.length);
    this.length += value.length;
  }
  shortAscii(value: string): void {
    this.u8(value.length);
    for (let i = 0; i < value.length; i++) this.u8(value.charCodeAt(i));
  }
  result(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

export class ByteReader {
  private readonly view: DataView;
  offset = 0;
  constructor(private readonly source: Uint8Array) {
    this.view = new DataView(source.buffer, source.byteOffset, source.length);
  }
  get remaining(): number {
    return this.source.length - this.offset;
  }
  private need(count: number, what: string): void {
    if (this.remaining < count) throw corruptedPayload(`${what} runs past the end of its section`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }
  u16(what: string): number {
    this.need(2, what);
    const value = this.view.getUint16(this.offset);
    this.offset += 2;
    return value;
  }
  u32(what: string): number {
    this.need(4, what);
    const value = this.view.getUint32(this.offset);
    this.offset += 4;
    return value;
  }
  bytes(count: number, what: string): Uint8Array {
    this.need(count, what);
    const value = this.source.subarray(this.offset, this.offset + count);
    this.offset += count;
    return value;
  }
  shortAscii(what: string): string {
    const length = this.u8(what);
    return String.fromCharCode(...this.bytes(length, what));
  }
}
