/**
 * Regenerates the shipped images: the default cover (assets/cover.png) and the samples in
 * assets/samples/. Run: node --import ./scripts/register-ts.mjs scripts/generate-stego-assets.ts
 *
 * Everything is rendered procedurally (the cover: scripts/default-cover.ts; the samples, from
 * fixed seeds: scripts/synthetic-photo.ts), so the pixels are reproducible;
 * test/unit/stego/assets.test.ts checks the cover against them.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { encodePng } from '../src/stego/png-encode.js';
import { renderDefaultCover } from './default-cover.js';
import { renderSyntheticPhoto } from './synthetic-photo.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * 1280x960: 4:3 like most camera photos, and its LSBs hold 460,800 bytes, so typical
 * shared images (100-300 KB JPEGs) plus their rights fit without scaling the cover.
 * The picture (a padlock, flat and smooth so it compresses) is in ./default-cover.ts.
 */
export const COVER = { width: 1280, height: 960 } as const;

export function renderCover() {
  return renderDefaultCover(COVER);
}

async function write(relative: string, bytes: Uint8Array): Promise<void> {
  const path = join(root, relative);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  console.log(`${relative}: ${bytes.length} bytes`);
}

function rawInput(image: { width: number; height: number; channels: 3 | 4; data: Uint8Array }) {
  return sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels },
  });
}

async function main(): Promise<void> {
  await write('assets/cover.png', encodePng(renderCover()));
  const photo = renderSyntheticPhoto({ width: 1024, height: 768, seed: 2 });
  await write('assets/samples/photo.jpg', await rawInput(photo).jpeg({ quality: 93 }).toBuffer());
  const small = renderSyntheticPhoto({ width: 320, height: 240, seed: 3 });
  await write('assets/samples/small.png', encodePng(small));
  const alpha = renderSyntheticPhoto({ width: 256, height: 192, seed: 4, channels: 4 });
  await write(
    'assets/samples/alpha.png',
    await rawInput(alpha).png({ compressionLevel: 9 }).toBuffer(),
  );
  const grey = renderSyntheticPhoto({ width: 320, height: 240, seed: 5 });
  await write(
    'assets/samples/grey.png',
    await rawInput(grey).toColourspace('b-w').png({ compressionLevel: 9 }).toBuffer(),
  );
  const palette = renderSyntheticPhoto({ width: 320, height: 240, seed: 6, noiseSigma: 0 });
  await write(
    'assets/samples/palette.png',
    await rawInput(palette).png({ palette: true, colours: 64, compressionLevel: 9 }).toBuffer(),
  );
  const deep = renderSyntheticPhoto({ width: 160, height: 120, seed: 7 });
  await write(
    'assets/samples/deep16.png',
    await rawInput(deep).toColourspace('rgb16').png({ compressionLevel: 9 }).toBuffer(),
  );
  const interlaced = renderSyntheticPhoto({ width: 256, height: 192, seed: 8 });
  await write(
    'assets/samples/interlaced.png',
    await rawInput(interlaced).png({ progressive: true, compressionLevel: 9 }).toBuffer(),
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
