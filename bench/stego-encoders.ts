/**
 * How the PNG encoder settings were chosen: every single filter x zlib setting on the same
 * 800x600 stego raster (synthetic photo + ~100 KB of payload bits), against zlib level 6
 * with libpng-style adaptive filtering. Run:
 *   node --import ./scripts/register-ts.mjs bench/stego-encoders.ts
 */
import { randomBytes } from 'node:crypto';
import { constants, deflateSync } from 'node:zlib';
import type { ZlibOptions } from 'node:zlib';
import sharp from 'sharp';
import { renderSyntheticPhoto } from '../scripts/synthetic-photo.js';

type FilterName = 'sub' | 'up' | 'avg' | 'paeth';
const FILTER_TYPES: Record<FilterName, number> = { sub: 1, up: 2, avg: 3, paeth: 4 };

function predict(type: number, a: number, b: number, c: number): number {
  if (type === 1) return a;
  if (type === 2) return b;
  if (type === 3) return (a + b) >> 1;
  if (type === 4) {
    const p = a + b - c;
    const pa = Math.abs(p - a);
    const pb = Math.abs(p - b);
    const pc = Math.abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  }
  return 0;
}

/** Filters every row with `type`, or (type -1) picks per row the minimum sum of |residual|. */
function filter(data: Uint8Array, width: number, height: number, type: number): Uint8Array {
  const stride = width * 3;
  const out = new Uint8Array(height * (stride + 1));
  const row = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    let bestSum = Infinity;
    for (const candidate of type < 0 ? [0, 1, 2, 3, 4] : [type]) {
      let sum = 0;
      for (let i = 0; i < stride; i++) {
        const a = i >= 3 ? (data[y * stride + i - 3] as number) : 0;
        const b = y > 0 ? (data[(y - 1) * stride + i] as number) : 0;
        const c = y > 0 && i >= 3 ? (data[(y - 1) * stride + i - 3] as number) : 0;
        const value = ((data[y * stride + i] as number) - predict(candidate, a, b, c)) & 0xff;
        row[i] = value;
        sum += value < 128 ? value : 256 - value;
      }
      if (sum < bestSum) {
        bestSum = sum;
        out[y * (stride + 1)] = candidate;
        out.set(row, y * (stride + 1) + 1);
      }
    }
  }
  return out;
}

function medianMs(runs: number, work: () => void): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    work();
    samples.push(performance.now() - started);
  }
  return samples.sort((a, b) => a - b)[Math.floor(runs / 2)] as number;
}

const width = 800;
const height = 600;
const stego = renderSyntheticPhoto({ width, height, seed: 1 }).data;
const payload = randomBytes(100_000);
for (let bit = 0; bit < payload.length * 8; bit++) {
  const value = ((payload[bit >> 3] as number) >> (7 - (bit & 7))) & 1;
  stego[bit] = ((stego[bit] as number) & 0xfe) | value;
}
const reference = deflateSync(filter(stego, width, height, -1), { level: 6 }).length;
console.log(`800x600 stego raster; zlib level 6 + adaptive filtering: ${reference} bytes`);
console.log(
  '| filter | zlib setting | filter ms (generic JS) | deflate ms | bytes | size / reference |',
);
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
const settings: [string, ZlibOptions][] = [
  ['level 1', { level: 1 }],
  ['level 6', { level: 6 }],
  ['level 1, Z_RLE', { level: 1, strategy: constants.Z_RLE }],
  ['Z_HUFFMAN_ONLY', { strategy: constants.Z_HUFFMAN_ONLY }],
];
for (const name of Object.keys(FILTER_TYPES) as FilterName[]) {
  const type = FILTER_TYPES[name];
  const filterMs = medianMs(5, () => filter(stego, width, height, type));
  const filtered = filter(stego, width, height, type);
  for (const [label, options] of settings) {
    const deflateMs = medianMs(7, () => deflateSync(filtered, options));
    const bytes = deflateSync(filtered, options).length;
    console.log(
      `| ${name} | ${label} | ${filterMs.toFixed(1)} | ${deflateMs.toFixed(1)} | ${bytes} | ${(bytes / reference).toFixed(3)} |`,
    );
  }
}
for (const [label, options] of [
  ['sharp level 6 adaptive', { compressionLevel: 6, adaptiveFiltering: true }],
  ['sharp level 6', { compressionLevel: 6 }],
  ['sharp level 1', { compressionLevel: 1 }],
] as const) {
  const samples: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    bytes = (
      await sharp(stego, { raw: { width, height, channels: 3 } })
        .png(options)
        .toBuffer()
    ).length;
    samples.push(performance.now() - started);
  }
  const ms = samples.sort((a, b) => a - b)[3] as number;
  console.log(
    `| ${label} | (libpng + zlib-ng) | | ${ms.toFixed(1)} | ${bytes} | ${(bytes / reference).toFixed(3)} |`,
  );
}
