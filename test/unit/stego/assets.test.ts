import { readdir, readFile, stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { decodeCover } from '../../../src/stego/index.js';
import { packagePath } from '../../../src/util/package-info.js';
import { COVER, renderCover } from '../../../scripts/generate-stego-assets.js';

describe('shipped assets', () => {
  it('the default cover is exactly what scripts/generate-stego-assets.ts renders', async () => {
    const decoded = await decodeCover(await readFile(packagePath('assets', 'cover.png')));
    expect(decoded).toMatchObject({ width: COVER.width, height: COVER.height, channels: 3 });
    expect(Buffer.from(decoded.data).equals(Buffer.from(renderCover().data))).toBe(true);
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
