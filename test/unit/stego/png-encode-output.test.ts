import { describe, expect, it } from 'vitest';
import { encodePng } from '../../../src/stego/index.js';
import type { Raster } from '../../../src/stego/index.js';

function raster(seed: number): Raster {
  const data = new Uint8Array(64 * 48 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 7) & 0xff;
  return { width: 64, height: 48, channels: 3, data };
}

describe('encodePng into a recycled buffer', () => {
  it('writes the same bytes into a large enough spare buffer, as a view on it', () => {
    const fresh = encodePng(raster(1));
    const spare = new ArrayBuffer(fresh.length + 1000);
    new Uint8Array(spare).fill(0xee); // stale content must not leak into the result
    const reused = encodePng(raster(1), undefined, spare);
    expect(reused.buffer).toBe(spare);
    expect(Buffer.from(reused).equals(Buffer.from(fresh))).toBe(true);
  });

  it('allocates a new buffer when the spare one is too small', () => {
    const fresh = encodePng(raster(2));
    const small = new ArrayBuffer(16);
    const result = encodePng(raster(2), undefined, small);
    expect(result.buffer).not.toBe(small);
    expect(Buffer.from(result).equals(Buffer.from(fresh))).toBe(true);
  });
});
