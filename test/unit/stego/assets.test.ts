import { readdir, readFile, stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { decodeCover } from '../../../src/stego/index.js';
import { scaleRaster } from '../../../src/stego/raster.js';
import { packagePath } from '../../../src/util/package-info.js';
import { COVER, renderCover } from '../../../scripts/generate-stego-assets.js';

describe('shipped assets', () => {
  it('the default cover is exactly what scripts/generate-stego-assets.ts renders', async () => {
    const decoded = await decodeCover(await readFile(packagePath('assets', 'cover.png')));
    expect(decoded).toMatchObject({ width: COVER.width, height: COVER.height, channels: 3 });
    expect(Buffer.from(decoded.data).equals(Buffer.from(renderCover().data))).toBe(true);
  });

  it('the default cover compresses: flat shapes, no noise (results stay about as large as what they hide)', async () => {
    // The previous, photo-like default was 1.41 MB; a noise-free picture is well under 0.2 MB.
    expect((await stat(packagePath('assets', 'cover.png'))).size).toBeLessThan(200 * 1024);
  });

  it('the default cover (the default image viewers see) looks nothing like the sample photo', async () => {
    const thumbnail = async (...path: string[]) =>
      scaleRaster(await decodeCover(await readFile(packagePath(...path))), 32, 24);
    const cover = await thumbnail('assets', 'cover.png');
    const photo = await thumbnail('assets', 'samples', 'photo.jpg');
    let difference = 0;
    for (let i = 0; i < cover.data.length; i++)
      difference += Math.abs((cover.data[i] as number) - (photo.data[i] as number));
    // Mean difference per channel of 32x24 thumbnails, in 8-bit levels: the previous default
    // (a landscape like the photo) scored 13.6; a viewer could not tell the two apart.
    expect(difference / cover.data.length).toBeGreaterThan(40);
  });

  it('keeps all committed images under 3 MB', async () => {
    const files = [packagePath('assets', 'cover.png')];
    for (const name of await readdir(packagePath('assets', 'samples')))
      files.push(packagePath('assets', 'samples', name));
    let total = 0;
    for (const file of files) total += (await stat(file)).size;
    expect(total).toBeLessThan(3 * 1024 * 1024);
  });
});
