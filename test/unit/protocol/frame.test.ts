import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  FRAME_HEADER_SIZE_BYTES,
  FrameError,
  encodeFrame,
  type Frame,
} from '../../../src/protocol/frame.js';
import { FrameDecoder } from '../../../src/protocol/frame-decoder.js';

const utf8 = new TextEncoder();

function sampleFrames(): Uint8Array[] {
  const binary = new Uint8Array(300);
  for (let i = 0; i < binary.length; i++) binary[i] = (i * 31) & 0xff;
  return [
    encodeFrame({ type: 4, clusterId: 7, requestId: 1, epoch: 0 }, utf8.encode('{"a":1}')),
    encodeFrame(
      { type: 9, clusterId: 7, requestId: 0xffff_ffff, epoch: 2 ** 40 + 5 },
      utf8.encode('{}'),
      binary,
    ),
    encodeFrame(
      { type: 255, clusterId: 0, requestId: 3, epoch: Number.MAX_SAFE_INTEGER },
      new Uint8Array(0),
    ),
  ];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function summarize(frame: Frame): unknown {
  return { ...frame, meta: Array.from(frame.meta), binary: Array.from(frame.binary) };
}

describe('FrameDecoder', () => {
  const frames = sampleFrames();
  const stream = concat(frames);
  const expected = (() => new FrameDecoder().push(stream).map(summarize))();

  it('decodes what encodeFrame wrote, header fields intact', () => {
    expect(expected).toHaveLength(3);
    expect(expected[1]).toMatchObject({
      type: 9,
      clusterId: 7,
      requestId: 0xffff_ffff,
      epoch: 2 ** 40 + 5,
      version: 1,
    });
    expect((expected[1] as { binary: number[] }).binary).toHaveLength(300);
    expect(expected[2]).toMatchObject({ epoch: Number.MAX_SAFE_INTEGER, meta: [], binary: [] });
  });

  it('yields the same frames whatever single byte position the input is split at', () => {
    for (let split = 0; split <= stream.length; split++) {
      const decoder = new FrameDecoder();
      const got = [
        ...decoder.push(stream.subarray(0, split)),
        ...decoder.push(stream.subarray(split)),
      ];
      expect(got.map(summarize)).toEqual(expected);
      expect(decoder.inFrame).toBe(false);
    }
  });

  it('yields the same frames when fed one byte at a time', () => {
    const decoder = new FrameDecoder();
    const got: Frame[] = [];
    for (let i = 0; i < stream.length; i++) got.push(...decoder.push(stream.subarray(i, i + 1)));
    expect(got.map(summarize)).toEqual(expected);
  });

  it('yields the same frames under random chunking (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 20 }),
        (cuts) => {
          const points = [...new Set(cuts)].sort((a, b) => a - b);
          const decoder = new FrameDecoder();
          const got: Frame[] = [];
          let start = 0;
          for (const point of [...points, stream.length]) {
            got.push(...decoder.push(stream.subarray(start, point)));
            start = point;
          }
          expect(got.map(summarize)).toEqual(expected);
        },
      ),
    );
  });

  it('refuses garbage from its first bytes with a fatal bad_magic error', () => {
    const decoder = new FrameDecoder();
    expect(() => decoder.push(utf8.encode('GET / HTTP/1.1\r\n'))).toThrow(/not a cloudp2p frame/);
    // The decoder stays failed: framing is lost.
    expect(() => decoder.push(frames[0] as Uint8Array)).toThrow(FrameError);
  });

  it('never crashes, hangs or returns frames from random garbage (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (garbage) => {
        const decoder = new FrameDecoder({ maxBodyBytes: 1024, maxMetaBytes: 512 });
        try {
          const got = decoder.push(garbage);
          // Garbage that happens to parse must still be a well-formed frame of bounded size.
          for (const frame of got)
            expect(frame.meta.length + frame.binary.length).toBeLessThanOrEqual(1024);
        } catch (err) {
          expect(err).toBeInstanceOf(FrameError);
          expect((err as FrameError).fatal).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses an oversize frame from its header, before buffering the body', () => {
    const decoder = new FrameDecoder({ maxBodyBytes: 100, maxMetaBytes: 50 });
    const big = encodeFrame(
      { type: 1, clusterId: 1, requestId: 1, epoch: 1 },
      utf8.encode('{}'),
      new Uint8Array(101),
    );
    expect(() => decoder.push(big.subarray(0, FRAME_HEADER_SIZE_BYTES))).toThrow(
      /exceeds the limit of 100 bytes/,
    );
  });

  it('refuses metadata longer than its limit or than the body', () => {
    const meta = utf8.encode(JSON.stringify({ pad: 'x'.repeat(80) }));
    const frame = encodeFrame({ type: 1, clusterId: 1, requestId: 1, epoch: 1 }, meta);
    expect(() => new FrameDecoder({ maxBodyBytes: 1000, maxMetaBytes: 50 }).push(frame)).toThrow(
      /metadata of \d+ bytes/,
    );
    const lying = frame.slice();
    new DataView(lying.buffer).setUint32(24, meta.length + 1);
    expect(() => new FrameDecoder().push(lying)).toThrow(/exceeds the frame body length/);
  });

  it('refuses an unknown protocol version', () => {
    const frame = (frames[0] as Uint8Array).slice();
    frame[2] = 9;
    expect(() => new FrameDecoder().push(frame)).toThrow(/unsupported protocol version 9/);
  });

  it('reports a stream that ends inside a frame as truncated', () => {
    const decoder = new FrameDecoder();
    decoder.push((frames[1] as Uint8Array).subarray(0, 40));
    expect(() => decoder.end()).toThrow(/stream ended inside a frame: got 40 of 330 bytes/);
    const clean = new FrameDecoder();
    clean.push(frames[0] as Uint8Array);
    expect(() => clean.end()).not.toThrow();
  });

  it('rejects unrepresentable header values when encoding', () => {
    const meta = utf8.encode('{}');
    expect(() => encodeFrame({ type: 256, clusterId: 1, requestId: 1, epoch: 1 }, meta)).toThrow(
      RangeError,
    );
    expect(() => encodeFrame({ type: 1, clusterId: -1, requestId: 1, epoch: 1 }, meta)).toThrow(
      RangeError,
    );
    expect(() =>
      encodeFrame({ type: 1, clusterId: 1, requestId: 1, epoch: 2 ** 53 }, meta),
    ).toThrow(RangeError);
  });

  it('handles a 5 MB frame pushed in 64 KiB chunks without quadratic copying', () => {
    const binary = new Uint8Array(5 * 1024 * 1024).fill(7);
    const frame = encodeFrame(
      { type: 2, clusterId: 1, requestId: 1, epoch: 1 },
      utf8.encode('{}'),
      binary,
    );
    const decoder = new FrameDecoder();
    const got: Frame[] = [];
    for (let i = 0; i < frame.length; i += 65536)
      got.push(...decoder.push(frame.subarray(i, i + 65536)));
    expect(got).toHaveLength(1);
    expect(got[0]?.binary.length).toBe(binary.length);
    expect(got[0]?.binary.every((b) => b === 7)).toBe(true);
  });
});
